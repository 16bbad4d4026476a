package io.edgefleet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.agent.Agent.State;
import io.edgefleet.protocol.ApiError;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class RefusalTest {
  private static String body(ErrorCode code, String message) {
    return Json.write(ApiError.of(code, message));
  }

  @Test
  void aDeviceTheControllerWillNotServeWaitsInTheStateThatSaysWhy() {
    assertThat(Refusal.of(403, body(ErrorCode.DEVICE_DECOMMISSIONED, "gone"), "connection"))
        .isEqualTo(
            new Refusal(
                "connection refused: gone [DEVICE_DECOMMISSIONED]", Optional.of(State.REVOKED)));
    assertThat(Refusal.of(403, body(ErrorCode.DEVICE_UNKNOWN, "who"), "connection").state())
        .contains(State.REVOKED);
    assertThat(
            Refusal.of(401, body(ErrorCode.CLIENT_CERTIFICATE_REQUIRED, "cert"), "connection")
                .state())
        .contains(State.REVOKED);
    assertThat(Refusal.of(403, body(ErrorCode.ENROLLMENT_REJECTED, "no"), "enrollment"))
        .isEqualTo(
            new Refusal(
                "enrollment refused: no [ENROLLMENT_REJECTED]", Optional.of(State.REJECTED)));
    assertThat(
            Refusal.of(401, body(ErrorCode.ONBOARDING_TOKEN_INVALID, "bad token"), "enrollment")
                .state())
        .contains(State.ENROLLMENT_REFUSED);
  }

  @Test
  void retryableCodesAndServerErrorsAreRetriedWithTheUsualBackoff() {
    assertThat(Refusal.of(429, body(ErrorCode.RATE_LIMITED, "slow down"), "enrollment"))
        .isEqualTo(new Refusal("enrollment refused: slow down [RATE_LIMITED]", Optional.empty()));
    // A server error is retried whatever its code says.
    assertThat(Refusal.of(502, body(ErrorCode.FORBIDDEN, "proxy"), "connection").state()).isEmpty();
  }

  @Test
  void anAnswerWithoutAnErrorBodyIsAnInternalErrorNamedByItsStatus() {
    assertThat(Refusal.of(502, "<html>bad gateway</html>", "connection"))
        .isEqualTo(new Refusal("connection refused: HTTP 502 [INTERNAL]", Optional.empty()));
    assertThat(Refusal.of(401, "", "enrollment"))
        .isEqualTo(new Refusal("enrollment refused: HTTP 401 [INTERNAL]", Optional.empty()));
    assertThat(Refusal.of(401, null, "enrollment").state()).isEmpty();
  }
}
