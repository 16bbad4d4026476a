package io.edgefleet.agent.shell;

import io.edgefleet.protocol.ErrorCode;

/** Why a shell or file stream is refused: answered to the controller as a RESET with the code. */
public final class StreamRefusal extends Exception {
  private final ErrorCode code;

  public StreamRefusal(ErrorCode code, String message) {
    super(message);
    this.code = code;
  }

  public ErrorCode code() {
    return code;
  }
}
