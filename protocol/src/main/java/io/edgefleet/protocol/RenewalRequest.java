package io.edgefleet.protocol;

/**
 * A connected device asks for a fresh certificate before the current one expires. Sent over mutual
 * TLS with the current certificate. The CSR is for a new key (the device rotates its key at each
 * renewal; the old certificate stays valid until it expires, so nothing breaks in between), or for
 * the same key from older agents.
 *
 * @param tpmKey for a device enrolled with a TPM: evidence that the new key lives in the same TPM
 *     (certified by the attestation key registered at enrollment); required for such devices
 */
public record RenewalRequest(
    String csrPem,
    @com.fasterxml.jackson.annotation.JsonInclude(
            com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
        TpmKeyProof tpmKey) {
  public RenewalRequest(String csrPem) {
    this(csrPem, null);
  }
}
