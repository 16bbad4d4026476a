package io.edgefleet.agent.runtime;

import java.time.Duration;

/**
 * The workload runtime cannot be asked right now (cluster unreachable, timed out, overloaded):
 * retryable, after {@link #retryAfter()} at the earliest. Thrown only by the queries ({@link
 * WorkloadRuntime#health}, {@link WorkloadRuntime#ownedApps}); changes answer {@link
 * ApplyOutcome.RetryAfter} instead.
 */
public final class RuntimeUnavailableException extends RuntimeException {
  private final transient Duration retryAfter;

  public RuntimeUnavailableException(String message, Duration retryAfter, Throwable cause) {
    super(message, cause);
    this.retryAfter = retryAfter;
  }

  public Duration retryAfter() {
    return retryAfter;
  }
}
