package io.edgefleet.controller.devices;

/**
 * What operators see. Only devices that were never approved or were retired lack presence. {@code
 * DEGRADED} (reachable, something unhealthy) and {@code ERROR} (reachable, cannot apply its desired
 * state) refine {@code ONLINE}; an {@code OFFLINE} device is never {@code ERROR}.
 */
public enum DeviceStatus {
  PENDING,
  NEVER_SEEN,
  ONLINE,
  DEGRADED,
  ERROR,
  OFFLINE,
  REJECTED,
  DECOMMISSIONED
}
