package io.edgefleet.controller.rollouts;

import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.controller.rollouts.RolloutEngine.Member;
import io.edgefleet.controller.rollouts.RolloutRows.Row;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jdbi.v3.core.Handle;

/**
 * Which devices are in which batch of a rollout. A new rollout plans its batches over the active
 * devices its target matches; afterwards, at most every {@value #REFRESH_SECONDS} seconds or when
 * devices changed, a device no longer targeted leaves, and a newly targeted one joins the last
 * batch (one that had left comes back where it was).
 */
final class RolloutMembership {
  static final int REFRESH_SECONDS = 30;
  private static final Duration REFRESH = Duration.ofSeconds(REFRESH_SECONDS);

  private final RolloutStore store;
  private final Map<String, Instant> checkedAt = new ConcurrentHashMap<>();

  RolloutMembership(RolloutStore store) {
    this.store = store;
  }

  /** The active devices the target matches, by id. */
  List<BatchPlanner.Member> targeted(Handle h, AppCatalog.Target target) {
    return store.activeDevices(h).stream().filter(m -> target.matches(m.tags())).toList();
  }

  /**
   * Plans a new rollout's batches over the devices targeted now and adds them, each with what it
   * was told to run before. The first batch starts at {@code now}.
   */
  List<BatchPlanner.PlannedBatch> plan(
      Handle h,
      String id,
      String app,
      RolloutPolicy policy,
      List<BatchPlanner.Member> targeted,
      Instant now) {
    List<BatchPlanner.PlannedBatch> plan = BatchPlanner.plan(policy, targeted);
    Map<String, String[]> previous = store.previousEntries(h, app);
    for (BatchPlanner.PlannedBatch b : plan) {
      store.insertBatch(
          h, id, b.index(), b.name(), b.thresholds(), b.index() == 0 ? now.toEpochMilli() : null);
      for (String device : b.deviceIds()) {
        store.addMember(h, id, device, b.index(), previous.get(device));
      }
    }
    return plan;
  }

  /** The membership of a rollout was checked at {@code now}. */
  void checked(String id, Instant now) {
    checkedAt.put(id, now);
  }

  /** Refreshes the membership of a rollout if it is due, or {@code force}d. */
  void refreshIfDue(Handle h, Row r, AppCatalog.Target target, Instant now, boolean force) {
    Instant checked = checkedAt.get(r.id());
    if (force || checked == null || Duration.between(checked, now).compareTo(REFRESH) >= 0) {
      refresh(h, r, target, now.toEpochMilli());
      checkedAt.put(r.id(), now);
    }
  }

  private void refresh(Handle h, Row r, AppCatalog.Target target, long now) {
    Map<String, BatchPlanner.Member> matching = new LinkedHashMap<>();
    targeted(h, target).forEach(m -> matching.put(m.deviceId(), m));
    Map<String, Member> known = store.memberStates(h, r.id());
    List<String> left = new ArrayList<>();
    for (var e : known.entrySet()) {
      if (e.getValue() != Member.LEFT && !matching.containsKey(e.getKey())) {
        left.add(e.getKey());
      }
    }
    for (String d : left) {
      store.leave(h, r.id(), d);
    }
    List<String> joined = new ArrayList<>();
    int last = store.lastBatch(h, r.id());
    Map<String, String[]> previous = null;
    for (String d : matching.keySet()) {
      Member m = known.get(d);
      if (m == null) {
        if (previous == null) {
          previous = store.previousEntries(h, r.app());
        }
        store.addMember(h, r.id(), d, last, previous.get(d));
        joined.add(d);
      } else if (m == Member.LEFT) {
        store.rejoin(h, r.id(), d);
        joined.add(d);
      }
    }
    if (!left.isEmpty()) {
      store.event(
          h,
          r.id(),
          now,
          "DEVICES_LEFT",
          null,
          "no longer targeted: " + RolloutStepper.abbreviate(left));
    }
    if (!joined.isEmpty()) {
      store.event(
          h,
          r.id(),
          now,
          "DEVICES_JOINED",
          last,
          "joined the last batch: " + RolloutStepper.abbreviate(joined));
    }
  }
}
