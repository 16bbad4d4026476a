package io.edgefleet.controller.devices;

/** Counts of devices by status. {@code total} counts every device, retired ones included. */
public record FleetSummary(
    int total,
    int online,
    int degraded,
    int error,
    int offline,
    int neverSeen,
    int pending,
    int rejected,
    int decommissioned) {

  /** Counts these statuses, one per device. */
  public static FleetSummary count(Iterable<DeviceStatus> statuses) {
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
        n[DeviceStatus.DECOMMISSIONED.ordinal()]);
  }
}
