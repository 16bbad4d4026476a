package io.edgefleet.launcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The demo runtime records apps, says what it is, and refuses what is not Kubernetes objects. */
class DemoRuntimeTest {
  static final String TWO =
      """
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: web}
      ---
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: web}
      """;
  static final String ONE =
      """
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: web}
      """;

  final DemoRuntime runtime = new DemoRuntime();

  @Test
  void anAppIsRecordedReportedReadyAndAppliedAgainInSync() {
    assertThat(runtime.health("web").state()).isEqualTo(AppHealth.State.MISSING);

    assertThat(runtime.apply("web", "1", TWO)).isEqualTo(new ApplyOutcome.Applied(2, 0));
    assertThat(runtime.apply("web", "1", TWO)).isEqualTo(new ApplyOutcome.InSync());
    assertThat(runtime.recorded("web").objects())
        .containsExactly("ConfigMap/web", "Deployment/web");
    AppHealth h = runtime.health("web");
    assertThat(h.state()).isEqualTo(AppHealth.State.READY);
    assertThat(h.reason()).startsWith(DemoRuntime.LABEL).contains("2 object(s)");
    assertThat(runtime.ownedApps()).containsExactly("web");
  }

  @Test
  void aNewRevisionReplacesTheObjectsAndRemovingForgetsThem() {
    runtime.apply("web", "1", TWO);

    assertThat(runtime.apply("web", "2", ONE)).isEqualTo(new ApplyOutcome.Applied(1, 1));
    assertThat(runtime.recorded("web").revision()).isEqualTo("2");
    assertThat(runtime.remove("web")).isEqualTo(new ApplyOutcome.Applied(0, 1));
    assertThat(runtime.remove("web")).isEqualTo(new ApplyOutcome.InSync());
    assertThat(runtime.ownedApps()).isEmpty();
  }

  @Test
  void whatIsNotKubernetesObjectsFailsAndKeepsWhatWasRecorded() {
    runtime.apply("web", "1", ONE);

    ApplyOutcome bad = runtime.apply("web", "2", "just: text\n");
    assertThat(bad).isInstanceOf(ApplyOutcome.Failed.class);
    assertThat(((ApplyOutcome.Failed) bad).reason())
        .startsWith(DemoRuntime.LABEL)
        .contains("no kind");
    assertThat(runtime.apply("web", "3", "a: [unclosed")).isInstanceOf(ApplyOutcome.Failed.class);
    assertThat(runtime.recorded("web").revision()).isEqualTo("1");
  }

  @Test
  void itsLogSaysWhatItRecordedAndAFollowerGetsStatusLines() {
    assertThat(runtime.logSources("web")).isEmpty();
    runtime.apply("web", "1", TWO);

    List<WorkloadRuntime.LogSource> sources = runtime.logSources("web");
    assertThat(sources).hasSize(1);
    List<String> tail = new CopyOnWriteArrayList<>();
    AtomicBoolean completed = new AtomicBoolean();
    runtime.readLogs(
        sources.get(0),
        new WorkloadRuntime.LogQuery(10, false, Instant.EPOCH),
        sink(tail, completed));
    assertThat(completed).isTrue();
    assertThat(tail)
        .containsExactly(
            DemoRuntime.LABEL + ": recorded revision 1: ConfigMap/web, Deployment/web");

    List<String> followed = new CopyOnWriteArrayList<>();
    WorkloadRuntime.LogStream stream =
        runtime.readLogs(
            sources.get(0),
            new WorkloadRuntime.LogQuery(0, true, Instant.EPOCH),
            sink(followed, new AtomicBoolean()));
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> followed.contains(DemoRuntime.LABEL + ": revision 1 READY, 2 object(s)"));
    stream.close();
    runtime.remove("web");
    int seen = followed.size();
    runtime.apply("web", "2", ONE);
    assertThat(followed).hasSize(seen);
  }

  private static WorkloadRuntime.LogSink sink(List<String> lines, AtomicBoolean completed) {
    return new WorkloadRuntime.LogSink() {
      @Override
      public void line(Instant at, String line) {
        lines.add(line);
      }

      @Override
      public void completed() {
        completed.set(true);
      }

      @Override
      public void failed(String reason) {
        lines.add("failed: " + reason);
      }
    };
  }

  @AfterEach
  void close() {
    runtime.close();
  }
}
