package io.edgefleet.controller.render;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;

/**
 * Helm could not run at all, whatever the chart: its process could not be started or did not become
 * ready, or the controller is stopping. Code {@code UNAVAILABLE} (retryable): unlike a {@link
 * RenderException} it says nothing about the chart, so it is never cached and never refuses a
 * commit; the same request may succeed later.
 */
public final class HelmUnavailableException extends ControllerException {
  public HelmUnavailableException(String message) {
    super(ErrorCode.UNAVAILABLE, message);
  }

  public HelmUnavailableException(String message, Throwable cause) {
    super(ErrorCode.UNAVAILABLE, message, cause);
  }
}
