package io.edgefleet.controller.rollouts;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.rollouts.RolloutEngine.BatchState;
import io.edgefleet.controller.rollouts.RolloutEngine.DeviceState;
import io.edgefleet.controller.rollouts.RolloutEngine.Member;
import io.edgefleet.controller.rollouts.RolloutEngine.State;
import io.edgefleet.controller.rollouts.RolloutRows.BatchRow;
import io.edgefleet.controller.rollouts.RolloutRows.MemberRow;
import io.edgefleet.controller.rollouts.RolloutRows.Row;
import io.edgefleet.controller.rollouts.RolloutStepper.Advance;
import io.edgefleet.controller.rollouts.RolloutStepper.Decision;
import io.edgefleet.controller.rollouts.RolloutStepper.Fail;
import io.edgefleet.controller.rollouts.RolloutStepper.PauseOffline;
import io.edgefleet.controller.rollouts.RolloutStepper.Soak;
import io.edgefleet.controller.rollouts.RolloutStepper.Status;
import io.edgefleet.controller.rollouts.RolloutStepper.Unchanged;
import io.edgefleet.controller.rollouts.RolloutStepper.Wait;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The stepping decisions, from plain rows: no database, no clock. */
class RolloutStepperTest {
  private static final long T0 = Instant.parse("2026-11-22T12:00:00Z").toEpochMilli();
  private static final long MINUTE = 60_000;

  /** The defaults: a failed batch pauses; offline devices are left behind at the deadline. */
  private static final RolloutPolicy DEFAULTS = RolloutPolicy.parse("canary: 1\nwaves: [100%]\n");

  private static final RolloutPolicy ROLLBACK =
      RolloutPolicy.parse("canary: 1\nwaves: [100%]\nonFailure: rollback\n");

  // ------------------------------------------------------------------ how devices stand

  @Test
  void aReleasedDeviceIsReadyOnlyWhenItRunsTheNewRevisionReady() {
    Row r = rollout(State.PROGRESSING, 0);
    List<BatchRow> batches = List.of(batch(0, "canary", BatchState.UPDATING, T0));
    assertThat(classify(released("d1", 0, T0, "v2", "READY"), r, batches, T0, true))
        .isEqualTo(new Status(DeviceState.READY, "running v2"));
    assertThat(classify(released("d1", 0, T0, "v1", "READY"), r, batches, T0, true))
        .isEqualTo(new Status(DeviceState.UPDATING, "still running v1"));
    assertThat(classify(released("d1", 0, T0, null, null), r, batches, T0, true))
        .isEqualTo(new Status(DeviceState.UPDATING, "not reported yet"));
    assertThat(classify(released("d1", 0, T0, "v2", "APPLYING"), r, batches, T0, true))
        .isEqualTo(new Status(DeviceState.UPDATING, "applying"));
  }

  @Test
  void aReleasedDeviceFailsWhenItReportsFailureCannotBeRenderedOrMissesItsDeadline() {
    Row r = rollout(State.PROGRESSING, 0);
    List<BatchRow> batches = List.of(batch(0, "canary", BatchState.UPDATING, T0));
    MemberRow failed = released("d1", 0, T0, "v2", "FAILED");
    assertThat(classify(failed, r, batches, T0, true))
        .isEqualTo(new Status(DeviceState.FAILED, "failed"));
    MemberRow unrenderable =
        new MemberRow(
            "d1",
            "d1",
            0,
            Member.RELEASED,
            "v1",
            "b1",
            T0,
            Map.of(),
            "v2",
            "v1",
            "READY",
            null,
            "missing tag site",
            "v2");
    assertThat(classify(unrenderable, r, batches, T0, true))
        .isEqualTo(new Status(DeviceState.FAILED, "cannot be rendered: missing tag site"));
    MemberRow slow = released("d1", 0, T0, "v1", "READY");
    assertThat(classify(slow, r, batches, T0 + 10 * MINUTE - 1, true).state())
        .isEqualTo(DeviceState.UPDATING);
    assertThat(classify(slow, r, batches, T0 + 10 * MINUTE, true))
        .isEqualTo(new Status(DeviceState.FAILED, "not READY within 10m (still running v1)"));
  }

