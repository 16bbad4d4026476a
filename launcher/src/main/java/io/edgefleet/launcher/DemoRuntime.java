package io.edgefleet.launcher;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The demo's stand-in for a workload runtime, for {@code edgefleet demo} only: it runs nothing. It
 * checks that an app's manifests are Kubernetes objects (each with {@code kind} and {@code
 * metadata.name}), records them, and reports the app READY, so that the demo can show an app
 * reaching a fleet, a rollout moving and an offline device converging on a machine without a
 * cluster. Every status it reports says it is the demo runtime. Real agents use the Kubernetes
 * runtime.
 *
 * <p>Its log is its own record, so that workload logs can be shown too: one "container" per app
 * ({@code demo/<app>/demo}) whose lines say what the runtime recorded, plus a status line every
 * {@link #STATUS_EVERY} while the app is recorded; each line starts with {@link #LABEL}. At most
 * {@link #LOG_LINES} lines are kept per app. Thread-safe.
 */
final class DemoRuntime implements WorkloadRuntime {
  /** What every status of this runtime starts with. */
  static final String LABEL = "demo runtime (nothing runs)";

  /** How often a recorded app's log gets a status line. */
  static final Duration STATUS_EVERY = Duration.ofSeconds(2);

  /** Log lines kept per app, the oldest dropped first. */
  static final int LOG_LINES = 500;

  private static final String NAMESPACE = "demo";
  private static final String CONTAINER = "demo";
  private static final YAMLMapper YAML = new YAMLMapper();

  private record Line(Instant at, String text) {}

  /** One daemon thread writes the status lines of every demo runtime in the JVM. */
  private static final ScheduledExecutorService TICKER =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "demo-runtime-log");
            t.setDaemon(true);
            return t;
          });

  private final Clock clock;
  private final Map<String, Deque<Line>> logs = new HashMap<>();
  private final Map<String, List<LogSink>> followers = new HashMap<>();
  private final ScheduledFuture<?> status;

  DemoRuntime() {
    this(Clock.systemUTC());
  }

  DemoRuntime(Clock clock) {
    this.clock = clock;
    long every = STATUS_EVERY.toMillis();
    this.status =
        TICKER.scheduleAtFixedRate(this::statusLines, every, every, TimeUnit.MILLISECONDS);
  }

  /** An app as last applied: its revision and its objects ({@code Kind/name}). */
  record Recorded(String revision, List<String> objects, String manifests) {}

  private final Map<String, Recorded> apps = new ConcurrentHashMap<>();

  @Override
  public ApplyOutcome apply(String app, String revision, String manifestsYaml) {
    List<String> objects;
    try {
      objects = objects(manifestsYaml);
    } catch (IOException | IllegalArgumentException e) {
      return new ApplyOutcome.Failed(LABEL + ": the manifests are not Kubernetes objects: " + e);
    }
    Recorded before = apps.get(app);
    if (before != null
        && before.revision().equals(revision)
        && before.manifests().equals(manifestsYaml)) {
      return new ApplyOutcome.InSync();
    }
    apps.put(app, new Recorded(revision, List.copyOf(objects), manifestsYaml));
    int pruned =
        before == null
            ? 0
            : (int) before.objects().stream().filter(o -> !objects.contains(o)).count();
    log(app, "recorded revision " + revision + ": " + String.join(", ", objects));
    return new ApplyOutcome.Applied(objects.size(), pruned);
  }

  @Override
  public ApplyOutcome remove(String app) {
    Recorded gone = apps.remove(app);
    if (gone != null) {
      log(app, "removed " + gone.objects().size() + " object(s)");
    }
    return gone == null
        ? new ApplyOutcome.InSync()
        : new ApplyOutcome.Applied(0, gone.objects().size());
  }

  @Override
  public AppHealth health(String app) {
    Recorded r = apps.get(app);
    if (r == null) {
      return new AppHealth(AppHealth.State.MISSING, LABEL + ": nothing recorded for " + app);
    }
    return new AppHealth(
        AppHealth.State.READY, LABEL + ": " + r.objects().size() + " object(s) recorded");
  }

  @Override
  public Set<String> ownedApps() {
    return Set.copyOf(apps.keySet());
  }

  /** What is recorded for an app, if anything (tests). */
  Recorded recorded(String app) {
    return apps.get(app);
  }

  @Override
  public List<LogSource> logSources(String app) {
    synchronized (logs) {
      return logs.containsKey(app) ? List.of(new LogSource(NAMESPACE, app, CONTAINER)) : List.of();
    }
  }

  @Override
  public LogStream readLogs(LogSource source, LogQuery query, LogSink sink) {
    String app = source.pod();
    synchronized (logs) {
      List<Line> since =
          logs.getOrDefault(app, new ArrayDeque<>()).stream()
              .filter(l -> !l.at().isBefore(query.since()))
              .toList();
      for (Line l : since.subList(Math.max(0, since.size() - query.tailLines()), since.size())) {
        sink.line(l.at(), l.text());
      }
      if (!query.follow()) {
        sink.completed();
        return () -> {};
      }
      followers.computeIfAbsent(app, a -> new CopyOnWriteArrayList<>()).add(sink);
    }
    return () -> {
      synchronized (logs) {
        List<LogSink> list = followers.get(app);
        if (list != null) {
          list.remove(sink);
        }
      }
    };
  }

  @Override
  public void close() {
    status.cancel(false);
    synchronized (logs) {
      followers.values().forEach(list -> list.forEach(LogSink::completed));
      followers.clear();
    }
  }

  /** A status line for every recorded app. */
  private void statusLines() {
    apps.forEach(
        (app, r) ->
            log(app, "revision " + r.revision() + " READY, " + r.objects().size() + " object(s)"));
  }

  private void log(String app, String text) {
    Line line = new Line(clock.instant(), LABEL + ": " + text);
    synchronized (logs) {
      Deque<Line> lines = logs.computeIfAbsent(app, a -> new ArrayDeque<>());
      lines.addLast(line);
      while (lines.size() > LOG_LINES) {
        lines.removeFirst();
      }
      for (LogSink sink : followers.getOrDefault(app, List.of())) {
        sink.line(line.at(), line.text());
      }
    }
  }

  /** {@code Kind/name} of every document; empty documents are skipped. */
  private static List<String> objects(String yaml) throws IOException {
    List<String> out = new ArrayList<>();
    try (MappingIterator<JsonNode> docs = YAML.readerFor(JsonNode.class).readValues(yaml)) {
      while (docs.hasNextValue()) {
        JsonNode doc = docs.nextValue();
        if (doc == null || doc.isNull() || doc.isEmpty()) {
          continue;
        }
        String kind = doc.path("kind").asText("");
        String name = doc.path("metadata").path("name").asText("");
        if (kind.isEmpty() || name.isEmpty()) {
          throw new IllegalArgumentException("a document has no kind or no metadata.name");
        }
        out.add(kind + "/" + name);
      }
    }
    return out;
  }
}
