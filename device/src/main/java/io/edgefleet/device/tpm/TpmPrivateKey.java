package io.edgefleet.device.tpm;

import java.security.PrivateKey;
import java.security.interfaces.ECKey;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECParameterSpec;

/**
 * A P-256 device key that lives in a TPM: a handle for JCA (algorithm {@code EC}, never encodable).
 * {@code SHA256withECDSA} signatures with it go to the TPM through {@link TpmProvider}; {@link
 * #agree} is its ECDH.
 */
public final class TpmPrivateKey implements PrivateKey, ECKey {
  private static final long serialVersionUID = 1L;

  private final transient TpmDevice tpm;
  private final byte[] salt;
  private final transient ECPublicKey publicKey;

  public TpmPrivateKey(TpmDevice tpm, byte[] salt, ECPublicKey publicKey) {
    this.tpm = tpm;
    this.salt = salt.clone();
    this.publicKey = publicKey;
  }

  public TpmDevice tpm() {
    return tpm;
  }

  /** The salt in the key's unique field: with the TPM's owner seed, it is the key. */
  public byte[] salt() {
    return salt.clone();
  }

  public ECPublicKey publicKey() {
    return publicKey;
  }

  /** ECDSA over a SHA-256 {@code digest}; DER. */
  public byte[] signDigest(byte[] digest) {
    return tpm.sign(salt, digest);
  }

  /** The x coordinate of ECDH with {@code peer}. */
  public byte[] agree(ECPublicKey peer) {
    return tpm.agree(salt, peer);
  }

  @Override
  public ECParameterSpec getParams() {
    return publicKey.getParams();
  }

  @Override
  public String getAlgorithm() {
    return "EC";
  }

  /** None: the key never leaves the TPM. */
  @Override
  public String getFormat() {
    return null;
  }

  /** None: the key never leaves the TPM. */
  @Override
  public byte[] getEncoded() {
    return null;
  }

  @Override
  public String toString() {
    return "TpmPrivateKey[" + tpm.endpoint() + "]";
  }
}
