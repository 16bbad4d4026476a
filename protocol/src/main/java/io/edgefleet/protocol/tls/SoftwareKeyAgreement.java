package io.edgefleet.protocol.tls;

import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.interfaces.ECPublicKey;
import javax.crypto.KeyAgreement;

/** {@link DeviceKeyAgreement} over a private key in memory: the JDK's ECDH. */
public final class SoftwareKeyAgreement implements DeviceKeyAgreement {
  private final PrivateKey key;

  public SoftwareKeyAgreement(PrivateKey key) {
    if (!"EC".equals(key.getAlgorithm())) {
      throw new IllegalArgumentException("ECDH needs an EC key, got " + key.getAlgorithm());
    }
    this.key = key;
  }

  @Override
  public byte[] sharedSecret(ECPublicKey peer) {
    try {
      KeyAgreement ka = KeyAgreement.getInstance("ECDH");
      ka.init(key);
      ka.doPhase(peer, true);
      return ka.generateSecret();
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("ECDH with the device key failed: " + e.getMessage(), e);
    }
  }
}
