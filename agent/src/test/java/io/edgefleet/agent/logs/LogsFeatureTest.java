package io.edgefleet.agent.logs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.NoRuntime;
import io.edgefleet.agent.runtime.RuntimeUnavailableException;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AgentMessage.LogLine;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.Json;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The feature against a scripted runtime: what it answers, in which messages, from where, and when
 * it stops reading.
 */
class LogsFeatureTest {
  private static final Instant T0 = Instant.parse("2025-06-01T12:00:00Z");
  private static final Duration WAIT = Duration.ofSeconds(10);

  private final ScriptedRuntime runtime = new ScriptedRuntime();
  private final List<AgentMessage.LogLines> sent = new CopyOnWriteArrayList<>();
  private final List<LogsFeature> features = new ArrayList<>();
  private volatile boolean linkUp = true;

  @AfterEach
  void close() {
    features.forEach(LogsFeature::close);
  }

  private LogsFeature feature(Set<String> apps, LogsFeature.Options options) {
    LogsFeature f = new LogsFeature(runtime, () -> apps, Clock.systemUTC(), options);
    features.add(f);
    f.connected(
        m -> {
          if (!linkUp) {
            return false;
          }
          sent.add((AgentMessage.LogLines) m);
          return true;
        },
        new ControllerMessage.Welcome("d-1", 30, 0));
    return f;
  }

  private LogsFeature feature() {
    return feature(Set.of(), LogsFeature.Options.defaults());
  }

  private static LogsFeature.Options fast() {
    return LogsFeature.Options.defaults()
        .withCollectEvery(Duration.ofMillis(50))
        .withBytesPerSecond(1024 * 1024);
  }

  private List<AgentMessage.LogLines> answers(String id) {
    return sent.stream().filter(m -> m.id().equals(id)).toList();
  }

  private List<LogLine> linesOf(String id) {
    return answers(id).stream().flatMap(m -> m.lines().stream()).toList();
  }

  private List<String> notesOf(String id) {
    return answers(id).stream()
        .filter(m -> !m.done() && m.error() != null)
        .map(AgentMessage.LogLines::error)
        .toList();
  }

  private AgentMessage.LogLines awaitDone(String id) {
    return await()
        .atMost(WAIT)
        .until(
            () -> answers(id).stream().filter(AgentMessage.LogLines::done).findFirst(),
            java.util.Optional::isPresent)
        .orElseThrow();
  }

  @Test
  void theTailMergesAllContainersByTimeAndEndsTheAnswer() {
    runtime.source("web-1", "web", line(1, "a1"), line(3, "a3"), line(5, "a5"));
    runtime.source("web-1", "sidecar", line(2, "s2"), line(6, "s6"));
    runtime.source("web-2", "web", line(4, "b4"));
    LogsFeature f = feature();

    f.handle(new ControllerMessage.LogsRequest("q1", "web", 4, false));

    AgentMessage.LogLines done = awaitDone("q1");
    assertThat(done.error()).isNull();
    assertThat(linesOf("q1"))
        .extracting(l -> l.pod() + "/" + l.container() + ":" + l.line())
        .containsExactly("web-1/web:a3", "web-2/web:b4", "web-1/web:a5", "web-1/sidecar:s6");
    assertThat(notesOf("q1")).isEmpty();
    await().atMost(WAIT).until(() -> f.activeRequests().isEmpty());
    assertThat(runtime.queries).allSatisfy(q -> assertThat(q.follow()).isFalse());
    assertThat(runtime.open()).isZero();
  }

  @Test
  void aLongTailTravelsInBoundedBatches() {
    String text = "x".repeat(300) + "\"quoted\" \u00e9t\u00e9 \t";
    List<LogLine> lines = new ArrayList<>();
    for (int i = 1; i <= 3000; i++) {
      lines.add(line(i, i + " " + text));
    }
    runtime.source("web-1", "web", lines.toArray(LogLine[]::new));
    feature(Set.of(), fast()).handle(new ControllerMessage.LogsRequest("q1", "web", 2500, false));

    awaitDone("q1");
    List<LogLine> got = linesOf("q1");
    assertThat(got).hasSize(2500);
    assertThat(got.getFirst().line()).startsWith("501 ");
    assertThat(got.getLast().line()).startsWith("3000 ");
    for (AgentMessage.LogLines m : answers("q1")) {
      assertThat(m.lines()).hasSizeLessThanOrEqualTo(200);
      assertThat(Json.writeBytes(m).length).isLessThanOrEqualTo(32 * 1024);
    }
    assertThat(answers("q1")).hasSizeGreaterThan(2500 / 200);
  }