  @Test
  void aReleasedDeviceThatCannotRunTheAppIsSkippedWithTheReasonNeitherFailedNorWaitedFor() {
    Row r = rollout(State.PROGRESSING, 0);
    List<BatchRow> batches = List.of(batch(0, "canary", BatchState.UPDATING, T0));
    String why = "not placed: this device has no container runtime (it reports: kubernetes)";
    MemberRow cannot =
        new MemberRow(
            "d1",
            "d1",
            0,
            Member.RELEASED,
            null,
            null,
            T0,
            Map.of(),
            "v2",
            null,
            null,
            null,
            null,
            "v2",
            why);
    // Long past its deadline: still not failed.
    assertThat(classify(cannot, r, batches, T0 + 60 * MINUTE, true))
        .isEqualTo(new Status(DeviceState.NOT_PLACED, why));
    MemberRow ready = released("d2", 0, T0, "v2", "READY");
    List<MemberRow> members = List.of(cannot, ready);
    RolloutEngine.Counts counts =
        RolloutStepper.counts(members, classifyAll(members, r, batches, DEFAULTS, T0));
    assertThat(counts.targeted()).isEqualTo(1);
    assertThat(counts.ready()).isEqualTo(1);
    assertThat(counts.failed()).isZero();
    assertThat(counts.pending()).isZero();
  }

  @Test
  void anOfflineDeviceIsPendingNeverFailedByItsDeadline() {
    Row r = rollout(State.PROGRESSING, 0);
    List<BatchRow> batches = List.of(batch(0, "canary", BatchState.UPDATING, T0));
    assertThat(classify(released("d1", 0, T0, "v1", "READY"), r, batches, T0 + 60 * MINUTE, false))
        .isEqualTo(new Status(DeviceState.PENDING_OFFLINE, "offline; updates when it reconnects"));
  }

  @Test
  void aWaitingDeviceOutsideItsMaintenanceWindowWaitsForIt() {
    RolloutPolicy nightly =
        RolloutPolicy.parse(
            """
            canary: 1
            waves: [100%]
            maintenance:
              tag: mw
              windows:
                night: {cron: "0 2 * * *", duration: 3h}
            """);
    Row r = rollout(State.PROGRESSING, 0);
    List<BatchRow> batches = List.of(batch(0, "canary", BatchState.UPDATING, T0));
    MemberRow m = waiting("d1", 0, Map.of("mw", "night"));
    Instant noon = Instant.ofEpochMilli(T0);
    Instant night = Instant.parse("2026-11-22T03:00:00Z");
    assertThat(RolloutStepper.classify(m, r, batches, nightly, noon, true).state())
        .isEqualTo(DeviceState.OUTSIDE_WINDOW);
    assertThat(RolloutStepper.classify(m, r, batches, nightly, noon, true).reason())
        .startsWith("outside maintenance window 'night'");
    assertThat(RolloutStepper.classify(m, r, batches, nightly, night, true))
        .isEqualTo(new Status(DeviceState.WAITING, "waiting for its batch"));
  }

  @Test
  void aRevertedDeviceIsBackWhenItRunsWhatItRanBefore() {
    Row r = rollout(State.ROLLING_BACK, 0);
    List<BatchRow> batches = List.of(batch(0, "canary", BatchState.FAILED, T0));
    assertThat(classify(reverted("d1", "v1", "READY"), r, batches, T0, true))
        .isEqualTo(new Status(DeviceState.REVERTED, "back on v1"));
    assertThat(classify(reverted("d1", "v2", "READY"), r, batches, T0, true))
        .isEqualTo(new Status(DeviceState.REVERTING, "returning to v1"));
    assertThat(classify(reverted("d1", "v2", "READY"), r, batches, T0, false).state())
        .isEqualTo(DeviceState.PENDING_OFFLINE);
    assertThat(classify(left("d1"), r, batches, T0, true).state()).isEqualTo(DeviceState.LEFT);
  }

