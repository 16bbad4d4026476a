package io.edgefleet.controller.secrets;

import java.util.Optional;

/**
 * Whether a device may be handed its secrets now, beyond being active and targeted: the device
 * trust checks (a quarantined device gets none) answer here.
 */
@FunctionalInterface
public interface SecretDeliveryPolicy {

  /**
   * Why this device may not receive secrets now, for the device and the operator; empty: it may.
   */
  Optional<String> refusal(String deviceId);

  /** Refuses no device. */
  SecretDeliveryPolicy ALLOW = deviceId -> Optional.empty();
}
