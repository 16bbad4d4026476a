package io.edgefleet.protocol.tpm;

import io.edgefleet.protocol.TpmKeyProof;
import io.edgefleet.protocol.tpm.AttestationException.Reason;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks that a key lives in the same TPM as the attestation key: a TPM2_Certify of its public area
 * signed by the attestation key, whose attributes say the TPM generated it and never lets it out.
 */
public final class KeyProofs {
  private static final int MAX_PUBLIC_BYTES = 1024;
  private static final int MAX_ATTEST_BYTES = 1024;

  private KeyProofs() {}

  /**
   * Verifies {@code proof} for {@code csrKey}.
   *
   * @return the key's public area
   * @throws AttestationException KEY_NOT_IN_TPM naming what is missing; MALFORMED when a field does
   *     not parse; AK_NOT_RESTRICTED when the attestation key could sign anything
   */
  public static TpmPublic verify(TpmPublic ak, TpmKeyProof proof, PublicKey csrKey)
      throws AttestationException {
    if (proof == null) {
      throw new AttestationException(Reason.KEY_NOT_IN_TPM, "no proof that the key is in the TPM");
    }
    QuoteVerifier.requireAttestationKey(ak);
    byte[] area = QuoteVerifier.base64(proof.publicArea(), "key's public area", MAX_PUBLIC_BYTES);
    byte[] info = QuoteVerifier.base64(proof.certifyInfo(), "certify info", MAX_ATTEST_BYTES);
    byte[] sig =
        QuoteVerifier.base64(
            proof.signature(), "certify signature", QuoteVerifier.MAX_SIGNATURE_BYTES);
    TpmPublic key;
    Attest attest;
    try {
      key = TpmPublic.parse(area);
      attest = Attest.parse(info);
    } catch (TpmFormatException e) {
      throw new AttestationException(Reason.MALFORMED, "device key proof: " + e.getMessage());
    }
    if (attest.type() != Attest.CERTIFY) {
      throw new AttestationException(
          Reason.KEY_NOT_IN_TPM, "the device key proof is a quote, not a certify");
    }
    boolean signed;
    try {
      signed = TpmSignatures.verify(ak.toPublicKey(), info, sig);
    } catch (TpmFormatException e) {
      throw new AttestationException(Reason.MALFORMED, "certify signature: " + e.getMessage());
    }
    if (!signed) {
      throw new AttestationException(
          Reason.KEY_NOT_IN_TPM,
          "the certify of the device key is not signed by the attestation key");
    }
    if (!MessageDigest.isEqual(attest.certifiedName(), key.name())) {
      throw new AttestationException(
          Reason.KEY_NOT_IN_TPM,
          "the certify names key "
              + QuoteVerifier.abbrev(attest.certifiedName())
              + " but the public area sent is key "
              + QuoteVerifier.abbrev(key.name()));
    }
    List<String> wrong = new ArrayList<>();
    if (!key.has(TpmAlg.FIXED_TPM)) {
      wrong.add("not fixedTPM");
    }
    if (!key.has(TpmAlg.FIXED_PARENT)) {
      wrong.add("not fixedParent");
    }
    if (!key.has(TpmAlg.SENSITIVE_DATA_ORIGIN)) {
      wrong.add("not sensitiveDataOrigin (imported)");
    }
    if (key.has(TpmAlg.RESTRICTED)) {
      wrong.add("restricted");
    }
    if (!wrong.isEmpty()) {
      throw new AttestationException(
          Reason.KEY_NOT_IN_TPM,
          "the device key is "
              + String.join(", ", wrong)
              + " (attributes 0x"
              + Integer.toHexString(key.attributes())
              + "): it must be generated in the TPM and never leave it");
    }
    if (csrKey == null || !key.holds(csrKey)) {
      throw new AttestationException(
          Reason.KEY_NOT_IN_TPM, "the certified TPM key is not the key of the certificate request");
    }
    return key;
  }
}