  @Test
  void aRevertedDeviceThatFailsOnTheVersionItReturnsToHasFailedOnTheRollback() {
    Row r = rollout(State.ROLLING_BACK, 0);
    List<BatchRow> batches = List.of(batch(0, "canary", BatchState.FAILED, T0));
    assertThat(
            classify(
                member("d1", Member.REVERTED, "v1", "v1", "FAILED", "CrashLoopBackOff"),
                r,
                batches,
                T0,
                true))
        .isEqualTo(new Status(DeviceState.FAILED, "failed on rollback to v1: CrashLoopBackOff"));
    // What the device reports decides: READY on v1 is back, whatever it was last sent.
    assertThat(
            classify(
                member("d1", Member.REVERTED, "v2", "v1", "READY", null), r, batches, T0, true))
        .isEqualTo(new Status(DeviceState.REVERTED, "back on v1"));
    // Still failing on the new revision: it has not returned yet.
    assertThat(
            classify(member("d1", Member.REVERTED, "v1", "v2", "FAILED", "x"), r, batches, T0, true)
                .state())
        .isEqualTo(DeviceState.REVERTING);
  }

  // ------------------------------------------------------------------ releasing

  @Test
  void theCurrentAndEarlierBatchesAreReleasedNotLaterOnes() {
    Row r = rollout(State.PROGRESSING, 1);
    List<BatchRow> batches =
        List.of(
            batch(0, "canary", BatchState.SUCCEEDED, T0),
            batch(1, "wave-1", BatchState.UPDATING, T0),
            batch(2, "wave-2", BatchState.PENDING, null));
    List<MemberRow> members =
        List.of(
            waiting("late-canary", 0, Map.of()),
            waiting("w1", 1, Map.of()),
            waiting("w2", 2, Map.of()));
    Map<String, Status> status = classifyAll(members, r, batches, DEFAULTS, T0);
    RolloutStepper.Release release =
        RolloutStepper.release(members, status, batches.get(1), DEFAULTS, T0);
    assertThat(release.devices()).containsExactly("late-canary", "w1");
    assertThat(release.status().get("w1").state()).isEqualTo(DeviceState.UPDATING);
    assertThat(release.status().get("w2").state()).isEqualTo(DeviceState.WAITING);
    assertThat(status.get("w1").state())
        .as("the input is left as it was")
        .isEqualTo(DeviceState.WAITING);
  }

  @Test
  void theDisruptionBudgetHoldsDevicesBackPerGroup() {
    RolloutPolicy budget =
        RolloutPolicy.parse("waves: [100%]\ndisruptionBudget: {tag: site, maxUnavailable: 1}\n");
    Row r = rollout(State.PROGRESSING, 0);
    List<BatchRow> batches = List.of(batch(0, "wave-1", BatchState.UPDATING, T0));
    MemberRow updating =
        new MemberRow(
            "a1",
            "a1",
            0,
            Member.RELEASED,
            null,
            null,
            T0,
            Map.of("site", "a"),
            "v2",
            null,
            null,
            null,
            null,
            "v2");
    List<MemberRow> members =
        List.of(
            updating,
            waiting("a2", 0, Map.of("site", "a")),
            waiting("b1", 0, Map.of("site", "b")),
            waiting("b2", 0, Map.of("site", "b")));
    Map<String, Status> status = classifyAll(members, r, batches, budget, T0);
    RolloutStepper.Release release =
        RolloutStepper.release(members, status, batches.get(0), budget, T0);
    assertThat(release.devices()).containsExactly("b1");
    assertThat(release.status().get("a2"))
        .isEqualTo(
            new Status(
                DeviceState.WAITING_BUDGET, "disruption budget: 1 device(s) of site=a updating"));
    assertThat(release.status().get("b2").state()).isEqualTo(DeviceState.WAITING_BUDGET);
  }

  // ------------------------------------------------------------------ the current batch

