package io.edgefleet.controller.devices;

/** What operators see. Only devices that were never approved or were retired lack presence. */
public enum DeviceStatus {
  PENDING,
  NEVER_SEEN,
  ONLINE,
  OFFLINE,
  REJECTED,
  DECOMMISSIONED
}
