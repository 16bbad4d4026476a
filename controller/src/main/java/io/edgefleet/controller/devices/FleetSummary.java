package io.edgefleet.controller.devices;

import java.util.List;

/**
 * Counts of devices by status. {@code total} counts every device, retired ones included; {@code
 * trusted} and {@code quarantined} count devices attested with a TPM by their trust state.
 */
public record FleetSummary(
    int total,
    int online,
    int degraded,
    int error,
    int offline,
    int neverSeen,
    int pending,
    int rejected,
    int decommissioned,
    int trusted,
    int quarantined) {

  /** Counts these statuses, one per device, without trust counts. */
  public static FleetSummary count(Iterable<DeviceStatus> statuses) {
    return count(statuses, List.of());
  }

  /**
   * Counts these statuses, one per device, and of the trust states given those that are {@code
   * TRUSTED} (attested devices whose boot matched) and {@code QUARANTINED}.
   */
  public static FleetSummary count(Iterable<DeviceStatus> statuses, Iterable<String> trust) {
    int trusted = 0;
    int quarantined = 0;
    for (String t : trust) {
      if (DeviceTrustView.TRUSTED.equals(t)) {
        trusted++;
      } else if (DeviceTrustView.QUARANTINED.equals(t)) {
        quarantined++;
      }
    }
    int[] n = new int[DeviceStatus.values().length];
    int total = 0;
    for (DeviceStatus s : statuses) {
      n[s.ordinal()]++;
      total++;
    }
    return new FleetSummary(
        total,
        n[DeviceStatus.ONLINE.ordinal()],
        n[DeviceStatus.DEGRADED.ordinal()],
        n[DeviceStatus.ERROR.ordinal()],
        n[DeviceStatus.OFFLINE.ordinal()],
        n[DeviceStatus.NEVER_SEEN.ordinal()],
        n[DeviceStatus.PENDING.ordinal()],
        n[DeviceStatus.REJECTED.ordinal()],
        n[DeviceStatus.DECOMMISSIONED.ordinal()],
        trusted,
        quarantined);
  }
}
