package io.edgefleet.controller.desired;

import io.edgefleet.protocol.DesiredState;
import java.util.Map;

/**
 * The {@code downloads} section of each device's desired state: when and how much the device may
 * download artifacts. A change of section is a change of the document (new generation); whoever
 * changes the policies asks the engine to recompute the devices. Implementations must be
 * thread-safe and must not block.
 */
@FunctionalInterface
public interface DownloadSections {
  /** Every device may download at any time, without a budget. */
  DownloadSections NONE = tags -> null;

  /** The section for a device with these tags; null for any time without a budget. */
  DesiredState.DownloadPolicy sectionFor(Map<String, String> tags);
}
