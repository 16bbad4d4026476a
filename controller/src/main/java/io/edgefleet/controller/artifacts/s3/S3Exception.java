package io.edgefleet.controller.artifacts.s3;

import java.io.IOException;

/** An S3 service answered with an error: its HTTP status and, when it sent one, its error code. */
public final class S3Exception extends IOException {
  private final int status;
  private final String code;

  S3Exception(int status, String code, String message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  public int status() {
    return status;
  }

  /** The service's error code, such as {@code NoSuchBucket}; empty when it sent none. */
  public String code() {
    return code;
  }

  /** Whether trying again may help (the service or a proxy in front of it was busy or failing). */
  boolean transientFailure() {
    return status >= 500 || status == 429;
  }
}
