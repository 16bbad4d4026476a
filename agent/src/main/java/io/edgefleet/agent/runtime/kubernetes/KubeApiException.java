package io.edgefleet.agent.runtime.kubernetes;

/**
 * A request to the Kubernetes API server failed: it answered an error status, or did not answer at
 * all ({@link #status()} 0: refused, reset, timed out, TLS failure).
 */
final class KubeApiException extends RuntimeException {
  private final int status;
  private final String reason;

  /**
   * @param status the HTTP status, or 0 when there was no answer
   * @param reason the API's machine-readable reason ({@code NotFound}, {@code Invalid}), or ""
   * @param message for people: the API's message, or what went wrong on the way
   */
  KubeApiException(int status, String reason, String message, Throwable cause) {
    super(message, cause);
    this.status = status;
    this.reason = reason;
  }

  int status() {
    return status;
  }

  String reason() {
    return reason;
  }

  boolean answered() {
    return status > 0;
  }
}
