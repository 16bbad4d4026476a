package io.edgefleet.device.tpm;

/**
 * A TPM command failed: the TPM answered with a response code other than success ({@link
 * #responseCode()} and its name, like {@code TPM_RC_HANDLE}, are in the message with what it
 * means), or the TPM could not be reached or answered something unreadable ({@link #responseCode()}
 * is -1).
 */
public final class TpmException extends RuntimeException {
  private final String command;
  private final long responseCode;

  public TpmException(String command, long responseCode, String message, Throwable cause) {
    super(message, cause);
    this.command = command;
    this.responseCode = responseCode;
  }

  /** The failed command, like {@code TPM2_Quote}. */
  public String command() {
    return command;
  }

  /** The TPM response code, or -1 if the TPM gave none (unreachable, unreadable answer). */
  public long responseCode() {
    return responseCode;
  }

  /** The response code's base name ({@code TPM_RC_HANDLE}), or null if there is none. */
  public String responseName() {
    return responseCode < 0 ? null : ResponseCodes.name(responseCode);
  }

  static TpmException of(String command, long rc) {
    return new TpmException(
        command,
        rc,
        command
            + " failed: "
            + ResponseCodes.name(rc)
            + " (0x"
            + Long.toHexString(rc)
            + ResponseCodes.where(rc)
            + "): "
            + ResponseCodes.text(rc),
        null);
  }
}
