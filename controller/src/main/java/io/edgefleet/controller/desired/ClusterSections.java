package io.edgefleet.controller.desired;

import io.edgefleet.protocol.ClusterSpec;

/**
 * The {@code cluster} section of each device's desired state: the K3s node it should be. A change
 * of section is a change of the document (new generation); whoever changes a section asks the
 * engine to recompute the device.
 */
@FunctionalInterface
public interface ClusterSections {
  /** No device is a member of a cluster. */
  ClusterSections NONE = deviceId -> null;

  /** The section for this device, or null when it is no member of a cluster. */
  ClusterSpec sectionFor(String deviceId);
}
