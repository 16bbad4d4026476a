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

  /**
   * The principal as it may act on a route that needs {@code permission}: unchanged when a role it
   * holds over the whole fleet grants the permission; otherwise confined to the projects where one
   * of its roles grants it, so that a role held within one project never counts in another project
   * or over the whole fleet (an operator in one project and a viewer in another changes nothing in
   * the second).
   */
  default Principal narrowTo(Principal principal, String permission) {
    return principal;
  }

  /**
   * The principal's roles that count on this device (held over the fleet, or within a project that
   * picks it): what a cluster's RBAC is told through impersonation.
   */
  default java.util.List<String> rolesOn(Principal principal, String deviceId) {
    return principal.roles();
  }
}
