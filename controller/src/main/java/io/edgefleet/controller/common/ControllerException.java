package io.edgefleet.controller.common;

import io.edgefleet.protocol.ErrorCode;

/**
 * The one root of the controller's errors. The code decides the HTTP status (see {@link
 * ErrorCode}); the message is shown to the caller and must say what to do next.
 */
public class ControllerException extends RuntimeException {
  private final ErrorCode code;

  public ControllerException(ErrorCode code, String message) {
    super(message);
    this.code = code;
  }

  public ControllerException(ErrorCode code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  public ErrorCode code() {
    return code;
  }

  public static ControllerException notFound(String what, String id) {
    return new ControllerException(ErrorCode.NOT_FOUND, what + " '" + id + "' does not exist");
  }

  public static ControllerException invalid(String message) {
    return new ControllerException(ErrorCode.VALIDATION_FAILED, message);
  }
}
