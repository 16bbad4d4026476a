package io.edgefleet.agent.runtime.container;

/** Podman could not be run or did not answer in time: retryable. */
final class PodmanException extends RuntimeException {
  PodmanException(String message, Throwable cause) {
    super(message, cause);
  }
}
