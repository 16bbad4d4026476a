package io.edgefleet.controller.rollouts;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.rollouts.RolloutEngine.BatchView;
import io.edgefleet.controller.rollouts.RolloutEngine.DeviceView;
import io.edgefleet.controller.rollouts.RolloutEngine.State;
import io.edgefleet.controller.rollouts.RolloutEngine.Summary;
import io.edgefleet.controller.rollouts.RolloutEngine.View;
import io.edgefleet.controller.rollouts.RolloutRows.BatchRow;
import io.edgefleet.controller.rollouts.RolloutRows.MemberRow;
import io.edgefleet.controller.rollouts.RolloutRows.Row;
import io.edgefleet.controller.rollouts.RolloutStepper.Status;
import io.edgefleet.protocol.Durations;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.jdbi.v3.core.Jdbi;

/** Rollouts as the API shows them: lists, the latest of an app, and one with its details. */
final class RolloutQueries {
  private final Jdbi jdbi;
  private final Clock clock;
  private final RolloutStore store;
  private final Function<String, RolloutPolicy> policies;
  private final Function<String, DeviceStatus> presence;
  private final RolloutStaging staging;

  RolloutQueries(
      Jdbi jdbi,
      Clock clock,
      RolloutStore store,
      Function<String, RolloutPolicy> policies,
      Function<String, DeviceStatus> presence,
      RolloutStaging staging) {
    this.staging = staging;
    this.jdbi = jdbi;
    this.clock = clock;
    this.store = store;
    this.policies = policies;
    this.presence = presence;
  }

  List<Summary> list(Optional<String> app, Optional<State> state, int limit) {
    return jdbi.withHandle(
        h ->
            store.list(h, app, state, limit).stream()
                .map(l -> summary(l.row(), l.batches()))
                .toList());
  }

  Optional<Summary> latest(String subject) {
    return jdbi.withHandle(h -> store.latest(h, subject).map(l -> summary(l.row(), l.batches())));
  }

  View view(String id, boolean withDevices) {
    Instant now = clock.instant();
    return jdbi.withHandle(
        h -> {
          Row r = store.row(h, id).orElseThrow(() -> ControllerException.notFound("rollout", id));
          RolloutPolicy policy = policies.apply(r.policy());
          List<BatchRow> batches = store.batches(h, id);
          List<MemberRow> members = store.members(h, id, r.app());
          Map<String, Status> status =
              r.state().finished()
                  ? RolloutStepper.classify(members, r, batches, policy, now, presence)
                  : RolloutStepper.staging(
                      members,
                      RolloutStepper.classify(members, r, batches, policy, now, presence),
                      staging.progress(h, r.app(), r.toRevision(), RolloutEngine.waiting(members)),
                      batches,
                      policy,
                      now);
          List<BatchView> bv = new ArrayList<>();
          for (BatchRow b : batches) {
            List<MemberRow> in = members.stream().filter(m -> m.batch() == b.index()).toList();
            bv.add(
                new BatchView(
                    b.index(),
                    b.name(),
                    b.state(),
                    RolloutStepper.counts(in, status),
                    b.successPercent(),
                    b.failurePercent(),
                    Durations.human(Duration.ofMillis(b.soakMs())),
                    Durations.human(Duration.ofMillis(b.deadlineMs())),
                    instant(b.startedAt()),
                    instant(b.soakUntil()),
                    instant(b.finishedAt()),
                    b.reason()));
          }
          List<DeviceView> dv =
              withDevices
                  ? members.stream()
                      .map(
                          m ->
                              new DeviceView(
                                  m.deviceId(),
                                  m.name(),
                                  m.batch(),
                                  status.get(m.deviceId()).state(),
                                  m.running(),
                                  status.get(m.deviceId()).reason()))
                      .toList()
                  : List.of();
          return new View(
              r.id(),
              r.app(),
              r.source(),
              r.fromRevision(),
              r.toRevision(),
              r.state(),
              r.batch(),
              r.reason(),
              r.policy(),
              policy.describe(),
              RolloutStepper.counts(members, status),
              bv,
              dv,
              store.events(h, id),
              r.createdBy(),
              Instant.ofEpochMilli(r.createdAt()),
              Instant.ofEpochMilli(r.updatedAt()),
              instant(r.finishedAt()));
        });
  }

  private static Summary summary(Row r, int batches) {
    return new Summary(
        r.id(),
        r.app(),
        r.source(),
        r.fromRevision(),
        r.toRevision(),
        r.state(),
        r.batch(),
        batches,
        r.reason(),
        r.createdBy(),
        Instant.ofEpochMilli(r.createdAt()),
        Instant.ofEpochMilli(r.updatedAt()),
        instant(r.finishedAt()));
  }

  private static Instant instant(Long millis) {
    return millis == null ? null : Instant.ofEpochMilli(millis);
  }
}
