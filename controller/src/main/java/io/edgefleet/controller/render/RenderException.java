package io.edgefleet.controller.render;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;

/**
 * An application cannot be rendered for a device: a missing device tag named by {@code ${tag:KEY}},
 * an override that breaks the chart, or a Helm failure. The message names the application and says
 * what to change. Not retryable: the same inputs fail the same way.
 */
public final class RenderException extends ControllerException {
  public RenderException(String message) {
    super(ErrorCode.VALIDATION_FAILED, message);
  }

  /**
   * A render error with a more precise code than {@code VALIDATION_FAILED}, such as {@code
   * WORKLOAD_INVALID}.
   */
  public RenderException(ErrorCode code, String message) {
    super(code, message);
  }

  public RenderException(String message, Throwable cause) {
    super(ErrorCode.VALIDATION_FAILED, message, cause);
  }
}
