package io.edgefleet.controller.devices;

import io.edgefleet.protocol.Durations;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/**
 * The status of a device as its lifecycle and presence tell it, with its reason and since when it
 * holds: what the health model refines and the device service shows. From memory only; thread-safe.
 */
public final class DeviceStatuses {
  private final Clock clock;
  private final Presence presence;
  private final Duration offlineAfter;

  /**
   * @param offlineAfter how long a device may stay silent before it counts as offline
   */
  public DeviceStatuses(Clock clock, Presence presence, Duration offlineAfter) {
    this.clock = clock;
    this.presence = presence;
    this.offlineAfter = offlineAfter;
  }

  /** The status of {@code d} as of {@code now}, before any refinement. */
  public DeviceService.Status derive(DeviceRecord d, Instant now) {
    return derive(d, presence.snapshot(d.id()), now);
  }

  /** As {@link #derive(DeviceRecord, Instant)}, from a presence snapshot already read. */
  DeviceService.Status derive(DeviceRecord d, Presence.Snapshot p, Instant now) {
    DeviceStatus status;
    String reason;
    Instant since;
    switch (d.lifecycle()) {
      case PENDING -> {
        status = DeviceStatus.PENDING;
        reason = "waiting for an operator to approve enrollment code " + d.enrollmentCode();
        since = orNow(d.createdAt(), now);
      }
      case REJECTED -> {
        status = DeviceStatus.REJECTED;
        reason = "enrollment rejected by an operator";
        since = now;
      }
      case DECOMMISSIONED -> {
        status = DeviceStatus.DECOMMISSIONED;
        reason = "decommissioned " + ago(now, d.decommissionedAt()) + "; certificate revoked";
        since = orNow(d.decommissionedAt(), now);
      }
      default -> {
        status = presenceStatus(p, now);
        since =
            switch (status) {
              case NEVER_SEEN -> orNow(d.enrolledAt(), now);
              case OFFLINE ->
                  droppedAfterSeen(p)
                      ? p.disconnectedAt().orElseThrow()
                      : p.lastSeen().orElseThrow();
              default -> now;
            };
        reason =
            switch (status) {
              case NEVER_SEEN ->
                  "enrolled " + ago(now, d.enrolledAt()) + ", has not connected since";
              case ONLINE -> "connected, last heard from " + ago(now, p.lastSeen().orElseThrow());
              default ->
                  droppedAfterSeen(p)
                      ? "connection closed "
                          + ago(now, p.disconnectedAt().orElseThrow())
                          + ", not back since"
                      : "nothing heard for "
                          + Durations.human(Duration.between(p.lastSeen().orElseThrow(), now));
            };
      }
    }
    return new DeviceService.Status(status, reason, since);
  }

  /**
   * ONLINE, OFFLINE or NEVER_SEEN for an enrolled device, from memory only (no database read):
   * cheap enough to call for every row of a fleet-wide view.
   */
  public DeviceStatus presenceStatus(String deviceId) {
    return presenceStatus(presence.snapshot(deviceId), clock.instant());
  }

  private DeviceStatus presenceStatus(Presence.Snapshot p, Instant now) {
    if (p.lastSeen().isEmpty()) {
      return DeviceStatus.NEVER_SEEN;
    }
    boolean fresh =
        Duration.between(p.lastSeen().get(), now).compareTo(offlineAfter.plus(p.staleBy())) <= 0;
    return fresh && !droppedAfterSeen(p) ? DeviceStatus.ONLINE : DeviceStatus.OFFLINE;
  }

  private static boolean droppedAfterSeen(Presence.Snapshot p) {
    return !p.connected()
        && p.lastSeen().isPresent()
        && p.disconnectedAt().map(t -> !t.isBefore(p.lastSeen().get())).orElse(false);
  }

  private static Instant orNow(Instant then, Instant now) {
    return then == null ? now : then;
  }

  private static String ago(Instant now, Instant then) {
    return then == null
        ? "at an unknown time"
        : Durations.human(Duration.between(then, now)) + " ago";
  }
}
