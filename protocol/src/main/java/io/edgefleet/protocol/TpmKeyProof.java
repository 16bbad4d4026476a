package io.edgefleet.protocol;

/**
 * Evidence that a key lives in the same TPM as the attestation key: its public area and a
 * TPM2_Certify of it by the attestation key.
 *
 * @param publicArea base64 of the key's TPMT_PUBLIC (must be fixedTPM, fixedParent,
 *     sensitiveDataOrigin, and hold the public key of the CSR)
 * @param certifyInfo base64 of the TPMS_ATTEST (type ATTEST_CERTIFY) naming the key
 * @param signature base64 of the TPMT_SIGNATURE over {@code certifyInfo} by the attestation key
 */
public record TpmKeyProof(String publicArea, String certifyInfo, String signature) {}