  @Test
  void aFollowedAnswerSaysItIsUpSendsNewLinesAndStopsWhenCancelled() {
    ScriptedRuntime.Source src = runtime.source("web-1", "web", line(1, "old"));
    LogsFeature f = feature(Set.of(), fast());

    f.handle(new ControllerMessage.LogsRequest("q1", "web", 0, true));
    await().atMost(WAIT).until(() -> !answers("q1").isEmpty());
    assertThat(answers("q1").getFirst().lines()).isEmpty();
    assertThat(answers("q1").getFirst().done()).isFalse();
    await().atMost(WAIT).until(() -> src.followers.size() == 1);

    src.push(line(2, "new 1"));
    src.push(line(3, "new 2"));
    await().atMost(WAIT).until(() -> linesOf("q1").size() == 2);
    assertThat(linesOf("q1")).extracting(LogLine::line).containsExactly("new 1", "new 2");

    f.handle(new ControllerMessage.LogsCancel("q1"));
    assertThat(f.activeRequests()).isEmpty();
    await().atMost(WAIT).until(() -> runtime.open() == 0);
    src.push(line(4, "after cancel"));
    assertThat(linesOf("q1")).extracting(LogLine::line).containsExactly("new 1", "new 2");
    assertThat(answers("q1")).noneMatch(AgentMessage.LogLines::done);
  }

  @Test
  void aFollowedAnswerResumesAfterTheTailWithoutRepeatingIt() {
    ScriptedRuntime.Source src =
        runtime.source("web-1", "web", line(1, "one"), line(2, "two"), line(3, "three"));
    LogsFeature f = feature(Set.of(), fast());

    f.handle(new ControllerMessage.LogsRequest("q1", "web", 2, true));
    await().atMost(WAIT).until(() -> src.followers.size() == 1);
    // The follow read starts at the last line's second, so it sees that line again.
    assertThat(runtime.queries.getLast().since()).isEqualTo(T0.plusMillis(3));
    src.push(line(3, "three"));
    src.push(line(4, "four"));

    await().atMost(WAIT).until(() -> linesOf("q1").size() == 3);
    assertThat(linesOf("q1")).extracting(LogLine::line).containsExactly("two", "three", "four");
  }

  @Test
  void aFollowedAnswerPicksUpNewPods() {
    runtime.source("web-1", "web", line(1, "first pod"));
    LogsFeature f = feature(Set.of(), fast());
    f.handle(new ControllerMessage.LogsRequest("q1", "web", 5, true));
    await().atMost(WAIT).until(() -> linesOf("q1").size() == 1);

    ScriptedRuntime.Source second = runtime.source("web-2", "web");
    await().atMost(WAIT).until(() -> second.followers.size() == 1);
    second.push(line(7, "second pod"));

    await().atMost(WAIT).until(() -> linesOf("q1").size() == 2);
    assertThat(linesOf("q1").getLast().pod()).isEqualTo("web-2");
  }

  @Test
  void theRingAnswersWithANoteWhenTheRuntimeCannotBeAsked() {
    ScriptedRuntime.Source src = runtime.source("web-1", "web");
    LogsFeature f = feature(Set.of("web"), fast());
    await().atMost(WAIT).until(() -> src.followers.size() == 1);
    for (int i = 1; i <= 6; i++) {
      src.push(line(i, "kept " + i));
    }
    await().atMost(WAIT).until(() -> f.keptLines("web") == 6);

    runtime.unavailable = true;
    src.fail("API server unreachable");
    f.handle(new ControllerMessage.LogsRequest("q1", "web", 4, false));

    AgentMessage.LogLines done = awaitDone("q1");
    assertThat(done.error()).isNull();
    assertThat(notesOf("q1"))
        .singleElement()
        .asString()
        .contains("the workload runtime cannot be asked")
        .contains("last 4 line(s) the agent kept");
    assertThat(linesOf("q1"))
        .extracting(LogLine::line)
        .containsExactly("kept 3", "kept 4", "kept 5", "kept 6");
  }

