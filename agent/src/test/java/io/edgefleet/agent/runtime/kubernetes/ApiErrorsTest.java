package io.edgefleet.agent.runtime.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.RuntimeUnavailableException;
import java.net.ConnectException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class ApiErrorsTest {
  private final ApiErrors errors = new ApiErrors(Duration.ofSeconds(15), Duration.ofSeconds(5));

  private static KubeApiException answered(int status, String reason, String message) {
    return new KubeApiException(status, reason, message, null);
  }

  @Test
  void rejectionsAreFinalWithTheServersMessage() {
    assertThat(
            errors.outcome(
                "apply deployment web",
                answered(
                    422,
                    "Invalid",
                    "Deployment.apps \"web\" is invalid: spec.selector: Required value")))
        .isEqualTo(
            new ApplyOutcome.Failed(
                "apply deployment web: Deployment.apps \"web\" is invalid: spec.selector: Required"
                    + " value (HTTP 422 Invalid)"));
    for (int code : new int[] {400, 401, 403, 404}) {
      assertThat(errors.outcome("x", answered(code, "R", "m")))
          .isInstanceOf(ApplyOutcome.Failed.class);
    }
    assertThat(errors.outcome("x", answered(403, "", "no")))
        .isEqualTo(new ApplyOutcome.Failed("x: no (HTTP 403)"));
  }

  @Test
  void overloadAndServerErrorsAreRetriedSoon() {
    for (int code : new int[] {408, 409, 429, 500, 503, 504}) {
      assertThat(errors.outcome("x", answered(code, "R", "m")))
          .isEqualTo(
              new ApplyOutcome.RetryAfter(Duration.ofSeconds(5), "x: m (HTTP " + code + " R)"));
    }
  }

  @Test
  void noAnswerIsRetriedLater() {
    KubeApiException refused =
        new KubeApiException(
            0,
            "",
            "API server unreachable (ConnectException)",
            new ConnectException("Connection refused"));
    assertThat(errors.outcome("apply deployment web", refused))
        .isEqualTo(
            new ApplyOutcome.RetryAfter(
                Duration.ofSeconds(15),
                "apply deployment web: API server unreachable (ConnectException)"));
  }

  @Test
  void queriesTurnRetryableErrorsIntoUnavailable() {
    RuntimeException e =
        errors.forQuery("health", answered(503, "ServiceUnavailable", "etcd down"));
    assertThat(e).isInstanceOf(RuntimeUnavailableException.class);
    assertThat(((RuntimeUnavailableException) e).retryAfter()).isEqualTo(Duration.ofSeconds(5));
    assertThat(e).hasMessage("health: etcd down (HTTP 503 ServiceUnavailable)");
    RuntimeException forbidden = errors.forQuery("list", answered(403, "Forbidden", "no"));
    assertThat(forbidden)
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("list: no (HTTP 403 Forbidden)");
  }
}
