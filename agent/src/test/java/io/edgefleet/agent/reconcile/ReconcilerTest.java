package io.edgefleet.agent.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.DriftRepair;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.protocol.DesiredState;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ReconcilerTest {
  /** A runtime that answers the outcomes the test queues, then InSync. */
  static final class Scripted implements WorkloadRuntime {
    final Deque<ApplyOutcome> outcomes = new ArrayDeque<>();

    @Override
    public ApplyOutcome apply(String app, String revision, String manifestsYaml) {
      ApplyOutcome next = outcomes.poll();
      return next != null ? next : new ApplyOutcome.InSync();
    }

    @Override
    public ApplyOutcome remove(String app) {
      return new ApplyOutcome.InSync();
    }

    @Override
    public AppHealth health(String app) {
      return new AppHealth(AppHealth.State.READY, "all 1 objects ready");
    }

    @Override
    public Set<String> ownedApps() {
      return Set.of("web");
    }

    @Override
    public void close() {}
  }

  final Scripted runtime = new Scripted();
  final List<String> events = new ArrayList<>();
  final Reconciler reconciler =
      new Reconciler(
          runtime,
          new DriftEvents(
              Clock.fixed(Instant.parse("2026-11-21T10:00:00Z"), ZoneOffset.UTC),
              Duration.ofMinutes(10),
              (kind, severity, app, message) ->
                  events.add(kind + " " + severity + " " + app + ": " + message)));

  private void pass(String revision) {
    DesiredState desired =
        new DesiredState(
            "dev-1",
            1,
            Instant.parse("2026-11-21T10:00:00Z"),
            List.of(new DesiredState.DesiredApp("web", "git", revision, "sha256:b", 10)));
    reconciler.reconcile(desired, digest -> Optional.of("kind: ConfigMap"));
  }

  @Test
  void whatAnApplyRepairedBecomesADriftEvent() {
    runtime.outcomes.add(
        new ApplyOutcome.Applied(
            2, 0, List.of(new DriftRepair("Deployment web/web", DriftRepair.Cause.DELETED))));
    pass("r1");
    pass("r1");
    assertThat(events)
        .containsExactly(
            "drift-repaired warning web: recreated Deployment web/web that was deleted");
  }

  @Test
  void anApplyWithoutRepairsIsNoDrift() {
    runtime.outcomes.add(new ApplyOutcome.Applied(2, 0));
    pass("r1");
    runtime.outcomes.add(new ApplyOutcome.Applied(2, 1));
    pass("r2");
    assertThat(events).isEmpty();
  }
}
