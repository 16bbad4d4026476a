package io.edgefleet.controller.health;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonUnwrapped;
import io.edgefleet.controller.devices.FleetSummary;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * Answer of {@code GET /api/v1/fleet/summary}: the counts per status (the fields it always had),
 * what they mean for the fleet in one sentence, and with {@code by} the same per tag value.
 *
 * @param selector the selector the devices were chosen by, if one was given
 * @param by the tag key the groups are by, if one was given
 * @param groups one per value of tag {@code by}, ordered by value; devices without the tag form the
 *     last group, without a value
 * @param agentVersions how many of the devices run each agent version (as they said when they last
 *     connected)
 */
public record FleetReport(
    @JsonUnwrapped FleetSummary counts,
    @JsonUnwrapped Health health,
    String selector,
    String by,
    List<Group> groups,
    @JsonInclude(JsonInclude.Include.NON_EMPTY) Map<String, Integer> clusters,
    @JsonInclude(JsonInclude.Include.NON_EMPTY) Map<String, Integer> agentVersions) {

  /** A report without agent versions. */
  public FleetReport(
      FleetSummary counts,
      Health health,
      String selector,
      String by,
      List<Group> groups,
      Map<String, Integer> clusters) {
    this(counts, health, selector, by, groups, clusters, Map.of());
  }

  /** A report without clusters. */
  public FleetReport(
      FleetSummary counts, Health health, String selector, String by, List<Group> groups) {
    this(counts, health, selector, by, groups, Map.of());
  }

  /** The devices of one value of the {@code by} tag. */
  public record Group(
      String value, @JsonUnwrapped FleetSummary counts, @JsonUnwrapped Health health) {}

  /**
   * What the counts mean. Devices in the fleet are the enrolled ones (not pending, rejected or
   * retired). A device tagged {@code maintenance-mode=true} counts as in maintenance whatever its
   * status; of the others, ONLINE and DEGRADED ones are operational.
   *
   * @param enrolled devices in the fleet: online, degraded, in error, offline or never seen
   * @param operational enrolled devices, not in maintenance, that are ONLINE or DEGRADED
   * @param operationalPercent {@code operational} of {@code enrolled}, rounded down to 0.1
   * @param updating operational devices still converging on their desired state (not late yet)
   * @param maintenance enrolled devices in maintenance
   * @param offlineSince since when the longest-offline device (not in maintenance) is offline
   * @param sentence all of it for a person, e.g. "99.5 % of 2,000 devices are operational …"
   */
  public record Health(
      int enrolled,
      int operational,
      double operationalPercent,
      int updating,
      int maintenance,
      Instant offlineSince,
      String sentence) {}
}
