package io.edgefleet.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * What a device with a TPM adds to its enrollment request. The first request carries the
 * endorsement and attestation keys; the controller answers {@link
 * EnrollmentResponse.Status#ACTIVATE} with a credential only that TPM can unwrap, and the device
 * repeats its request with the unwrapped credential and a quote over the challenge's nonce, which
 * becomes the device's measured-boot reference.
 *
 * @param ekCertificatePem the EK certificate read from the TPM's NV memory
 * @param ekChainPem intermediate certificates up to the manufacturer root, if the device has them
 * @param ekPublic base64 of the EK's TPMT_PUBLIC (RSA 2048, the TCG template)
 * @param akPublic base64 of the attestation key's TPMT_PUBLIC (restricted ECC P-256 signing key)
 * @param deviceKey evidence that the CSR's key lives in the same TPM
 * @param activatedCredential base64 of the credential unwrapped by TPM2_ActivateCredential; null on
 *     the first request
 * @param quote the quote over the challenge's nonce; null on the first request
 */
public record TpmEnrollment(
    String ekCertificatePem,
    @JsonInclude(JsonInclude.Include.NON_EMPTY) List<String> ekChainPem,
    String ekPublic,
    String akPublic,
    TpmKeyProof deviceKey,
    @JsonInclude(JsonInclude.Include.NON_NULL) String activatedCredential,
    @JsonInclude(JsonInclude.Include.NON_NULL) TpmQuote quote) {
  public TpmEnrollment {
    ekChainPem = ekChainPem == null ? List.of() : List.copyOf(ekChainPem);
  }
}
