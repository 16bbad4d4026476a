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
}
