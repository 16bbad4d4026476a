package io.edgefleet.controller.stream;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live streams of {@code GET /api/v1/stream}: one thread asks the {@link ChangeSource} what
 * changed, once per tick for all streams and only while one is open, and hands each change to the
 * streams that follow its topic. Streams are bounded in number and in what each may have waiting;
 * all end when the hub closes. Thread-safe.
 */
public final class StreamHub implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(StreamHub.class);

  /**
   * What the hub may spend.
   *
   * @param maxStreams streams open at once
   * @param queue messages one stream may have waiting before it counts as too slow
   * @param tick how often changes are looked for
   * @param ping how long a stream may stay silent before a comment keeps it alive
   */
  public record Limits(int maxStreams, int queue, Duration tick, Duration ping) {
    public Limits {
      if (maxStreams < 1 || queue < 1 || tick.isNegative() || tick.isZero() || ping.isZero()) {
        throw new IllegalArgumentException("stream limits must be positive");
      }
    }

    public static Limits defaults() {
      return new Limits(32, 512, Duration.ofSeconds(1), Duration.ofSeconds(15));
    }
  }

  private final ChangeSource source;
  private final Clock clock;
  private final Limits limits;
  private final Set<Subscription> open = ConcurrentHashMap.newKeySet();
  private final ScheduledExecutorService ticker;
  private final Object lock = new Object();
  private boolean baseline;
  private boolean closed;

  public StreamHub(ChangeSource source, Clock clock, Limits limits) {
    this.source = source;
    this.clock = clock;
    this.limits = limits;
    this.ticker =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "edgefleet-stream");
              t.setDaemon(true);
              return t;
            });
  }

  public Limits limits() {
    return limits;
  }

  /**
   * Starts looking for changes every tick, or, when a look takes longer than half a tick (a large
   * fleet), twice as long as the last look took after it ended: looking never takes more than a
   * third of a processor.
   */
  public void start() {
    schedule(limits.tick().toMillis());
  }

  private void schedule(long delayMillis) {
    try {
      ticker.schedule(this::tickAndReschedule, delayMillis, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      // closed
    }
  }

  private void tickAndReschedule() {
    long started = System.nanoTime();
    tick();
    long took = (System.nanoTime() - started) / 1_000_000;
    schedule(Math.max(limits.tick().toMillis(), 2 * took));
  }

  /**
   * Opens a stream: its first messages ({@code hello}, then the current summary) are already
   * queued.
   *
   * @throws ControllerException {@code TOO_MANY_STREAMS} when {@link Limits#maxStreams} are open,
   *     {@code UNAVAILABLE} once the controller is stopping
   */
  public Subscription open(Set<Topic> topics) {
    return open(topics, Optional.empty());
  }

  /**
   * Opens a stream as {@link #open(Set)} does, for a caller that sees only some devices.
   *
   * @param visible the devices (by tags) the caller sees; empty for the whole fleet
   */
  public Subscription open(Set<Topic> topics, Optional<Predicate<Map<String, String>>> visible) {
    synchronized (lock) {
      if (closed) {
        throw new ControllerException(ErrorCode.UNAVAILABLE, "the controller is stopping");
      }
      if (open.size() >= limits.maxStreams()) {
        throw new ControllerException(
            ErrorCode.TOO_MANY_STREAMS,
            limits.maxStreams()
                + " streams are open, as many as this controller serves at once; close one"
                + " (another browser tab?) or try again later");
      }
      Subscription s = new Subscription(topics, limits.queue(), open::remove, visible);
      Map<String, Object> hello = new LinkedHashMap<>();
      hello.put("serverTime", clock.instant().toString());
      hello.put(
          "topics",
          Arrays.stream(Topic.values()).filter(topics::contains).map(Topic::param).toList());
      s.deliver(new StreamMessage(null, "hello", null, Json.write(hello)));
      List<StreamMessage> current = source.current();
      baseline = true;
      current.forEach(s::deliver);
      open.add(s);
      return s;
    }
  }

  /** Streams open now. */
  public int openStreams() {
    return open.size();
  }

  /** One look for changes, handed to every open stream. */
  void tick() {
    try {
      synchronized (lock) {
        if (open.isEmpty()) {
          if (baseline) {
            source.reset();
            baseline = false;
          }
          return;
        }
        List<StreamMessage> changes = source.changes();
        baseline = true;
        for (StreamMessage m : changes) {
          for (Subscription s : open) {
            s.deliver(m);
          }
        }
      }
    } catch (RuntimeException e) {
      LOG.warn("looking for changes to stream failed; will retry: {}", e.toString());
    }
  }

  /** Ends every stream and stops looking for changes. */
  @Override
  public void close() {
    synchronized (lock) {
      closed = true;
    }
    ticker.shutdownNow();
    try {
      ticker.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (Subscription s : List.copyOf(open)) {
      s.end("the controller is stopping");
    }
  }
}
