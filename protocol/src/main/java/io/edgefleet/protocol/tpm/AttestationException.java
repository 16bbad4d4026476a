package io.edgefleet.protocol.tpm;

/**
 * Evidence from a device that does not prove what it claims: a malformed structure, a signature
 * that does not verify, a quote over the wrong nonce or PCRs, an event log that does not replay to
 * the quoted values, an endorsement key no configured root vouches for. {@link #reason()} is the
 * stable code; the message names what differs so a person can act on it.
 */
public final class AttestationException extends Exception {
  /** Why evidence was refused. */
  public enum Reason {
    /** A structure does not parse, is truncated, oversized or not base64. */
    MALFORMED,
    /** The signature does not verify with the attestation key. */
    BAD_SIGNATURE,
    /** The quote is not over the nonce of the challenge. */
    NONCE_MISMATCH,
    /** The quote covers other PCRs than asked for. */
    PCR_SELECTION_MISMATCH,
    /** The reported PCR values do not hash to the quote's digest. */
    PCR_DIGEST_MISMATCH,
    /** The event log does not replay to the quoted PCR values. */
    EVENT_LOG_MISMATCH,
    /** The endorsement key's certificate chains to no configured root. */
    EK_UNTRUSTED,
    /** The endorsement key is not the key its certificate names, or not the one enrolled. */
    EK_MISMATCH,
    /** The attestation key is not a restricted signing key of the TPM. */
    AK_NOT_RESTRICTED,
    /** The device key is not shown to live in the same TPM as the attestation key. */
    KEY_NOT_IN_TPM
  }

  private final Reason reason;

  public AttestationException(Reason reason, String message) {
    super(message);
    this.reason = reason;
  }

  public AttestationException(Reason reason, String message, Throwable cause) {
    super(message, cause);
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }

  /** Reason and message, e.g. {@code NONCE_MISMATCH: the quote carries ...}. */
  @Override
  public String toString() {
    return reason + ": " + getMessage();
  }
}
