package io.edgefleet.controller.desired;

import io.edgefleet.protocol.AgentRelease;
import io.edgefleet.protocol.DeviceFacts;
import java.util.Map;
import java.util.function.Supplier;
import org.jdbi.v3.core.Handle;

/**
 * The {@code agent} section of each device's desired state: the signed agent release the device
 * should run. A change of section is a change of the document (new generation); whoever changes
 * what a device should run asks the engine to recompute it. Implementations run in the engine's
 * transaction and must be thread-safe.
 */
@FunctionalInterface
public interface AgentSections {
  /** No device is told which agent to run. */
  AgentSections NONE = (h, deviceId, facts, tags, previous) -> null;

  /**
   * The release for this device, or null when it is told none (it keeps the agent it runs).
   *
   * @param facts what the device reported (its architecture); null when it reported nothing
   * @param previous the release the device's current document names (null when none)
   */
  AgentRelease sectionFor(
      Handle h,
      String deviceId,
      DeviceFacts facts,
      Map<String, String> tags,
      Supplier<AgentRelease> previous);
}
