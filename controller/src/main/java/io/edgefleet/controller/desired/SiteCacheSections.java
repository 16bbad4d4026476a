package io.edgefleet.controller.desired;

import io.edgefleet.protocol.DesiredState;
import java.util.Map;

/**
 * The {@code siteCache} section of each device's desired state: the device of its site that serves
 * blobs over the LAN, or itself to serve. A change of section is a change of the document (new
 * generation); whoever changes what it depends on asks the engine to recompute the devices.
 * Implementations must be thread-safe and must not block for long.
 */
@FunctionalInterface
public interface SiteCacheSections {
  /** No device has a site cache. */
  SiteCacheSections NONE = (id, tags) -> null;

  /** The section for the device {@code deviceId} with these tags; null for none. */
  DesiredState.SiteCache sectionFor(String deviceId, Map<String, String> tags);
}
