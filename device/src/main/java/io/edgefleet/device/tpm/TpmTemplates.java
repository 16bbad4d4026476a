package io.edgefleet.device.tpm;

import io.edgefleet.protocol.tpm.TpmAlg;
import io.edgefleet.protocol.tpm.TpmPublic;

/** The templates of the keys the device creates as primaries (recreated identically each time). */
public final class TpmTemplates {
  /** Attributes of a key that never leaves this TPM and was made inside it. */
  public static final int IN_TPM =
      TpmAlg.FIXED_TPM | TpmAlg.FIXED_PARENT | TpmAlg.SENSITIVE_DATA_ORIGIN | TpmAlg.USER_WITH_AUTH;

  /** Length of the salt that makes one device key unique. */
  public static final int SALT_BYTES = 32;

  private TpmTemplates() {}

  /**
   * The attestation key: restricted ECC P-256 signing key, ECDSA SHA-256, endorsement hierarchy.
   */
  public static TpmPublic attestationKey() {
    return new TpmPublic(
        TpmAlg.ECC,
        TpmAlg.SHA256,
        IN_TPM | TpmAlg.RESTRICTED | TpmAlg.SIGN_ENCRYPT,
        new byte[0],
        TpmAlg.NULL,
        0,
        0,
        TpmAlg.ECDSA,
        TpmAlg.SHA256,
        TpmAlg.ECC_NIST_P256,
        0,
        TpmAlg.NULL,
        new byte[0],
        new byte[0]);
  }

  /**
   * The device key: unrestricted ECC P-256 that signs (TLS, CSRs) and agrees keys (sealed secrets),
   * owner hierarchy; {@code salt} in the unique field makes it one key of many (a new salt is a new
   * key).
   */
  public static TpmPublic deviceKey(byte[] salt) {
    if (salt.length != SALT_BYTES) {
      throw new IllegalArgumentException("a device key salt has " + SALT_BYTES + " bytes");
    }
    return new TpmPublic(
        TpmAlg.ECC,
        TpmAlg.SHA256,
        IN_TPM | TpmAlg.SIGN_ENCRYPT | TpmAlg.DECRYPT,
        new byte[0],
        TpmAlg.NULL,
        0,
        0,
        TpmAlg.NULL,
        0,
        TpmAlg.ECC_NIST_P256,
        0,
        TpmAlg.NULL,
        salt,
        new byte[0]);
  }
}
