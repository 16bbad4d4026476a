package io.edgefleet.protocol.tpm;

/** A TPM structure that does not parse: truncated, oversized, or with an unsupported field. */
public final class TpmFormatException extends RuntimeException {
  public TpmFormatException(String message) {
    super(message);
  }
}