  @Test
  void aReadyCanaryAdvancesToTheNextBatchAndTheLastBatchEndsTheRollout() {
    Row r = rollout(State.PROGRESSING, 0);
    List<BatchRow> batches =
        List.of(
            batch(0, "canary", BatchState.UPDATING, T0),
            batch(1, "wave-1", BatchState.PENDING, null));
    List<MemberRow> members =
        List.of(released("c", 0, T0, "v2", "READY"), waiting("w", 1, Map.of()));
    Decision d = evaluate(r, DEFAULTS, batches, 0, members, T0 + MINUTE);
    assertThat(d)
        .isEqualTo(
            new Advance("batch 1/2 'canary' succeeded: 1/1 ready", Optional.of(batches.get(1))));

    Row last = rollout(State.PROGRESSING, 1);
    List<BatchRow> later =
        List.of(
            batch(0, "canary", BatchState.SUCCEEDED, T0),
            batch(1, "wave-1", BatchState.UPDATING, T0));
    List<MemberRow> done =
        List.of(released("c", 0, T0, "v2", "READY"), released("w", 1, T0, "v2", "READY"));
    assertThat(evaluate(last, DEFAULTS, later, 1, done, T0 + MINUTE))
        .isEqualTo(new Advance("batch 2/2 'wave-1' succeeded: 1/1 ready", Optional.empty()));
  }

  @Test
  void aBatchThatIsNotReadyYetWaitsAndSaysForWhat() {
    Row r = rollout(State.PROGRESSING, 0);
    List<BatchRow> batches = List.of(batch(0, "wave-1", BatchState.UPDATING, T0));
    List<MemberRow> members =
        List.of(released("a", 0, T0, "v2", "READY"), released("b", 0, T0, "v1", "READY"));
    assertThat(evaluate(r, DEFAULTS, batches, 0, members, T0 + MINUTE))
        .isEqualTo(new Wait("batch 1/1 'wave-1': 1/2 ready, needs 100%; 1 updating"));
  }

  @Test
  void aReadyBatchWithASoakSoaksThenAdvancesWhenTheSoakIsOver() {
    Row r = rollout(State.PROGRESSING, 0);
    BatchRow updating =
        new BatchRow(
            0,
            "canary",
            100,
            0,
            5 * MINUTE,
            10 * MINUTE,
            BatchState.UPDATING,
            T0,
            null,
            null,
            null);
    List<MemberRow> members = List.of(released("c", 0, T0, "v2", "READY"));
    assertThat(evaluate(r, DEFAULTS, List.of(updating), 0, members, T0 + MINUTE))
        .isEqualTo(new Soak(T0 + 6 * MINUTE, "batch 1/1 'canary': 1/1 ready; soaking for 5m"));

    BatchRow soaking =
        new BatchRow(
            0,
            "canary",
            100,
            0,
            5 * MINUTE,
            10 * MINUTE,
            BatchState.SOAKING,
            T0,
            T0 + 6 * MINUTE,
            null,
            null);
    assertThat(evaluate(r, DEFAULTS, List.of(soaking), 0, members, T0 + 6 * MINUTE - 1))
        .isInstanceOf(Unchanged.class);
    assertThat(evaluate(r, DEFAULTS, List.of(soaking), 0, members, T0 + 6 * MINUTE))
        .isEqualTo(
            new Advance("batch 1/1 'canary' succeeded: 1/1 ready after soaking", Optional.empty()));
  }

  @Test
  void tooManyFailuresFailTheBatchAndPauseOrRollBackAsThePolicySays() {
    Row r = rollout(State.PROGRESSING, 0);
    List<BatchRow> batches = List.of(batch(0, "canary", BatchState.UPDATING, T0));
    List<MemberRow> members = List.of(released("c", 0, T0, "v2", "FAILED"));
    String why = "batch 1/1 'canary' failed: 1 of 1 device(s) failed (threshold 0%) — c: failed";
    assertThat(evaluate(r, DEFAULTS, batches, 0, members, T0))
        .isEqualTo(
            new Fail(
                why,
                false,
                why
                    + ". Paused: fix the app and `rollouts resume ro-1`, or `rollouts rollback"
                    + " ro-1`"));
    assertThat(evaluate(r, ROLLBACK, batches, 0, members, T0))
        .satisfies(d -> assertThat(((Fail) d).rollback()).isTrue());
  }

