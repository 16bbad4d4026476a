package io.edgefleet.agent;

/** The one root of the agent's errors; {@link Code} says what kind, stably. */
public class AgentException extends RuntimeException {

  /** Agent-side error codes; controller answers keep their own {@code ErrorCode} in the message. */
  public enum Code {
    BOOTSTRAP_INVALID,
    STATE_CORRUPT,
    STATE_PERMISSIONS,
    CA_FINGERPRINT_MISMATCH,
    CONTROLLER_UNREACHABLE,
    ENROLLMENT_REFUSED,
    PROTOCOL,
    /** The TPM holding the device key cannot be used. */
    TPM_UNAVAILABLE
  }

  private final Code code;

  public AgentException(Code code, String message) {
    super(message);
    this.code = code;
  }

  public AgentException(Code code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  public Code code() {
    return code;
  }
}
