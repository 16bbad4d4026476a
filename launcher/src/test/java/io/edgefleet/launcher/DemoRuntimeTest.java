package io.edgefleet.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.ApplyOutcome;
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
}