  @Test
  void offlineDevicesAtTheDeadlinePauseTheRolloutOrAreLeftBehindAsThePolicySays() {
    Row r = rollout(State.PROGRESSING, 0);
    List<BatchRow> batches =
        List.of(
            batch(0, "wave-1", BatchState.UPDATING, T0),
            batch(1, "wave-2", BatchState.PENDING, null));
    List<MemberRow> members =
        List.of(released("on", 0, T0, "v2", "READY"), released("off", 0, T0, null, null));
    Set<String> offline = Set.of("off");
    long deadline = T0 + 10 * MINUTE;
    RolloutPolicy pause =
        RolloutPolicy.parse("canary: 1\nwaves: [100%]\nofflineAtDeadline: pause\n");
    assertThat(evaluate(r, pause, batches, 0, members, deadline - 1, offline))
        .isInstanceOf(Wait.class);
    assertThat(evaluate(r, pause, batches, 0, members, deadline, offline))
        .isEqualTo(
            new PauseOffline(
                "batch 1/2 'wave-1': deadline passed with 1 device(s) offline. Paused"
                    + " (offlineAtDeadline: pause): `rollouts resume ro-1` to wait again"));
    assertThat(evaluate(r, DEFAULTS, batches, 0, members, deadline, offline))
        .isEqualTo(
            new Advance(
                "batch 1/2 'wave-1' succeeded: 1/2 ready; went on without 1 offline device(s),"
                    + " which update when they reconnect",
                Optional.of(batches.get(1))));
  }

  // ------------------------------------------------------------------ rolling back

  @Test
  void aRollbackEndsWhenEveryDeviceIsBackOrOfflineOrAtItsDeadline() {
    Row r =
        new Row(
            "ro-1",
            "catalog/web",
            "web",
            "catalog",
            "v1",
            "v2",
            "",
            State.ROLLING_BACK,
            0,
            RolloutStepper.ROLLING_BACK + "rolled back by alice",
            "alice",
            T0,
            T0,
            null,
            T0);
    List<BatchRow> batches = List.of(batch(0, "canary", BatchState.FAILED, T0));
    List<MemberRow> back = List.of(reverted("a", "v1", "READY"), reverted("b", "v1", "READY"));
    assertThat(
            RolloutStepper.rollback(
                r, back, classifyAll(back, r, batches, DEFAULTS, T0), batches, T0))
        .contains(
            new RolloutStepper.RolledBack(
                "rolled back: rolled back by alice (2/2 device(s) back on their previous version)",
                "2/2 device(s) back on their previous version"));

    List<MemberRow> oneStuck = List.of(reverted("a", "v1", "READY"), reverted("b", "v2", "READY"));
    Map<String, Status> status = classifyAll(oneStuck, r, batches, DEFAULTS, T0);
    assertThat(RolloutStepper.rollback(r, oneStuck, status, batches, T0 + 10 * MINUTE - 1))
        .isEmpty();
    assertThat(RolloutStepper.rollback(r, oneStuck, status, batches, T0 + 10 * MINUTE))
        .hasValueSatisfying(
            d ->
                assertThat(d.note())
                    .isEqualTo(
                        "1/2 device(s) back on their previous version; 1 did not report back"
                            + " before the deadline"));
  }

  @Test
  void aRollbackEndsAtOnceWhenTheDevicesNotBackReportedFailingOnThePreviousVersion() {
    Row r = rollout(State.ROLLING_BACK, 0);
    List<BatchRow> batches = List.of(batch(0, "canary", BatchState.FAILED, T0));
    List<MemberRow> members =
        List.of(
            reverted("a", "v1", "READY"),
            member("b", Member.REVERTED, "v1", "v1", "FAILED", "apply failed: disk full"),
            member("c", Member.REVERTED, "v1", "v1", "FAILED", null));
    Map<String, Status> status = classifyAll(members, r, batches, DEFAULTS, T0);
    assertThat(RolloutStepper.rollback(r, members, status, batches, T0))
        .hasValueSatisfying(
            d ->
                assertThat(d.note())
                    .isEqualTo(
                        "1/3 device(s) back on their previous version; 2 failed on v1 (b: apply"
                            + " failed: disk full; c: failed)"));
    assertThat(RolloutStepper.counts(members, status).failed()).isEqualTo(2);
  }