  @Test
  void theRingResumesAfterTheLastLineItKeptWhenTheRuntimeIsBack() {
    ScriptedRuntime.Source src = runtime.source("web-1", "web");
    LogsFeature f = feature(Set.of("web"), fast());
    await().atMost(WAIT).until(() -> src.followers.size() == 1);
    src.push(line(1, "a"));
    src.push(line(2, "b"));
    await().atMost(WAIT).until(() -> f.keptLines("web") == 2);

    src.fail("connection reset");
    // The next pass reads again from the last line's second, which repeats line 2.
    await().atMost(WAIT).until(() -> src.followers.size() == 1);
    assertThat(runtime.queries.getLast().since()).isEqualTo(T0.plusMillis(2));
    src.push(line(2, "b"));
    src.push(line(3, "c"));

    await().atMost(WAIT).until(() -> f.keptLines("web") == 3);
  }

  @Test
  void aFollowedAnswerFromTheRingGoesOnWithWhatTheRingCollects() {
    ScriptedRuntime.Source src = runtime.source("web-1", "web");
    LogsFeature f = feature(Set.of("web"), fast());
    await().atMost(WAIT).until(() -> src.followers.size() == 1);
    src.push(line(1, "before"));
    await().atMost(WAIT).until(() -> f.keptLines("web") == 1);
    runtime.unavailable = true;

    f.handle(new ControllerMessage.LogsRequest("q1", "web", 10, true));
    await().atMost(WAIT).until(() -> linesOf("q1").size() == 1);
    assertThat(notesOf("q1")).singleElement().asString().contains("new lines follow");

    src.push(line(2, "collected later"));
    await().atMost(WAIT).until(() -> linesOf("q1").size() == 2);
  }

  @Test
  void anAppWithoutPodsAndWithoutKeptLinesIsAnEmptyAnswerWithANote() {
    LogsFeature f = feature();
    f.handle(new ControllerMessage.LogsRequest("q1", "ghost", 10, false));

    AgentMessage.LogLines done = awaitDone("q1");
    assertThat(done.error()).isNull();
    assertThat(linesOf("q1")).isEmpty();
    assertThat(notesOf("q1"))
        .singleElement()
        .asString()
        .contains("app ghost has no pods right now")
        .contains("kept no lines");
  }

  @Test
  void aRuntimeWithoutLogsSaysSo() {
    LogsFeature f =
        new LogsFeature(
            new NoRuntime("test"), Set::of, Clock.systemUTC(), LogsFeature.Options.defaults());
    features.add(f);
    f.connected(
        m -> sent.add((AgentMessage.LogLines) m), new ControllerMessage.Welcome("d", 30, 0));
    f.handle(new ControllerMessage.LogsRequest("q1", "web", 10, false));

    awaitDone("q1");
    assertThat(notesOf("q1")).singleElement().asString().contains("keeps no logs");
  }

  @Test
  void tooManyAnswersAtOnceAreRefused() {
    runtime.source("web-1", "web");
    LogsFeature f = feature(Set.of(), fast().withMaxRequests(2));
    f.handle(new ControllerMessage.LogsRequest("q1", "web", 1, true));
    f.handle(new ControllerMessage.LogsRequest("q2", "web", 1, true));
    f.handle(new ControllerMessage.LogsRequest("q3", "web", 1, true));

    AgentMessage.LogLines refused = awaitDone("q3");
    assertThat(refused.error()).contains("already serves 2 log requests");
    await().atMost(WAIT).until(() -> f.activeRequests().equals(Set.of("q1", "q2")));
  }

  @Test
  void anInvalidAppNameIsRefused() {
    feature().handle(new ControllerMessage.LogsRequest("q1", "../etc", 1, false));

    assertThat(awaitDone("q1").error()).contains("invalid app name");
    assertThat(runtime.queries).isEmpty();
  }

  @Test
  void losingTheConnectionEndsEveryAnswer() {
    ScriptedRuntime.Source src = runtime.source("web-1", "web");
    LogsFeature f = feature(Set.of(), fast());
    f.handle(new ControllerMessage.LogsRequest("q1", "web", 1, true));
    await().atMost(WAIT).until(() -> src.followers.size() == 1);

    f.disconnected();

    assertThat(f.activeRequests()).isEmpty();
    await().atMost(WAIT).until(() -> src.followers.isEmpty());
  }

