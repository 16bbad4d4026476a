package io.edgefleet.controller.health;

import java.time.Duration;

/**
 * The thresholds behind {@code DEGRADED}.
 *
 * @param diskPercent a file system at least this full (its last sample) is a problem
 * @param memoryPercent memory at least this used (mean over the last summary) is a problem
 * @param notReadyAfter an app not READY on its desired revision this long after it was desired
 *     (counted from when the device was last reachable, if later) is a problem
 * @param metricsMaxAge metric summaries older than this are not judged: they say nothing about now
 * @param refresh how often every device's app state and refusals are re-read from the database as a
 *     safety net; changes the controller sees happen are picked up at the next tick anyway
 * @param maintenanceTag a device with this tag set to {@code true} is in maintenance
 */
public record HealthPolicy(
    double diskPercent,
    double memoryPercent,
    Duration notReadyAfter,
    Duration metricsMaxAge,
    Duration refresh,
    String maintenanceTag) {

  public static final String MAINTENANCE_TAG = "maintenance-mode";

  public static HealthPolicy defaults() {
    return new HealthPolicy(
        90,
        90,
        Duration.ofMinutes(10),
        Duration.ofMinutes(30),
        Duration.ofMinutes(5),
        MAINTENANCE_TAG);
  }

  public HealthPolicy withNotReadyAfter(Duration d) {
    return new HealthPolicy(diskPercent, memoryPercent, d, metricsMaxAge, refresh, maintenanceTag);
  }
}