  @Test
  void countsLeaveOutDevicesThatLeft() {
    Row r = rollout(State.PROGRESSING, 0);
    List<BatchRow> batches = List.of(batch(0, "canary", BatchState.UPDATING, T0));
    List<MemberRow> members =
        List.of(
            released("a", 0, T0, "v2", "READY"),
            released("b", 0, T0, "v2", "FAILED"),
            waiting("c", 0, Map.of()),
            left("d"));
    assertThat(RolloutStepper.counts(members, classifyAll(members, r, batches, DEFAULTS, T0)))
        .isEqualTo(new RolloutEngine.Counts(3, 2, 1, 1, 1, 0, 0, 0));
  }

  // ------------------------------------------------------------------ devices never seen

  @Test
  void aDeviceThatNeverConnectedIsNeitherOfflineNorFailedAndNotWaitedFor() {
    Row r = rollout(State.PROGRESSING, 0);
    List<BatchRow> batches = List.of(batch(0, "all", BatchState.UPDATING, T0));
    MemberRow released = released("d1", 0, T0, null, null);
    assertThat(
            RolloutStepper.classify(
                    released,
                    r,
                    batches,
                    DEFAULTS,
                    Instant.ofEpochMilli(T0 + 60 * MINUTE),
                    DeviceStatus.NEVER_SEEN)
                .state())
        .isEqualTo(DeviceState.NEVER_SEEN);
    assertThat(
            RolloutStepper.classify(
                    waiting("d1", 0, Map.of()),
                    r,
                    batches,
                    DEFAULTS,
                    Instant.ofEpochMilli(T0),
                    DeviceStatus.NEVER_SEEN)
                .state())
        .isEqualTo(DeviceState.NEVER_SEEN);
    // Once it connected, it is an ordinary device again.
    assertThat(
            RolloutStepper.classify(
                    released, r, batches, DEFAULTS, Instant.ofEpochMilli(T0), DeviceStatus.ONLINE)
                .state())
        .isEqualTo(DeviceState.UPDATING);
  }

  @Test
  void aBatchNeedingEveryDeviceSucceedsWithoutTheDevicesThatNeverConnected() {
    Row r = rollout(State.PROGRESSING, 0);
    List<BatchRow> batches = List.of(batch(0, "all", BatchState.UPDATING, T0));
    List<MemberRow> members =
        List.of(
            released("a", 0, T0, "v2", "READY"),
            released("b", 0, T0, "v2", "READY"),
            released("c", 0, T0, "v2", "READY"),
            released("ghost-1", 0, T0, null, null),
            released("ghost-2", 0, T0, null, null));
    Map<String, DeviceStatus> presence =
        Map.of("ghost-1", DeviceStatus.NEVER_SEEN, "ghost-2", DeviceStatus.NEVER_SEEN);
    Map<String, Status> status =
        RolloutStepper.classify(
            members,
            r,
            batches,
            DEFAULTS,
            Instant.ofEpochMilli(T0 + MINUTE),
            d -> presence.getOrDefault(d, DeviceStatus.ONLINE));
    assertThat(RolloutStepper.counts(members, status))
        .isEqualTo(new RolloutEngine.Counts(3, 3, 3, 0, 0, 0, 0, 2));
    assertThat(
            RolloutStepper.evaluate(
                r, DEFAULTS, batches.get(0), batches, members, status, T0 + MINUTE))
        .isInstanceOfSatisfying(
            Advance.class,
            a ->
                assertThat(a.message())
                    .isEqualTo("batch 1/1 'all' succeeded: 3/3 ready; 2 never seen, skipped"));

    // While others are missing, the reason names them apart.
    List<MemberRow> waitingOne =
        List.of(
            released("a", 0, T0, "v2", "READY"),
            released("b", 0, T0, "v1", "READY"),
            released("ghost-1", 0, T0, null, null));
    Map<String, Status> status2 =
        RolloutStepper.classify(
            waitingOne,
            r,
            batches,
            DEFAULTS,
            Instant.ofEpochMilli(T0 + MINUTE),
            d -> presence.getOrDefault(d, DeviceStatus.ONLINE));
    assertThat(
            RolloutStepper.evaluate(
                r, DEFAULTS, batches.get(0), batches, waitingOne, status2, T0 + MINUTE))
        .isEqualTo(
            new Wait("batch 1/1 'all': 1/2 ready, needs 100%; 1 updating; 1 never seen, skipped"));
  }

