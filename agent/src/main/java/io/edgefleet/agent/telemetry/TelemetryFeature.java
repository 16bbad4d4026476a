package io.edgefleet.agent.telemetry;

import io.edgefleet.agent.AgentFeature;
import io.edgefleet.agent.outbox.Outbox;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.Telemetry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The agent's telemetry: samples the node and its workloads every few seconds, summarises each
 * window (the cadence the controller sets in {@code welcome}) into one {@link Telemetry.Metrics}
 * record, keeps device events, and puts both into the persistent {@link Outbox}, which it drains
 * over the agent's connection whenever there is one: events and loss records first, in small
 * batches, the next one only after the controller acknowledged the last, within a byte budget per
 * second so that telemetry never crowds out control traffic on a slow link.
 *
 * <p>Sampling and window summaries go on while the agent is disconnected; they accumulate in the
 * outbox. Time for windows and events comes from the injected clock; the byte budget runs on {@code
 * nanoTime}.
 *
 * <p>Thread-safe: called from the agent's scheduler, its socket threads and the sampling timer.
 * Owns the outbox and closes it.
 */
public final class TelemetryFeature implements AgentFeature {

  /**
   * How telemetry runs.
   *
   * @param sampleEvery time between samples; zero means samples are taken only by {@link #tick()}
   * @param defaultWindow window length until a controller says otherwise
   * @param maxBatchRecords records per batch at most
   * @param maxBatchBytes JSON bytes of records per batch at most (one record always goes)
   * @param bytesPerSecond the budget of telemetry bytes on the wire
   * @param ackTimeout a batch not acknowledged within this time is sent again
   * @param maxMetrics metrics per summary at most
   */
  public record Options(
      Duration sampleEvery,
      Duration defaultWindow,
      int maxBatchRecords,
      int maxBatchBytes,
      long bytesPerSecond,
      Duration ackTimeout,
      int maxMetrics) {
    public Options {
      if (sampleEvery.isNegative()) {
        throw new IllegalArgumentException("sampleEvery must not be negative");
      }
      if (defaultWindow.toSeconds() < 1) {
        throw new IllegalArgumentException("the telemetry window is at least 1s");
      }
      if (maxBatchRecords < 1 || maxBatchBytes < 1 || bytesPerSecond < 1) {
        throw new IllegalArgumentException("batch limits and the byte budget must be positive");
      }
    }

    /**
     * 5 s samples, 5-minute windows until the controller says otherwise, batches of 200 records or
     * 48 KiB, 16 KiB/s, 60 s ack timeout.
     */
    public static Options defaults() {
      return new Options(
          Duration.ofSeconds(5),
          Duration.ofMinutes(5),
          200,
          48 * 1024,
          16 * 1024,
          Duration.ofSeconds(60),
          300);
    }

    /** The window until the controller sets one in {@code welcome}. */
    public Options withDefaultWindow(Duration d) {
      return new Options(
          sampleEvery, d, maxBatchRecords, maxBatchBytes, bytesPerSecond, ackTimeout, maxMetrics);
    }

    public Options withSampleEvery(Duration d) {
      return new Options(
          d, defaultWindow, maxBatchRecords, maxBatchBytes, bytesPerSecond, ackTimeout, maxMetrics);
    }

    public Options withBytesPerSecond(long rate) {
      return new Options(
          sampleEvery, defaultWindow, maxBatchRecords, maxBatchBytes, rate, ackTimeout, maxMetrics);
    }

    public Options withBatch(int records, int bytes) {
      return new Options(
          sampleEvery, defaultWindow, records, bytes, bytesPerSecond, ackTimeout, maxMetrics);
    }
  }

  /** Counters for people and tests. */
  public record Stats(
      long samples,
      long summaries,
      long events,
      long batchesSent,
      long recordsSent,
      long bytesSent,
      long acks,
      long resends,
      Outbox.Stats outbox) {}

  private final Outbox outbox;
  private final Sampler sampler;
  private final Supplier<List<AppState>> apps;
  private final ScheduledExecutorService scheduler;
  private final Clock clock;
  private final Options options;
  private final LongSupplier nanos;

  private final AtomicLong samples = new AtomicLong();
  private final AtomicLong summaries = new AtomicLong();
  private final AtomicLong events = new AtomicLong();
  private final AtomicLong batchesSent = new AtomicLong();
  private final AtomicLong recordsSent = new AtomicLong();
  private final AtomicLong bytesSent = new AtomicLong();
  private final AtomicLong acks = new AtomicLong();
  private final AtomicLong resends = new AtomicLong();

  // Guarded by this.
  private final Window window = new Window();
  private Instant windowStart;
  private Duration windowLength;
  private AgentFeature.Channel channel;
  private long tokens;
  private long tokensAt;
  private long batchNumber;
  private ScheduledFuture<?> sampling;
  private ScheduledFuture<?> delayedDrain;
  private boolean closed;

  public TelemetryFeature(
      Outbox outbox,
      Sampler sampler,
      Supplier<List<AppState>> apps,
      ScheduledExecutorService scheduler,
      Clock clock,
      Options options) {
    this(outbox, sampler, apps, scheduler, clock, options, System::nanoTime);
  }

  TelemetryFeature(
      Outbox outbox,
      Sampler sampler,
      Supplier<List<AppState>> apps,
      ScheduledExecutorService scheduler,
      Clock clock,
      Options options,
      LongSupplier nanos) {
    this.outbox = outbox;
    this.sampler = sampler;
    this.apps = apps;
    this.scheduler = scheduler;
    this.clock = clock;
    this.options = options;
    this.nanos = nanos;
    this.windowLength = options.defaultWindow();
    this.windowStart = clock.instant();
    this.tokensAt = nanos.getAsLong();
    this.tokens = burst();
  }

