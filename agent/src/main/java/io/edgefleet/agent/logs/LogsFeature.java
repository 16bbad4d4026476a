package io.edgefleet.agent.logs;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentFeature;
import io.edgefleet.agent.runtime.RuntimeUnavailableException;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.agent.runtime.WorkloadRuntime.LogQuery;
import io.edgefleet.agent.runtime.WorkloadRuntime.LogSink;
import io.edgefleet.agent.runtime.WorkloadRuntime.LogSource;
import io.edgefleet.agent.runtime.WorkloadRuntime.LogStream;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AgentMessage.LogLine;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.ControllerMessage;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Workload logs through the agent's own connection: answers {@link ControllerMessage.LogsRequest}
 * with {@link AgentMessage.LogLines} read from the workload runtime (Kubernetes pod logs; no port
 * is opened on the device), and keeps a bounded ring of recent lines per app so that the lines of
 * an outage can still be read when the runtime cannot be asked.
 *
 * <p>A request is answered with the last {@code tail} lines of all the app's containers merged by
 * time, then, with {@code follow}, new lines as they come (from new pods too) until {@link
 * ControllerMessage.LogsCancel} or until the connection drops. When the runtime cannot be asked,
 * the app has no pods, or none of its logs can be read, the answer comes from the ring, preceded by
 * a note saying so; a followed answer then goes on with the lines the ring collects.
 *
 * <p>Wire format: {@code LogLines(id, lines, done=false, error=null)} carries lines; {@code
 * LogLines(id, [], false, text)} is a note (the stream goes on); {@code done=true} ends the answer,
 * with {@code error} saying why it ended early, if it did. A followed answer always sends a first
 * message once its tail is read, even without lines, so the controller knows the stream is up.
 *
 * <p>Bandwidth: messages carry at most {@value #MAX_BATCH_LINES} lines and {@value
 * #MAX_BATCH_BYTES} bytes and all answers together are held to {@link Options#bytesPerSecond()}, so
 * heartbeats and reports never wait behind a log burst. A follower faster than that loses its
 * oldest queued lines beyond {@link Options#maxQueuedLines()}, and the reader is told how many.
 *
 * <p>The ring: while the agent runs, a background reader follows every container of every app the
 * agent runs (at most {@link Options#maxFollowers()} at once) and keeps per app the last {@link
 * Options#ringLines()} lines or {@link Options#ringBytes()} bytes, in memory. Readers that end (pod
 * gone, runtime unreachable) are started again on the next pass, every {@link
 * Options#collectEvery()}, resuming after the last line kept.
 *
 * <p>Its parts: each answer is a {@link LogAnswer} (its queue, notes and messages), {@link
 * LogShipper} sends them within the budget, {@link LogCollector} keeps the ring; this class takes
 * requests and reads the runtime for them.
 *
 * <p>Threading: thread-safe. Runtime calls run on virtual threads, sending on one scheduler thread;
 * the {@link AgentFeature} methods return at once.
 */
public final class LogsFeature implements AgentFeature {
  /** The most lines one request may ask for. */
  public static final int MAX_TAIL = 10_000;

  static final int MAX_BATCH_LINES = 200;
  static final int MAX_BATCH_BYTES = 32 * 1024;
  static final Pattern APP_NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");

  /**
   * Bounds of the feature.
   *
   * @param ringLines lines kept per app
   * @param ringBytes bytes (JSON size) kept per app
   * @param collectEvery how often ended ring readers, new pods and new apps are picked up; also how
   *     often a followed answer looks for new pods
   * @param maxFollowers ring readers open at once, over all apps
   * @param maxRequests answers served at once
   * @param bytesPerSecond the sending budget of all answers together
   * @param maxQueuedLines lines an answer may hold unsent beyond its tail before dropping the
   *     oldest
   * @param readTimeout how long the tail of a request may take to read
   */
  public record Options(
      int ringLines,
      int ringBytes,
      Duration collectEvery,
      int maxFollowers,
      int maxRequests,
      int bytesPerSecond,
      int maxQueuedLines,
      Duration readTimeout) {
    public Options {
      if (ringLines < 1
          || ringBytes < 1024
          || maxFollowers < 0
          || maxRequests < 1
          || bytesPerSecond < 1024
          || maxQueuedLines < 1) {
        throw new IllegalArgumentException(
            "log options out of range: ring of at least 1 line and 1 KiB, at least 1 request,"
                + " 1 KiB/s and 1 queued line");
      }
      if (!collectEvery.isPositive() || !readTimeout.isPositive()) {
        throw new IllegalArgumentException("log intervals must be positive");
      }
    }

    /**
     * 1,000 lines or 256 KiB per app, picked up every 10 s, 64 readers, 8 answers, 32 KiB/s, 5,000
     * queued lines, 20 s to read a tail.
     */
    public static Options defaults() {
      return new Options(
          1000, 256 * 1024, Duration.ofSeconds(10), 64, 8, 32 * 1024, 5000, Duration.ofSeconds(20));
    }

    public Options withRing(int lines, int bytes) {
      return new Options(
          lines,
          bytes,
          collectEvery,
          maxFollowers,
          maxRequests,
          bytesPerSecond,
          maxQueuedLines,
          readTimeout);
    }

    public Options withCollectEvery(Duration d) {
      return new Options(
          ringLines,
          ringBytes,
          d,
          maxFollowers,
          maxRequests,
          bytesPerSecond,
          maxQueuedLines,
          readTimeout);
    }

    public Options withBytesPerSecond(int n) {
      return new Options(
          ringLines,
          ringBytes,
          collectEvery,
          maxFollowers,
          maxRequests,
          n,
          maxQueuedLines,
          readTimeout);
    }

    public Options withMaxRequests(int n) {
      return new Options(
          ringLines,
          ringBytes,
          collectEvery,
          maxFollowers,
          n,
          bytesPerSecond,
          maxQueuedLines,
          readTimeout);
    }
  }

  private final WorkloadRuntime runtime;
  private final Clock clock;
  private final Options options;
  private final ScheduledExecutorService scheduler;
  private final ExecutorService workers = Executors.newVirtualThreadPerTaskExecutor();
  private final Map<String, LogAnswer> requests = new ConcurrentHashMap<>();
  private final LogCollector collector;
  private final LogShipper shipper;
  private volatile boolean closed;

  /**
   * Starts collecting the ring at once, and keeps collecting until {@link #close()}.
   *
   * @param apps the names of the apps the agent runs now
   */
  public LogsFeature(
      WorkloadRuntime runtime,
      Supplier<? extends Collection<String>> apps,
      Clock clock,
      Options options) {
    this.runtime = runtime;
    this.clock = clock;
    this.options = options;
    this.scheduler =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "edgefleet-logs");
              t.setDaemon(true);
              return t;
            });
    this.collector = new LogCollector(runtime, apps, options, workers);
    this.shipper = new LogShipper(scheduler, requests, options.bytesPerSecond());
    long every = options.collectEvery().toMillis();
    scheduler.scheduleWithFixedDelay(collector::collectSoon, 0, every, TimeUnit.MILLISECONDS);
  }

  /** The feature for {@code agent}, keeping the logs of the apps it reports. */
  public static LogsFeature forAgent(
      Agent agent, WorkloadRuntime runtime, Clock clock, Options options) {
    return new LogsFeature(
        runtime, () -> agent.apps().stream().map(AppState::name).toList(), clock, options);
  }

  // ---------------------------------------------------------------- AgentFeature

  @Override
  public void connected(Channel channel, ControllerMessage.Welcome welcome) {
    shipper.channel(channel);
  }

  /** Every answer ends: the controller that asked is gone with the connection. */
  @Override
  public void disconnected() {
    shipper.channel(null);
    for (LogAnswer r : List.copyOf(requests.values())) {
      requests.remove(r.id, r);
      r.cancel();
    }
  }

  @Override
  public boolean handle(ControllerMessage message) {
    switch (message) {
      case ControllerMessage.LogsRequest r -> {
        accept(r);
        return true;
      }
      case ControllerMessage.LogsCancel c -> {
        LogAnswer r = c.id() == null ? null : requests.remove(c.id());
        if (r != null) {
          r.cancel();
        }
        return true;
      }
      default -> {
        return false;
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    shipper.close();
    scheduler.shutdownNow();
    requests.values().forEach(LogAnswer::cancel);
    requests.clear();
    collector.close();
    workers.shutdownNow();
  }

  // ---------------------------------------------------------------- for people and tests

  /** Ids of the answers being served now. */
  public Set<String> activeRequests() {
    return Set.copyOf(requests.keySet());
  }

  /** How many lines of the app the ring holds. */
  public int keptLines(String app) {
    return collector.keptLines(app);
  }

  /** How many containers the ring is reading now. */
  public int followers() {
    return collector.followers();
  }

  // ---------------------------------------------------------------- requests

  private void accept(ControllerMessage.LogsRequest message) {
    String id = message.id();
    if (id == null || id.isEmpty() || id.length() > 100) {
      return; // no answer can be addressed
    }
    String app = message.app() == null ? "" : message.app();
    int tail = Math.clamp(message.tail(), 0, MAX_TAIL);
    LogAnswer r = new LogAnswer(id, app, tail, message.follow(), clock.instant(), options);
    LogAnswer previous = requests.put(id, r);
    if (previous != null) {
      previous.cancel();
    }
    if (!APP_NAME.matcher(app).matches()) {
      r.finish("invalid app name '" + app + "'");
    } else if (requests.size() > options.maxRequests()) {
      r.finish(
          "this device already serves "
              + options.maxRequests()
              + " log requests, the most it serves at once; try again later");
    } else {
      try {
        workers.execute(() -> serve(r));
      } catch (RejectedExecutionException e) {
        r.finish("the agent is stopping");
      }
    }
    wake();
  }

  /** Reads the tail, then follows; on a virtual thread. */
  private void serve(LogAnswer r) {
    List<LogSource> sources;
    try {
      sources = runtime.logSources(r.app);
    } catch (UnsupportedOperationException e) {
      fromRing(r, e.getMessage());
      return;
    } catch (RuntimeUnavailableException e) {
      fromRing(r, "the workload runtime cannot be asked (" + e.getMessage() + ")");
      return;
    } catch (RuntimeException e) {
      r.finish("cannot read the logs of app " + r.app + ": " + e.getMessage());
      wake();
      return;
    }
    if (sources.isEmpty()) {
      fromRing(r, "app " + r.app + " has no pods right now");
      return;
    }
    Map<LogSource, List<LogLine>> read = new HashMap<>();
    List<String> failures = new ArrayList<>();
    CountDownLatch done = new CountDownLatch(sources.size());
    List<LogStream> streams = new ArrayList<>();
    for (LogSource s : sources) {
      List<LogLine> lines = new ArrayList<>();
      read.put(s, lines);
      LogSink sink =
          new LogSink() {
            @Override
            public void line(Instant at, String line) {
              synchronized (lines) {
                lines.add(Follower.line(s, at, line));
              }
            }

            @Override
            public void completed() {
              done.countDown();
            }

            @Override
            public void failed(String reason) {
              synchronized (failures) {
                failures.add(reason);
              }
              done.countDown();
            }
          };
      try {
        streams.add(runtime.readLogs(s, new LogQuery(r.tail, false, Instant.EPOCH), sink));
      } catch (RuntimeException e) {
        sink.failed(
            "log of " + s.pod() + "/" + s.container() + " cannot be read: " + e.getMessage());
      }
    }
    r.onCancel(() -> streams.forEach(LogStream::close));
    boolean complete;
    try {
      complete = done.await(options.readTimeout().toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    streams.forEach(LogStream::close);
    if (r.cancelled()) {
      return;
    }
    List<String> problems;
    synchronized (failures) {
      problems = new ArrayList<>(failures);
    }
    if (!complete) {
      problems.add(
          "some logs did not arrive within "
              + options.readTimeout().toSeconds()
              + "s; shown as"
              + " far as they came");
    }
    if (problems.size() >= sources.size() && complete) {
      fromRing(r, "no log of app " + r.app + " can be read (" + problems.getFirst() + ")");
      return;
    }
    problems.forEach(r::note);
    List<LogLine> merged = new ArrayList<>();
    Map<String, Instant> last = new HashMap<>();
    for (LogSource s : sources) {
      List<LogLine> lines = read.get(s);
      synchronized (lines) {
        merged.addAll(lines);
        if (!lines.isEmpty()) {
          last.put(Follower.key(s), lines.getLast().at());
        }
      }
    }
    // Stable: lines of one container keep their order when timestamps tie.
    merged.sort(Comparator.comparing(LogLine::at));
    r.enqueueAll(merged.subList(Math.max(0, merged.size() - r.tail), merged.size()));
    if (!r.follow) {
      r.finish(null);
      wake();
      return;
    }
    r.lastAt.putAll(last);
    for (LogSource s : sources) {
      follow(r, s);
    }
    r.ready();
    long every = options.collectEvery().toMillis();
    try {
      ScheduledFuture<?> relist =
          scheduler.scheduleWithFixedDelay(
              () -> LogAnswer.runQuietly(() -> relist(r)), every, every, TimeUnit.MILLISECONDS);
      r.onCancel(() -> relist.cancel(false));
    } catch (RejectedExecutionException e) {
      // Closing.
    }
    wake();
  }

  /** Follows one container for a request, after the last line it sent of that container. */
  private void follow(LogAnswer r, LogSource s) {
    String key = Follower.key(s);
    Follower f = new Follower();
    if (r.cancelled() || r.streams.putIfAbsent(key, f) != null) {
      return;
    }
    r.onCancel(f::close);
    Instant last = r.lastAt.get(key);
    // Without a line of this container yet: what it wrote since the request came.
    LogQuery query =
        new LogQuery(options.maxQueuedLines(), true, last != null ? last : r.startedAt);
    LogSink sink =
        new LogSink() {
          @Override
          public void line(Instant at, String line) {
            Instant previous = r.lastAt.get(key);
            if (previous != null && !at.isAfter(previous)) {
              return; // sent already: the resumed read starts at a whole second
            }
            r.lastAt.put(key, at);
            r.enqueue(Follower.line(s, at, line));
            wake();
          }

          @Override
          public void completed() {
            r.streams.remove(key, f);
          }

          @Override
          public void failed(String reason) {
            r.streams.remove(key, f);
            r.noteOnce(reason);
            wake();
          }
        };
    try {
      f.attach(runtime.readLogs(s, query, sink));
    } catch (RuntimeException e) {
      r.streams.remove(key, f);
      r.noteOnce("log of " + s.pod() + "/" + s.container() + " cannot be read: " + e.getMessage());
      wake();
    }
  }

  /** Picks up new pods (and restarts ended readers) of a followed answer. */
  private void relist(LogAnswer r) {
    if (r.cancelled() || closed) {
      return;
    }
    workers.execute(
        () -> {
          List<LogSource> sources;
          try {
            sources = runtime.logSources(r.app);
          } catch (RuntimeException e) {
            r.noteOnce("cannot look for new pods of app " + r.app + ": " + e.getMessage());
            wake();
            return;
          }
          for (LogSource s : sources) {
            follow(r, s);
          }
        });
  }

  /** Answers from the ring, after a note saying why. */
  private void fromRing(LogAnswer r, String why) {
    LogRing ring = collector.ring(r.app);
    if (ring == null) {
      r.note(why + "; the agent has kept no lines of app " + r.app);
      r.finish(null);
      wake();
      return;
    }
    Consumer<LogLine> listener =
        line -> {
          r.enqueue(line);
          wake();
        };
    List<LogLine> kept = ring.tail(r.tail, r.follow ? listener : null);
    if (r.follow) {
      r.onCancel(() -> ring.unlisten(listener));
    }
    String shown =
        kept.isEmpty()
            ? "; the agent has kept no lines of app " + r.app
            : "; showing the last "
                + kept.size()
                + " line(s) the agent kept, up to "
                + kept.getLast().at();
    r.note(why + shown + (r.follow ? "; new lines follow as the agent collects them" : ""));
    r.enqueueAll(kept);
    if (r.follow) {
      r.ready();
    } else {
      r.finish(null);
    }
    wake();
  }

  private void wake() {
    shipper.wake();
  }
}
