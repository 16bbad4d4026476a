package io.edgefleet.protocol;

import java.util.List;

/**
 * The controller's credential-activation challenge to a device enrolling with a TPM.
 *
 * @param credentialBlob base64 of the TPM2B_ID_OBJECT made by MakeCredential for the EK and the
 *     attestation key's name
 * @param encryptedSecret base64 of the TPM2B_ENCRYPTED_SECRET (the seed, RSA-OAEP to the EK)
 * @param nonce base64 of the nonce the device's enrollment quote must carry
 * @param pcrs the SHA-256 PCRs to quote
 */
public record TpmChallenge(
    String credentialBlob, String encryptedSecret, String nonce, List<Integer> pcrs) {
  public TpmChallenge {
    pcrs = pcrs == null ? List.of() : List.copyOf(pcrs);
  }
}