  @Test
  void devicesThatNeverConnectedAreReleasedOutsideTheBudgetAndTheirDeadlineWaitsForThem() {
    RolloutPolicy budget =
        RolloutPolicy.parse("waves: [100%]\ndisruptionBudget: {tag: site, maxUnavailable: 1}\n");
    Row r = rollout(State.PROGRESSING, 0);
    List<BatchRow> batches = List.of(batch(0, "wave-1", BatchState.UPDATING, T0));
    List<MemberRow> members =
        List.of(
            released("a1", 0, T0, null, null),
            waiting("a2", 0, Map.of()),
            waiting("ghost", 0, Map.of()),
            released("old-ghost", 0, T0, null, null));
    Map<String, Status> status =
        RolloutStepper.classify(
            members,
            r,
            batches,
            budget,
            Instant.ofEpochMilli(T0 + 5 * MINUTE),
            d -> d.contains("ghost") ? DeviceStatus.NEVER_SEEN : DeviceStatus.ONLINE);
    RolloutStepper.Release release =
        RolloutStepper.release(members, status, batches.get(0), budget, T0 + 5 * MINUTE);
    assertThat(release.devices()).containsExactly("ghost");
    assertThat(release.status().get("a2").state()).isEqualTo(DeviceState.WAITING_BUDGET);
    assertThat(release.unseen()).containsExactly("old-ghost");
    assertThat(
            RolloutStepper.release(members, status, batches.get(0), budget, T0 + 5 * MINUTE - 1)
                .unseen())
        .isEmpty();
  }

  // ------------------------------------------------------------------ changing a deployment

  @Test
  void retryingARolledBackVersionStartsANewRolloutFromWhatTheDevicesRun() {
    Optional<Row> rolledBack = Optional.of(finished(State.ROLLED_BACK, "1.0.0", "2.0.0"));
    assertThat(RolloutStepper.change("2.0.0", "2.0.0", rolledBack))
        .isEqualTo(new RolloutStepper.Change(true, Optional.of("1.0.0")));
    // The next version starts from what the rollback returned the devices to, not from 2.0.0.
    assertThat(RolloutStepper.change("2.0.0", "3.0.0", rolledBack))
        .isEqualTo(new RolloutStepper.Change(true, Optional.of("1.0.0")));
    // A first deployment that was rolled back left nothing on the devices.
    assertThat(
            RolloutStepper.change(
                "1.0.0", "1.0.0", Optional.of(finished(State.ROLLED_BACK, null, "1.0.0"))))
        .isEqualTo(new RolloutStepper.Change(true, Optional.empty()));
    // Still rolling back: a retry supersedes it.
    assertThat(
            RolloutStepper.change(
                "2.0.0", "2.0.0", Optional.of(finished(State.ROLLING_BACK, "1.0.0", "2.0.0"))))
        .isEqualTo(new RolloutStepper.Change(true, Optional.of("1.0.0")));
  }

  @Test
  void retryingAnAbortedVersionStartsANewRolloutButACurrentOneIsLeftAlone() {
    Optional<Row> aborted = Optional.of(finished(State.ABORTED, "1.0.0", "2.0.0"));
    assertThat(RolloutStepper.change("2.0.0", "2.0.0", aborted))
        .isEqualTo(new RolloutStepper.Change(true, Optional.of("1.0.0")));
    assertThat(RolloutStepper.change("2.0.0", "3.0.0", aborted))
        .isEqualTo(new RolloutStepper.Change(true, Optional.of("2.0.0")));
    for (State current : List.of(State.SUCCEEDED, State.PROGRESSING, State.PAUSED)) {
      Optional<Row> latest = Optional.of(finished(current, "1.0.0", "2.0.0"));
      assertThat(RolloutStepper.change("2.0.0", "2.0.0", latest))
          .isEqualTo(new RolloutStepper.Change(false, Optional.of("2.0.0")));
      assertThat(RolloutStepper.change("2.0.0", "3.0.0", latest))
          .isEqualTo(new RolloutStepper.Change(true, Optional.of("2.0.0")));
    }
    // A rolled-back rollout of an older revision says nothing about the current one.
    assertThat(
            RolloutStepper.change(
                "2.0.0", "2.0.0", Optional.of(finished(State.ROLLED_BACK, "0.9.0", "1.0.0"))))
        .isEqualTo(new RolloutStepper.Change(false, Optional.of("2.0.0")));
    assertThat(RolloutStepper.change("2.0.0", "3.0.0", Optional.empty()))
        .isEqualTo(new RolloutStepper.Change(true, Optional.of("2.0.0")));
  }

