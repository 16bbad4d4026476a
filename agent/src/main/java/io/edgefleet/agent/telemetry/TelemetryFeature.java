package io.edgefleet.agent.telemetry;

import io.edgefleet.agent.AgentFeature;
import io.edgefleet.agent.outbox.Outbox;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.CompactTelemetry;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.Telemetry;
import io.edgefleet.protocol.json.JsonCodec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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
 * second so that telemetry never crowds out control traffic on a slow link. Batches go in the
 * compact binary form ({@link CompactTelemetry}) when the controller lists it in {@code welcome}
 * and the connection carries binary messages, otherwise as JSON.
 *
 * <p>Sampling and window summaries go on while the agent is disconnected; they accumulate in the
 * outbox. Time for windows and events comes from the injected clock; the byte budget runs on {@code
 * nanoTime}.
 *
 * <p>Windows lie on a grid (boundaries at a fixed origin plus multiples of the window length) that
 * survives restarts. When the agent stops, {@link #close} summarises the window in progress as a
 * partial summary (its real start and the stop); after a restart sampling resumes at once, and the
 * first window runs from the restart to the next boundary of the grid that is at least half a
 * window away, so the series has a gap only for the time the agent was down. Every {@link
 * Options#checkpointEvery} samples the open window's summary is saved in memory ({@link
 * WindowCheckpoint}); after a crash of the agent it becomes a partial summary up to its last save.
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
   * @param checkpointEvery samples between saves of the open window (0: never; the window is then
   *     lost in a crash, and kept only by a graceful stop)
   * @param checkpointDir where open windows are saved; null: a private directory in memory ({@code
   *     /dev/shm}) when the machine has one, else nowhere
   * @param compact send batches in the compact form when the controller takes it
   */
  public record Options(
      Duration sampleEvery,
      Duration defaultWindow,
      int maxBatchRecords,
      int maxBatchBytes,
      long bytesPerSecond,
      Duration ackTimeout,
      int maxMetrics,
      int checkpointEvery,
      Path checkpointDir,
      boolean compact) {
    /** Samples between saves of the open window by default: one minute of 5 s samples. */
    public static final int CHECKPOINT_EVERY = 12;

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
      if (checkpointEvery < 0) {
        throw new IllegalArgumentException("checkpointEvery must not be negative");
      }
    }

    /** With open windows saved every minute in memory, and the compact form. */
    public Options(
        Duration sampleEvery,
        Duration defaultWindow,
        int maxBatchRecords,
        int maxBatchBytes,
        long bytesPerSecond,
        Duration ackTimeout,
        int maxMetrics) {
      this(
          sampleEvery,
          defaultWindow,
          maxBatchRecords,
          maxBatchBytes,
          bytesPerSecond,
          ackTimeout,
          maxMetrics,
          CHECKPOINT_EVERY,
          null,
          true);
    }

    /**
     * 5 s samples, 5-minute windows until the controller says otherwise, batches of 200 records or
     * 48 KiB, 16 KiB/s, 60 s ack timeout, the open window saved in memory every 12 samples, the
     * compact form.
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
          sampleEvery,
          d,
          maxBatchRecords,
          maxBatchBytes,
          bytesPerSecond,
          ackTimeout,
          maxMetrics,
          checkpointEvery,
          checkpointDir,
          compact);
    }

    public Options withSampleEvery(Duration d) {
      return new Options(
          d,
          defaultWindow,
          maxBatchRecords,
          maxBatchBytes,
          bytesPerSecond,
          ackTimeout,
          maxMetrics,
          checkpointEvery,
          checkpointDir,
          compact);
    }

    public Options withBytesPerSecond(long rate) {
      return new Options(
          sampleEvery,
          defaultWindow,
          maxBatchRecords,
          maxBatchBytes,
          rate,
          ackTimeout,
          maxMetrics,
          checkpointEvery,
          checkpointDir,
          compact);
    }

    public Options withBatch(int records, int bytes) {
      return new Options(
          sampleEvery,
          defaultWindow,
          records,
          bytes,
          bytesPerSecond,
          ackTimeout,
          maxMetrics,
          checkpointEvery,
          checkpointDir,
          compact);
    }

    /** Saves the open window every {@code samples} samples (0: never). */
    public Options withCheckpointEvery(int samples) {
      return new Options(
          sampleEvery,
          defaultWindow,
          maxBatchRecords,
          maxBatchBytes,
          bytesPerSecond,
          ackTimeout,
          maxMetrics,
          samples,
          checkpointDir,
          compact);
    }

    /** Saves open windows in {@code dir} (it must survive what a crash should survive). */
    public Options withCheckpointDir(Path dir) {
      return new Options(
          sampleEvery,
          defaultWindow,
          maxBatchRecords,
          maxBatchBytes,
          bytesPerSecond,
          ackTimeout,
          maxMetrics,
          checkpointEvery,
          dir,
          compact);
    }

    /** Whether batches go in the compact form when the controller takes it (else JSON only). */
    public Options withCompact(boolean on) {
      return new Options(
          sampleEvery,
          defaultWindow,
          maxBatchRecords,
          maxBatchBytes,
          bytesPerSecond,
          ackTimeout,
          maxMetrics,
          checkpointEvery,
          checkpointDir,
          on);
    }
  }

  /**
   * Counters for people and tests.
   *
   * @param partialSummaries windows cut short by a stop, and windows recovered after a crash
   * @param compactBatches batches sent in the compact form (the rest went as JSON)
   * @param bytesSent WebSocket payload bytes of the batches sent, in whichever form
   */
  public record Stats(
      long samples,
      long summaries,
      long partialSummaries,
      long events,
      long batchesSent,
      long compactBatches,
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
  private final AtomicLong partialSummaries = new AtomicLong();
  private final AtomicLong events = new AtomicLong();
  private final AtomicLong batchesSent = new AtomicLong();
  private final AtomicLong compactBatches = new AtomicLong();
  private final AtomicLong recordsSent = new AtomicLong();
  private final AtomicLong bytesSent = new AtomicLong();
  private final AtomicLong acks = new AtomicLong();
  private final AtomicLong resends = new AtomicLong();

  // Guarded by this.
  private final Window window = new Window();
  private final WindowCheckpoint checkpoint;
  // The directory in /dev/shm made for this outbox, removed again by a graceful stop.
  private final Path memoryDir;
  private Instant gridOrigin;
  private Instant windowStart;
  private Instant windowEnd;
  private Duration windowLength;
  private int sinceCheckpoint;
  private AgentFeature.Channel channel;
  private CompactTelemetry.Encoder encoder;
  private CompactTelemetry.Encoded frameInFlight;
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
    this.tokensAt = nanos.getAsLong();
    this.tokens = burst();
    Path openDir =
        options.checkpointEvery() == 0
            ? null
            : options.checkpointDir() != null
                ? SecureFiles.createPrivateDirectories(options.checkpointDir())
                : WindowCheckpoint.memoryDirFor(outbox.dir()).orElse(null);
    this.checkpoint = new WindowCheckpoint(outbox.dir(), openDir);
    this.memoryDir = options.checkpointDir() == null ? openDir : null;
    Instant now = clock.instant();
    resume(now);
    this.windowStart = now;
    this.windowEnd = plannedEnd(now);
  }

  /**
   * Takes over the grid of the windows before a restart (or starts one here) and, after a crash,
   * appends the window that was open as a partial summary up to its last save.
   */
  private void resume(Instant now) {
    Optional<WindowCheckpoint.Grid> grid = checkpoint.grid();
    gridOrigin = grid.map(WindowCheckpoint.Grid::origin).orElse(now);
    grid.ifPresent(g -> windowLength = Duration.ofSeconds(g.windowSeconds()));
    if (grid.isEmpty()) {
      saveGrid();
    }
    checkpoint
        .open()
        .ifPresent(
            w -> {
              try {
                outbox.appendMetrics(w.from(), w.at(), w.metrics(), true);
                outbox.sync();
                partialSummaries.incrementAndGet();
              } catch (RuntimeException e) {
                // Not storable (e.g. the disk is full): lost, as it would be without a save.
              }
            });
    clearOpenWindow();
  }

  /** The planned end of a window starting at {@code start}: a grid boundary half a window on. */
  private Instant plannedEnd(Instant start) {
    long length = windowLength.toMillis();
    long origin = gridOrigin.toEpochMilli();
    long k = Math.ceilDiv(start.toEpochMilli() + length / 2 - origin, length);
    return Instant.ofEpochMilli(origin + k * length);
  }

  private void saveGrid() {
    try {
      checkpoint.saveGrid(new WindowCheckpoint.Grid(gridOrigin, windowLength.toSeconds()));
    } catch (RuntimeException e) {
      // Without it a restart starts a new grid; nothing else depends on it.
    }
  }

  private void clearOpenWindow() {
    try {
      checkpoint.clearOpen();
    } catch (RuntimeException e) {
      // Left behind, a later start would append it again: a window twice, not a window lost.
    }
  }

  /**
   * Starts sampling on the scheduler (unless samples are taken by {@link #tick()} only): one sample
   * at once, then samples on the grid of the windows (its origin plus multiples of the sample
   * interval), so that a window's last sample falls on its boundary.
   */
  public synchronized void start() {
    if (sampling == null && !options.sampleEvery().isZero() && !closed) {
      long ms = options.sampleEvery().toMillis();
      scheduler.execute(this::tickQuietly);
      long sinceOrigin = clock.millis() - gridOrigin.toEpochMilli();
      long first = Math.floorMod(-sinceOrigin, ms);
      sampling =
          scheduler.scheduleAtFixedRate(
              this::tickQuietly, first == 0 ? ms : first, ms, TimeUnit.MILLISECONDS);
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
      if (!now.isBefore(windowEnd)) {
        if (!window.isEmpty()) {
          outbox.appendMetrics(windowStart, now, window.summary(options.maxMetrics()));
          summaries.incrementAndGet();
          appended = true;
        }
        window.reset();
        windowStart = now;
        windowEnd = plannedEnd(now);
        if (checkpoint.openSaved()) {
          // The saved window is in the outbox now; a crash must not append it again.
          clearOpenWindow();
        }
        sinceCheckpoint = 0;
      } else if (options.checkpointEvery() > 0
          && ++sinceCheckpoint >= options.checkpointEvery()
          && !window.isEmpty()) {
        sinceCheckpoint = 0;
        try {
          checkpoint.saveOpen(
              new WindowCheckpoint.Open(windowStart, now, window.summary(options.maxMetrics())));
        } catch (RuntimeException e) {
          // The next save tries again; only a crash before it would lose the samples.
        }
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
      if (welcome.telemetrySeconds() > 0
          && welcome.telemetrySeconds() != windowLength.toSeconds()) {
        // Takes effect for the window in progress: it closes on the grid of the new length.
        windowLength = Duration.ofSeconds(welcome.telemetrySeconds());
        windowEnd = plannedEnd(windowStart);
        saveGrid();
      }
      // Each connection starts with no metric names known on either side.
      encoder =
          options.compact()
                  && channel.binary()
                  && welcome.telemetryEncodings().contains(CompactTelemetry.ENCODING)
              ? new CompactTelemetry.Encoder()
              : null;
      frameInFlight = null;
      outbox.resetInFlight();
    }
    drain();
  }

  @Override
  public synchronized void disconnected() {
    channel = null;
    encoder = null;
    frameInFlight = null;
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
      if (encoder != null && frameInFlight != null) {
        encoder.acknowledged(frameInFlight);
      }
      frameInFlight = null;
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
      CompactTelemetry.Encoded frame = encoder == null ? null : encoder.encode(batch);
      long size;
      boolean sent;
      if (frame != null) {
        size = frame.bytes().length;
        tokens -= size;
        sent = channel.sendBinary(frame.bytes());
      } else {
        // JSON: the controller takes no compact form, or the batch holds what it cannot carry.
        AgentMessage.TelemetryBatch message = new AgentMessage.TelemetryBatch(batch);
        byte[] json = JsonCodec.writeBytes(message);
        size = json.length;
        tokens -= size;
        sent = channel.send(message);
      }
      if (!sent) {
        outbox.resetInFlight();
        return;
      }
      frameInFlight = frame;
      long number = ++batchNumber;
      batchesSent.incrementAndGet();
      if (frame != null) {
        compactBatches.incrementAndGet();
      }
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
      if (encoder != null) {
        // A frame refused as a whole bound no names: spell every name out again.
        encoder.forgetAcknowledged();
      }
      frameInFlight = null;
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
        partialSummaries.get(),
        events.get(),
        batchesSent.get(),
        compactBatches.get(),
        recordsSent.get(),
        bytesSent.get(),
        acks.get(),
        resends.get(),
        outbox.stats());
  }

  /**
   * Stops sampling and closes the outbox. The window in progress is summarised first, as a partial
   * summary from its start to now, so that a graceful stop (SIGTERM) loses no samples; the grid of
   * windows is kept for the next start.
   */
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
    if (!window.isEmpty()) {
      Instant now = clock.instant();
      try {
        outbox.appendMetrics(
            windowStart,
            now.isBefore(windowStart) ? windowStart : now,
            window.summary(options.maxMetrics()),
            true);
        summaries.incrementAndGet();
        partialSummaries.incrementAndGet();
      } catch (RuntimeException e) {
        // Not storable (a full disk): lost, as a crash would lose it.
      }
      window.reset();
    }
    clearOpenWindow();
    saveGrid();
    checkpoint.close();
    if (memoryDir != null) {
      try {
        Files.deleteIfExists(memoryDir);
      } catch (IOException e) {
        // Not empty or already gone: made again by the next start either way.
      }
    }
    outbox.close();
  }
}
