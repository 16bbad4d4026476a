package io.edgefleet.controller.desired;

import io.edgefleet.protocol.ArtifactRef;
import java.util.List;

/**
 * How far a device is with artifacts it was told to stage, for people: {@code held}, or {@code
 * staging 40 MiB of 100 MiB (…)} with the device's reason for waiting. Must be thread-safe and not
 * block.
 */
@FunctionalInterface
public interface StagingStatus {
  /** Nothing is known of what devices hold. */
  StagingStatus NONE = (deviceId, required) -> "staging";

  String describe(String deviceId, List<ArtifactRef> required);
}