  /** Starts sampling on the scheduler (unless samples are taken by {@link #tick()} only). */
  public synchronized void start() {
    if (sampling == null && !options.sampleEvery().isZero() && !closed) {
      long ms = options.sampleEvery().toMillis();
      sampling = scheduler.scheduleAtFixedRate(this::tickQuietly, 0, ms, TimeUnit.MILLISECONDS);
    }
  }

  private void tickQuietly() {
    try {
      tick();
    } catch (RuntimeException e) {
      // A failed sample or a full disk must not stop the timer; the next tick tries again.
    }
  }

  /**
   * Takes one sample of the node and the workloads and, when the window is over, appends its
   * summary to the outbox and drains.
   */
  public void tick() {
    Map<String, Double> sample = new LinkedHashMap<>(sampler.sample());
    for (AppState app : apps.get()) {
      if (app != null && app.name() != null && app.phase() != null) {
        sample.put(
            "app." + ProcParsers.safe(app.name()) + ".ready",
            app.phase() == AppState.Phase.READY ? 1.0 : 0.0);
      }
    }
    Instant now = clock.instant();
    boolean appended = false;
    synchronized (this) {
      if (closed) {
        return;
      }
      samples.incrementAndGet();
      window.add(sample);
      if (!now.isBefore(windowStart.plus(windowLength))) {
        if (!window.isEmpty()) {
          outbox.appendMetrics(windowStart, now, window.summary(options.maxMetrics()));
          summaries.incrementAndGet();
          appended = true;
        }
        window.reset();
        windowStart = now;
      }
    }
    if (appended) {
      drain();
    }
  }

  @Override
  public void connected(AgentFeature.Channel channel, ControllerMessage.Welcome welcome) {
    synchronized (this) {
      if (closed) {
        return;
      }
      this.channel = channel;
      if (welcome.telemetrySeconds() > 0) {
        // Takes effect for the window in progress: it closes at the new length.
        windowLength = Duration.ofSeconds(welcome.telemetrySeconds());
      }
      outbox.resetInFlight();
    }
    drain();
  }

  @Override
  public synchronized void disconnected() {
    channel = null;
    if (!closed) {
      outbox.resetInFlight();
    }
  }

  @Override
  public boolean handle(ControllerMessage message) {
    if (!(message instanceof ControllerMessage.TelemetryAck ack)) {
      return false;
    }
    synchronized (this) {
      if (closed) {
        return true;
      }
      acks.incrementAndGet();
      outbox.acked(ack.upTo());
    }
    scheduler.execute(this::drain);
    return true;
  }

  @Override
  public boolean event(String kind, String severity, String app, String message, Instant at) {
    synchronized (this) {
      if (closed) {
        return false;
      }
      try {
        outbox.appendEvent(kind, severity, app, message, at);
      } catch (RuntimeException e) {
        // The outbox cannot take it (disk full, I/O error): let the agent send it live instead.
        return false;
      }
      events.incrementAndGet();
    }
    scheduler.execute(this::drain);
    return true;
  }

  /** Sends the next batch if connected, nothing is in flight and the byte budget allows. */
  void drain() {
    synchronized (this) {
      if (closed || channel == null || outbox.inFlight()) {
        return;
      }
      long now = nanos.getAsLong();
      tokens =
          Math.min(burst(), tokens + (now - tokensAt) * options.bytesPerSecond() / 1_000_000_000L);
      tokensAt = now;
      if (tokens < 0) {
        long waitNanos = -tokens * 1_000_000_000L / options.bytesPerSecond() + 1;
        if (delayedDrain == null || delayedDrain.isDone()) {
          delayedDrain = scheduler.schedule(this::drain, waitNanos, TimeUnit.NANOSECONDS);
        }
        return;
      }
      List<Telemetry> batch = outbox.nextBatch(options.maxBatchRecords(), options.maxBatchBytes());
      if (batch.isEmpty()) {
        return;
      }
      AgentMessage.TelemetryBatch message = new AgentMessage.TelemetryBatch(batch);
      long size = Json.writeBytes(message).length;
      tokens -= size;
      if (!channel.send(message)) {
        outbox.resetInFlight();
        return;
      }
      long number = ++batchNumber;
      batchesSent.incrementAndGet();
      recordsSent.addAndGet(batch.size());
      bytesSent.addAndGet(size);
      scheduler.schedule(
          () -> ackOverdue(number), options.ackTimeout().toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  private void ackOverdue(long number) {
    synchronized (this) {
      if (closed || number != batchNumber || !outbox.inFlight()) {
        return;
      }
      // Lost on the way, or refused as a whole: the controller stores each seq once, so resend.
      resends.incrementAndGet();
      outbox.resetInFlight();
    }
    drain();
  }

  private long burst() {
    return Math.max(options.bytesPerSecond(), options.maxBatchBytes());
  }

  public Outbox outbox() {
    return outbox;
  }

  public Stats stats() {
    return new Stats(
        samples.get(),
        summaries.get(),
        events.get(),
        batchesSent.get(),
        recordsSent.get(),
        bytesSent.get(),
        acks.get(),
        resends.get(),
        outbox.stats());
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    channel = null;
    if (sampling != null) {
      sampling.cancel(false);
    }
    if (delayedDrain != null) {
      delayedDrain.cancel(false);
    }
    outbox.close();
  }
}
