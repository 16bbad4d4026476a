package io.edgefleet.controller.rollouts;

import io.edgefleet.controller.rollouts.RolloutEngine.BatchState;
import io.edgefleet.controller.rollouts.RolloutEngine.Member;
import io.edgefleet.controller.rollouts.RolloutEngine.State;
import java.util.Map;

/** The stored state of rollouts as plain values: what {@link RolloutStore} reads. */
final class RolloutRows {
  private RolloutRows() {}

  /** A rollout. Times are epoch milliseconds. */
  record Row(
      String id,
      String subject,
      String app,
      String source,
      String fromRevision,
      String toRevision,
      String policy,
      State state,
      int batch,
      String reason,
      String createdBy,
      long createdAt,
      long updatedAt,
      Long finishedAt,
      Long rollbackAt) {}

  /** A batch of a rollout. Times are epoch milliseconds. */
  record BatchRow(
      int index,
      String name,
      int successPercent,
      int failurePercent,
      long soakMs,
      long deadlineMs,
      BatchState state,
      Long startedAt,
      Long soakUntil,
      Long finishedAt,
      String reason) {}

  /**
   * A device of a rollout ({@code state}: what the rollout did with it), with what it reports of
   * the rollout's app ({@code desiredRevision} to {@code renderError}) and the rollout's target
   * revision ({@code toRev}); {@code notPlaced} says why the device cannot run the app's kind of
   * workload, or is null.
   */
  record MemberRow(
      String deviceId,
      String name,
      int batch,
      Member state,
      String prevRevision,
      String prevBundle,
      Long releasedAt,
      Map<String, String> tags,
      String desiredRevision,
      String running,
      String phase,
      String reason,
      String renderError,
      String toRev,
      String notPlaced) {
    MemberRow(
        String deviceId,
        String name,
        int batch,
        Member state,
        String prevRevision,
        String prevBundle,
        Long releasedAt,
        Map<String, String> tags,
        String desiredRevision,
        String running,
        String phase,
        String reason,
        String renderError,
        String toRev) {
      this(
          deviceId,
          name,
          batch,
          state,
          prevRevision,
          prevBundle,
          releasedAt,
          tags,
          desiredRevision,
          running,
          phase,
          reason,
          renderError,
          toRev,
          null);
    }
  }
}
