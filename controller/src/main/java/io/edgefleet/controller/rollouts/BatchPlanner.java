package io.edgefleet.controller.rollouts;

import io.edgefleet.controller.rollouts.RolloutPolicy.BatchSpec;
import io.edgefleet.controller.rollouts.RolloutPolicy.ByTag;
import io.edgefleet.controller.rollouts.RolloutPolicy.Count;
import io.edgefleet.controller.rollouts.RolloutPolicy.Percent;
import io.edgefleet.controller.rollouts.RolloutPolicy.Thresholds;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;

/**
 * Splits the devices targeted by a rollout into the batches of a {@link RolloutPolicy}.
 *
 * <p>The plan is deterministic: devices are taken in ascending {@code deviceId} order. A {@link
 * Percent} is a percentage of <em>all</em> targeted devices, rounded up, at least 1; a {@link
 * Count} is that many devices; both are capped at the devices remaining. A {@link ByTag} takes all
 * remaining devices, one batch per value of the tag in ascending order (named {@code tag=value}),
 * then one batch {@code tag=(none)} of the devices without the tag. Devices left after every spec
 * form a final batch {@code rest} with the policy's default thresholds. Empty batches are dropped,
 * and indices are 0-based and contiguous after dropping.
 *
 * <p>Stateless and thread-safe.
 */
public final class BatchPlanner {
  private BatchPlanner() {}

  /** A device targeted by a rollout, with its tags. */
  public record Member(String deviceId, Map<String, String> tags) {
    public Member {
      Objects.requireNonNull(deviceId, "deviceId");
      tags = Map.copyOf(tags);
    }
  }

  /** One batch of the plan; {@code deviceIds} are in ascending order and never empty. */
  public record PlannedBatch(
      int index, String name, Thresholds thresholds, List<String> deviceIds) {
    public PlannedBatch {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(thresholds, "thresholds");
      deviceIds = List.copyOf(deviceIds);
    }
  }

  /**
   * Plans the batches of {@code devices} under {@code policy}; every device lands in exactly one
   * batch. Zero devices give an empty list.
   *
   * @throws IllegalArgumentException if two members have the same device id
   */
  public static List<PlannedBatch> plan(RolloutPolicy policy, List<Member> devices) {
    List<Member> sorted = new ArrayList<>(devices);
    sorted.sort(Comparator.comparing(Member::deviceId));
    Set<String> seen = new HashSet<>();
    for (Member m : sorted) {
      if (!seen.add(m.deviceId())) {
        throw new IllegalArgumentException("device " + m.deviceId() + " is listed twice");
      }
    }
    int total = sorted.size();
    List<PlannedBatch> plan = new ArrayList<>();
    int next = 0;
    for (BatchSpec spec : policy.batches()) {
      int remaining = total - next;
      switch (spec.size()) {
        case Count c -> {
          int n = Math.min(c.devices(), remaining);
          add(plan, spec.name(), spec.thresholds(), sorted.subList(next, next + n));
          next += n;
        }
        case Percent p -> {
          long wanted = Math.max(1, ((long) p.percent() * total + 99) / 100);
          int n = (int) Math.min(wanted, remaining);
          add(plan, spec.name(), spec.thresholds(), sorted.subList(next, next + n));
          next += n;
        }
        case ByTag byTag -> {
          Map<String, List<Member>> groups = new TreeMap<>();
          List<Member> untagged = new ArrayList<>();
          for (Member m : sorted.subList(next, total)) {
            String value = m.tags().get(byTag.tag());
            if (value == null) {
              untagged.add(m);
            } else {
              groups.computeIfAbsent(value, v -> new ArrayList<>()).add(m);
            }
          }
          groups.forEach(
              (value, members) -> add(plan, byTag.tag() + "=" + value, spec.thresholds(), members));
          add(plan, byTag.tag() + "=(none)", spec.thresholds(), untagged);
          next = total;
        }
      }
    }
    add(plan, "rest", policy.defaultThresholds(), sorted.subList(next, total));
    return List.copyOf(plan);
  }

  private static void add(
      List<PlannedBatch> plan, String name, Thresholds thresholds, List<Member> members) {
    if (!members.isEmpty()) {
      plan.add(
          new PlannedBatch(
              plan.size(), name, thresholds, members.stream().map(Member::deviceId).toList()));
    }
  }
}
