package io.edgefleet.protocol.tunnel;

import io.edgefleet.protocol.ErrorCode;
import java.io.IOException;

/** A tunnel stream that cannot be used: it was reset, refused, or never opened. */
public final class TunnelException extends IOException {
  private final ErrorCode code;

  public TunnelException(ErrorCode code, String message) {
    super(message);
    this.code = code;
  }

  public ErrorCode code() {
    return code;
  }
}
