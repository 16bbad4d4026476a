package io.edgefleet.controller.api;

/** Turns an operator's bearer token into who they are and what they may do. */
@FunctionalInterface
public interface Authenticator {
  /**
   * @param token the bearer token as sent, without the {@code Bearer } prefix
   * @throws io.edgefleet.controller.common.ControllerException {@code UNAUTHENTICATED} for an
   *     unknown or revoked token, {@code TOKEN_EXPIRED} for an expired one
   */
  Principal authenticate(String token);

  /**
   * Whether the principal may see this device at all; asked for routes under {@code
   * /api/v1/devices/{id}} when the principal's roles are held within projects only. A device it may
   * not see is answered as one that does not exist.
   *
   * @param deviceId the device id or pending enrollment code from the path
   */
  default boolean sees(Principal principal, String deviceId) {
    return true;
  }
}
