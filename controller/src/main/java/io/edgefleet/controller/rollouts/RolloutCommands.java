package io.edgefleet.controller.rollouts;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.common.Ids;
import io.edgefleet.controller.rollouts.RolloutEngine.Start;
import io.edgefleet.controller.rollouts.RolloutEngine.State;
import io.edgefleet.controller.rollouts.RolloutRows.Row;
import io.edgefleet.protocol.ErrorCode;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.jdbi.v3.core.Handle;

/**
 * What starting, ending and the operator's commands (pause, resume, abort, roll back) do to a
 * rollout: each checks the state it is allowed in, changes the rows and records an event, in the
 * caller's transaction. The commands return the devices whose desired state may have changed.
 */
final class RolloutCommands {
  private final RolloutStore store;
  private final RolloutMembership membership;
  private final RolloutGate gate;

  RolloutCommands(RolloutStore store, RolloutMembership membership, RolloutGate gate) {
    this.store = store;
    this.membership = membership;
    this.gate = gate;
  }

  /**
   * Supersedes the subject's unfinished rollout, plans the batches over the devices the target
   * matches now, and starts the first batch. No device is released before the next tick.
   *
   * @return the new rollout's id
   */
  String start(Handle h, Start s, Instant at) {
    long now = at.toEpochMilli();
    for (String old : store.unfinished(h, s.subject())) {
      store.finish(h, old, State.SUPERSEDED, "superseded by a newer rollout of " + s.app(), now);
      store.event(h, old, now, "SUPERSEDED", null, "superseded by a newer rollout");
    }
    String id = Ids.next("ro");
    List<BatchPlanner.Member> targeted = membership.targeted(h, s.target());
    store.insert(h, id, s, now);
    List<BatchPlanner.PlannedBatch> plan =
        membership.plan(h, id, s.app(), s.policy(), targeted, at);
    store.event(
        h,
        id,
        now,
        "CREATED",
        null,
        "rollout of "
            + s.app()
            + " "
            + s.fromRevision().map(f -> f + " → ").orElse("")
            + s.toRevision()
            + " to "
            + targeted.size()
            + " device(s) in "
            + plan.size()
            + " batch(es)"
            + (plan.isEmpty()
                ? ""
                : ": "
                    + plan.stream()
                        .map(b -> b.name() + " " + b.deviceIds().size())
                        .collect(Collectors.joining(", ")))
            + "; policy: "
            + s.policy().describe());
    if (plan.isEmpty()) {
      store.finish(h, id, State.SUCCEEDED, "no device matches the target", now);
      store.event(h, id, now, "SUCCEEDED", null, "no device matches the target");
    } else {
      store.event(h, id, now, "BATCH_STARTED", 0, "batch '" + plan.get(0).name() + "' started");
      store.setReason(h, id, "batch '" + plan.get(0).name() + "' started", now);
    }
    membership.checked(id, at);
    return id;
  }

  /** Ends every unfinished rollout of a subject (its app was removed). */
  void abortSubject(Handle h, String subject, String reason, long now) {
    for (String id : store.unfinished(h, subject)) {
      store.finish(h, id, State.ABORTED, reason, now);
      store.event(h, id, now, "ABORTED", null, reason);
    }
  }

  Set<String> pause(Handle h, Row r, String actor, long now) {
    require(r, "pause", State.PROGRESSING);
    String id = r.id();
    store.setState(h, id, State.PAUSED, now);
    store.setReason(
        h, id, "paused by " + actor + "; resume with `rollouts resume " + id + "`", now);
    store.event(h, id, now, "PAUSED", r.batch(), "paused by " + actor);
    return Set.of();
  }

  /**
   * Resumes a paused rollout. A failed batch starts over with a fresh deadline for its devices that
   * are not ready yet.
   */
  Set<String> resume(Handle h, Row r, String actor, long now) {
    require(r, "resume", State.PAUSED);
    String id = r.id();
    store.setState(h, id, State.PROGRESSING, now);
    store.restartBatch(h, id, r.batch(), now);
    store.setReason(h, id, "resumed by " + actor, now);
    store.event(h, id, now, "RESUMED", r.batch(), "resumed by " + actor);
    return Set.of();
  }

  /** Stops a rollout where it is: released devices keep the new revision, the others the old. */
  Set<String> abort(Handle h, Row r, String actor, long now) {
    require(r, "abort", State.PROGRESSING, State.PAUSED, State.ROLLING_BACK);
    String why = "aborted by " + actor + "; devices not yet updated keep their previous version";
    store.finish(h, r.id(), State.ABORTED, why, now);
    store.event(h, r.id(), now, "ABORTED", r.batch(), why);
    return Set.of();
  }

  /** Returns every device the rollout released to what it ran before. */
  Set<String> rollback(Handle h, Row r, String actor, long now) {
    require(r, "roll back", State.PROGRESSING, State.PAUSED, State.SUCCEEDED, State.ABORTED);
    RolloutGate.Latest latest = gate.latest(h).get(r.subject());
    if (latest == null || !latest.id().equals(r.id())) {
      throw new ControllerException(
          ErrorCode.ROLLOUT_STATE_CONFLICT,
          "rollout "
              + r.id()
              + " is not the latest of "
              + r.app()
              + "; roll back the latest one (see `rollouts list`)");
    }
    return startRollback(h, r, "rolled back by " + actor, now);
  }

  /**
   * Starts returning every released device to what it ran before.
   *
   * @return the devices that return
   */
  Set<String> startRollback(Handle h, Row r, String why, long now) {
    String id = r.id();
    List<String> released = store.startRollback(h, id, now);
    store.setReason(h, id, RolloutStepper.ROLLING_BACK + why, now);
    store.event(
        h,
        id,
        now,
        "ROLLING_BACK",
        r.batch(),
        released.size()
            + " device(s) return to the version they ran before"
            + (r.fromRevision() == null ? " (none: the app is removed from them)" : "")
            + ": "
            + why);
    return new LinkedHashSet<>(released);
  }

  private static void require(Row r, String action, State... allowed) {
    for (State s : allowed) {
      if (r.state() == s) {
        return;
      }
    }
    throw new ControllerException(
        ErrorCode.ROLLOUT_STATE_CONFLICT,
        "cannot "
            + action
            + " rollout "
            + r.id()
            + ": it is "
            + r.state()
            + " (allowed when "
            + Arrays.stream(allowed).map(Enum::name).collect(Collectors.joining(", "))
            + ")");
  }
}
