package io.edgefleet.protocol;

/** The body of every error answer: a stable code and a sentence a person can act on. */
public record ApiError(String code, String message) {
  public ApiError {
    if (code == null || code.isBlank()) {
      throw new IllegalArgumentException("code is required");
    }
    message = message == null ? "" : message;
  }

  public static ApiError of(ErrorCode code, String message) {
    return new ApiError(code.name(), message);
  }

  public ErrorCode errorCode() {
    return ErrorCode.parse(code);
  }
}