  // ------------------------------------------------------------------ helpers

  private static Row rollout(State state, int batch) {
    return new Row(
        "ro-1",
        "catalog/web",
        "web",
        "catalog",
        "v1",
        "v2",
        "",
        state,
        batch,
        "",
        "alice",
        T0,
        T0,
        null,
        null);
  }

  private static Row finished(State state, String from, String to) {
    return new Row(
        "ro-1",
        "catalog/web",
        "web",
        "catalog",
        from,
        to,
        "",
        state,
        0,
        "",
        "alice",
        T0,
        T0,
        state.finished() ? T0 : null,
        null);
  }

  /** A batch needing every device ready, failing at the first failure, no soak, a 10m deadline. */
  private static BatchRow batch(int index, String name, BatchState state, Long startedAt) {
    return new BatchRow(index, name, 100, 0, 0, 10 * MINUTE, state, startedAt, null, null, null);
  }

  private static MemberRow released(
      String id, int batch, long releasedAt, String running, String phase) {
    return new MemberRow(
        id,
        id,
        batch,
        Member.RELEASED,
        "v1",
        "b1",
        releasedAt,
        Map.of(),
        "v2",
        running,
        phase,
        null,
        null,
        "v2");
  }

  private static MemberRow waiting(String id, int batch, Map<String, String> tags) {
    return new MemberRow(
        id,
        id,
        batch,
        Member.WAITING,
        "v1",
        "b1",
        null,
        tags,
        "v1",
        "v1",
        "READY",
        null,
        null,
        "v2");
  }

  private static MemberRow reverted(String id, String running, String phase) {
    return new MemberRow(
        id,
        id,
        0,
        Member.REVERTED,
        "v1",
        "b1",
        T0,
        Map.of(),
        "v1",
        running,
        phase,
        null,
        null,
        "v2");
  }

  private static MemberRow member(
      String id, Member state, String desired, String running, String phase, String reason) {
    return new MemberRow(
        id, id, 0, state, "v1", "b1", T0, Map.of(), desired, running, phase, reason, null, "v2");
  }

  private static MemberRow left(String id) {
    return new MemberRow(
        id, id, 0, Member.LEFT, "v1", "b1", null, Map.of(), "v1", "v1", "READY", null, null, "v2");
  }

  private static Status classify(
      MemberRow m, Row r, List<BatchRow> batches, long now, boolean online) {
    return RolloutStepper.classify(m, r, batches, DEFAULTS, Instant.ofEpochMilli(now), online);
  }

  private static Map<String, Status> classifyAll(
      List<MemberRow> members, Row r, List<BatchRow> batches, RolloutPolicy policy, long now) {
    return RolloutStepper.classify(
        members, r, batches, policy, Instant.ofEpochMilli(now), d -> DeviceStatus.ONLINE);
  }

  private static Decision evaluate(
      Row r,
      RolloutPolicy policy,
      List<BatchRow> batches,
      int current,
      List<MemberRow> members,
      long now) {
    return evaluate(r, policy, batches, current, members, now, Set.of());
  }

  private static Decision evaluate(
      Row r,
      RolloutPolicy policy,
      List<BatchRow> batches,
      int current,
      List<MemberRow> members,
      long now,
      Set<String> offline) {
    Map<String, Status> status =
        RolloutStepper.classify(
            new ArrayList<>(members),
            r,
            batches,
            policy,
            Instant.ofEpochMilli(now),
            d -> offline.contains(d) ? DeviceStatus.OFFLINE : DeviceStatus.ONLINE);
    return RolloutStepper.evaluate(r, policy, batches.get(current), batches, members, status, now);
  }
}
