package io.edgefleet.agent;

import io.edgefleet.agent.Agent.State;
import io.edgefleet.protocol.ApiError;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.json.JsonCodec;
import java.io.IOException;
import java.util.Optional;

/**
 * What an error answer of the controller to enrollment or the connection means for the agent: an
 * error worth retrying soon (a retryable code, a server error) is backed off from as usual; a
 * device the controller will not serve (revoked, rejected, refused enrollment) waits long in a
 * refused state.
 *
 * @param message for the log and the status: what was refused, why, and the error code
 * @param state the refused state to wait in; empty when the error is retried with the usual backoff
 */
record Refusal(String message, Optional<State> state) {
  /**
   * @param body the answer's body, an {@link ApiError} if the controller sent one
   * @param what what was refused ({@code enrollment}, {@code connection})
   */
  static Refusal of(int status, String body, String what) {
    ApiError error = parseError(body).orElse(ApiError.of(ErrorCode.INTERNAL, "HTTP " + status));
    String message = what + " refused: " + error.message() + " [" + error.code() + "]";
    ErrorCode code = error.errorCode();
    if (code.retryable() || status >= 500) {
      return new Refusal(message, Optional.empty());
    }
    State s =
        switch (code) {
          case DEVICE_DECOMMISSIONED, DEVICE_UNKNOWN, CLIENT_CERTIFICATE_REQUIRED -> State.REVOKED;
          case ENROLLMENT_REJECTED -> State.REJECTED;
          default -> State.ENROLLMENT_REFUSED;
        };
    return new Refusal(message, Optional.of(s));
  }

  private static Optional<ApiError> parseError(String body) {
    try {
      return body == null || body.isBlank()
          ? Optional.empty()
          : Optional.ofNullable(JsonCodec.read(body, ApiError.class));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }
}