  @Test
  void aFollowerFasterThanTheBudgetLosesItsOldestLinesAndTheReaderIsTold() {
    ScriptedRuntime.Source src = runtime.source("web-1", "web");
    LogsFeature.Options slow =
        new LogsFeature.Options(
            1000, 256 * 1024, Duration.ofMillis(50), 64, 8, 64 * 1024, 10, Duration.ofSeconds(5));
    LogsFeature f = feature(Set.of(), slow);
    f.handle(new ControllerMessage.LogsRequest("q1", "web", 0, true));
    await().atMost(WAIT).until(() -> src.followers.size() == 1);

    String text = "y".repeat(500);
    for (int i = 1; i <= 2000; i++) {
      src.push(line(i, i + " " + text));
    }

    await()
        .atMost(WAIT)
        .until(() -> notesOf("q1").stream().anyMatch(n -> n.contains("line(s) dropped")));
    // Nothing is duplicated or reordered, and the newest line is among those kept.
    List<Integer> numbers =
        linesOf("q1").stream().map(l -> Integer.parseInt(l.line().split(" ")[0])).toList();
    assertThat(numbers).isSorted().doesNotHaveDuplicates();
    await()
        .atMost(WAIT)
        .until(() -> linesOf("q1").stream().anyMatch(l -> l.line().startsWith("2000 ")));
  }

  // ------------------------------------------------------------------ fixtures

  private static LogLine line(int millis, String text) {
    return new LogLine(T0.plusMillis(millis), "", "", text);
  }

  /** A runtime whose containers and lines the test decides. */
  static final class ScriptedRuntime implements WorkloadRuntime {
    final Map<String, Source> sources = new ConcurrentHashMap<>();
    final List<LogQuery> queries = new CopyOnWriteArrayList<>();
    volatile boolean unavailable;

    /** One container: its lines so far, and the sinks following it. */
    final class Source {
      final LogSource source;
      final List<LogLine> lines = new CopyOnWriteArrayList<>();
      final List<Stream> followers = new CopyOnWriteArrayList<>();

      Source(LogSource source) {
        this.source = source;
      }

      void push(LogLine l) {
        lines.add(l);
        for (Stream s : followers) {
          s.sink.line(l.at(), l.line());
        }
      }

      void fail(String reason) {
        for (Stream s : List.copyOf(followers)) {
          followers.remove(s);
          s.sink.failed(reason);
        }
      }
    }

    final class Stream implements LogStream {
      final Source source;
      final LogSink sink;

      Stream(Source source, LogSink sink) {
        this.source = source;
        this.sink = sink;
      }

      @Override
      public void close() {
        source.followers.remove(this);
      }
    }

    Source source(String pod, String container, LogLine... lines) {
      Source s = new Source(new LogSource("ns", pod, container));
      s.lines.addAll(List.of(lines));
      sources.put(pod + "/" + container, s);
      return s;
    }

    int open() {
      return sources.values().stream().mapToInt(s -> s.followers.size()).sum();
    }

    @Override
    public List<LogSource> logSources(String app) {
      if (unavailable) {
        throw new RuntimeUnavailableException(
            "list the pods of app " + app + ": connection refused", Duration.ofSeconds(1), null);
      }
      return sources.values().stream()
          .map(s -> s.source)
          .sorted(
              java.util.Comparator.comparing(LogSource::pod).thenComparing(LogSource::container))
          .collect(Collectors.toList());
    }

    @Override
    public LogStream readLogs(LogSource source, LogQuery query, LogSink sink) {
      queries.add(query);
      Source s = sources.get(source.pod() + "/" + source.container());
      if (unavailable) {
        sink.failed("connection refused");
        return () -> {};
      }
      List<LogLine> since = s.lines.stream().filter(l -> !l.at().isBefore(query.since())).toList();
      for (LogLine l : since.subList(Math.max(0, since.size() - query.tailLines()), since.size())) {
        sink.line(l.at(), l.line());
      }
      if (!query.follow()) {
        sink.completed();
        return () -> {};
      }
      Stream stream = new Stream(s, sink);
      s.followers.add(stream);
      return stream;
    }

    @Override
    public ApplyOutcome apply(String app, String revision, String manifestsYaml) {
      return new ApplyOutcome.InSync();
    }

    @Override
    public ApplyOutcome remove(String app) {
      return new ApplyOutcome.InSync();
    }

    @Override
    public AppHealth health(String app) {
      return new AppHealth(AppHealth.State.READY, "scripted");
    }

    @Override
    public Set<String> ownedApps() {
      return Set.of();
    }

    @Override
    public void close() {}
  }
}
