package io.edgefleet.agent.runtime.kubernetes;

import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.RuntimeUnavailableException;
import java.time.Duration;

/**
 * Sorts what the API server (or the way to it) answered into "try again later" and "will not work
 * as asked". Thread-safe.
 *
 * <p>Retryable: no answer at all (connection refused or reset, timeouts, TLS to a restarting
 * server), 408, 409 (a concurrent writer, or a delete precondition), 429 and every 5xx. Everything
 * else the server answered (400, 401, 403, 404 unknown kind or namespace, 422 invalid) is final for
 * the same input.
 */
final class ApiErrors {
  private final Duration unreachableDelay;
  private final Duration busyDelay;

  /**
   * @param unreachableDelay suggested wait when the API server did not answer
   * @param busyDelay suggested wait when it answered "not now" (409, 429, 5xx)
   */
  ApiErrors(Duration unreachableDelay, Duration busyDelay) {
    this.unreachableDelay = unreachableDelay;
    this.busyDelay = busyDelay;
  }

  static boolean retryable(KubeApiException e) {
    int s = e.status();
    return s == 0 || s == 408 || s == 409 || s == 429 || s >= 500;
  }

  /** The outcome of a change that failed while {@code doing} (e.g. "apply deployment web"). */
  ApplyOutcome outcome(String doing, KubeApiException error) {
    String reason = doing + ": " + describe(error);
    if (!retryable(error)) {
      return new ApplyOutcome.Failed(reason);
    }
    return new ApplyOutcome.RetryAfter(delay(error), reason);
  }

  /**
   * For queries, which have no outcome to carry the error: a retryable error becomes {@link
   * RuntimeUnavailableException}, a final one (403: the kubeconfig's user may not read) {@link
   * IllegalStateException}.
   */
  RuntimeException forQuery(String doing, KubeApiException error) {
    String message = doing + ": " + describe(error);
    if (!retryable(error)) {
      return new IllegalStateException(message, error);
    }
    return new RuntimeUnavailableException(message, delay(error), error);
  }

  /** For a person: the server's message and status, or what went wrong on the way. */
  static String describe(KubeApiException e) {
    if (!e.answered()) {
      return e.getMessage();
    }
    String reason = e.reason().isEmpty() ? "" : " " + e.reason();
    return e.getMessage() + " (HTTP " + e.status() + reason + ")";
  }

  private Duration delay(KubeApiException e) {
    return e.answered() ? busyDelay : unreachableDelay;
  }
}
