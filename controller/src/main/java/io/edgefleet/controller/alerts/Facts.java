package io.edgefleet.controller.alerts;

import io.edgefleet.controller.devices.DeviceStatus;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * What the rules are evaluated against, read once per tick and only for the rule types in use.
 *
 * @param devices active (enrolled, not retired) devices
 * @param failedApps apps whose state on a device is FAILED
 * @param disks the latest disk usage per device and mount
 * @param pausedRollouts rollouts in state PAUSED
 * @param degradedClusters K3s clusters in state DEGRADED
 */
record Facts(
    List<Device> devices,
    List<FailedApp> failedApps,
    List<Disk> disks,
    List<PausedRollout> pausedRollouts,
    List<DegradedCluster> degradedClusters) {

  static final Facts NONE = new Facts(List.of(), List.of(), List.of(), List.of(), List.of());

  Facts(
      List<Device> devices,
      List<FailedApp> failedApps,
      List<Disk> disks,
      List<PausedRollout> pausedRollouts) {
    this(devices, failedApps, disks, pausedRollouts, List.of());
  }

  /**
   * @param offlineSince when the device was last heard from or its connection closed, for an
   *     OFFLINE device; null otherwise
   * @param certificateExpiresAt null when the device has no certificate
   * @param quarantine why the device is quarantined and since when; null when it is not
   */
  record Device(
      String id,
      String name,
      Map<String, String> tags,
      DeviceStatus status,
      Instant offlineSince,
      Instant certificateExpiresAt,
      Quarantine quarantine) {
    Device(
        String id,
        String name,
        Map<String, String> tags,
        DeviceStatus status,
        Instant offlineSince,
        Instant certificateExpiresAt) {
      this(id, name, tags, status, offlineSince, certificateExpiresAt, null);
    }
  }

  /** A device's quarantine: why, and since when. */
  record Quarantine(String reason, Instant since) {}

  record FailedApp(String deviceId, String app, String reason) {}

  /**
   * {@code percent} is the last value of {@code disk.<mount>.used.percent} measured at {@code at}.
   */
  record Disk(String deviceId, String mount, double percent, Instant at) {}

  /**
   * @param since when the rollout last changed state (it was paused then)
   */
  record PausedRollout(String id, String app, String reason, Instant since) {}

  /**
   * @param reasons why the cluster is not at its desired shape, one sentence each
   */
  record DegradedCluster(String name, Map<String, String> labels, List<String> reasons) {}
}
