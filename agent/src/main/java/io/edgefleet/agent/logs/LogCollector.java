package io.edgefleet.agent.logs;

import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.agent.runtime.WorkloadRuntime.LogQuery;
import io.edgefleet.agent.runtime.WorkloadRuntime.LogSink;
import io.edgefleet.agent.runtime.WorkloadRuntime.LogSource;
import java.time.Instant;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * The ring of recent lines: follows every container of every app the agent runs (at most {@link
 * LogsFeature.Options#maxFollowers()} at once) and keeps per app a bounded {@link LogRing}. Readers
 * that end are started again on the next pass, resuming after the last line kept. Thread-safe.
 */
final class LogCollector {
  private final WorkloadRuntime runtime;
  private final Supplier<? extends Collection<String>> apps;
  private final LogsFeature.Options options;
  private final ExecutorService workers;
  private final Map<String, AppLog> collected = new ConcurrentHashMap<>();
  private final AtomicBoolean collecting = new AtomicBoolean();
  private volatile boolean closed;

  LogCollector(
      WorkloadRuntime runtime,
      Supplier<? extends Collection<String>> apps,
      LogsFeature.Options options,
      ExecutorService workers) {
    this.runtime = runtime;
    this.apps = apps;
    this.options = options;
    this.workers = workers;
  }

  /** The ring of {@code app}, or null if none is kept. */
  LogRing ring(String app) {
    AppLog a = collected.get(app);
    return a == null ? null : a.ring;
  }

  /** How many lines of the app the ring holds. */
  int keptLines(String app) {
    AppLog a = collected.get(app);
    return a == null ? 0 : a.ring.size();
  }

  /** How many containers are being read now. */
  int followers() {
    int n = 0;
    for (AppLog a : collected.values()) {
      n += a.followers.size();
    }
    return n;
  }

  void close() {
    closed = true;
    collected.values().forEach(AppLog::close);
    collected.clear();
  }

  /** Starts a pass unless one runs. */
  void collectSoon() {
    if (closed || !collecting.compareAndSet(false, true)) {
      return;
    }
    try {
      workers.execute(
          () -> {
            try {
              collect();
            } finally {
              collecting.set(false);
            }
          });
    } catch (RejectedExecutionException e) {
      collecting.set(false);
    }
  }

  /** One pass: drop apps no longer run, (re)start readers of containers not being read. */
  private void collect() {
    Set<String> wanted = new TreeSet<>();
    for (String app : apps.get()) {
      if (app != null && LogsFeature.APP_NAME.matcher(app).matches()) {
        wanted.add(app);
      }
    }
    for (Map.Entry<String, AppLog> e : collected.entrySet()) {
      if (!wanted.contains(e.getKey()) && collected.remove(e.getKey(), e.getValue())) {
        e.getValue().close();
      }
    }
    for (String app : wanted) {
      if (closed) {
        return;
      }
      AppLog a =
          collected.computeIfAbsent(
              app, x -> new AppLog(new LogRing(options.ringLines(), options.ringBytes())));
      List<LogSource> sources;
      try {
        sources = runtime.logSources(app);
      } catch (UnsupportedOperationException e) {
        return; // this node's runtime keeps no logs: nothing to collect for any app
      } catch (RuntimeException e) {
        continue; // unreachable or refused: the ring keeps what it has; the next pass retries
      }
      Set<String> keys = new HashSet<>(a.followers.keySet());
      sources.forEach(s -> keys.add(Follower.key(s)));
      a.ring.retainSources(keys);
      for (LogSource s : sources) {
        if (followers() >= options.maxFollowers()) {
          return;
        }
        collect(a, s);
      }
    }
  }

  private void collect(AppLog a, LogSource s) {
    String key = Follower.key(s);
    Follower f = new Follower();
    if (a.followers.putIfAbsent(key, f) != null) {
      return;
    }
    // Resumes after the last line kept (whole seconds; the ring drops what it has).
    Instant since = a.ring.lastAt(s.pod(), s.container());
    LogSink sink =
        new LogSink() {
          @Override
          public void line(Instant at, String line) {
            a.ring.add(Follower.line(s, at, line));
          }

          @Override
          public void completed() {
            a.followers.remove(key, f);
          }

          @Override
          public void failed(String reason) {
            a.followers.remove(key, f);
          }
        };
    try {
      f.attach(runtime.readLogs(s, new LogQuery(options.ringLines(), true, since), sink));
    } catch (RuntimeException e) {
      a.followers.remove(key, f);
    }
  }

  /** The ring and the readers of one app. */
  record AppLog(LogRing ring, Map<String, Follower> followers) {
    AppLog(LogRing ring) {
      this(ring, new ConcurrentHashMap<>());
    }

    void close() {
      followers.values().forEach(Follower::close);
      followers.clear();
    }
  }
}
