package io.edgefleet.protocol.tls;

import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;

/** Ed25519 signatures over exact bytes, base64 on the wire. Thread-safe. */
public final class Signatures {
  private Signatures() {}

  public static String sign(PrivateKey key, byte[] data) {
    try {
      Signature s = Signature.getInstance("Ed25519");
      s.initSign(key);
      s.update(data);
      return Base64.getEncoder().encodeToString(s.sign());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot sign", e);
    }
  }

  /** Whether {@code signature} (base64) is a valid signature of {@code data} by {@code key}. */
  public static boolean verify(PublicKey key, byte[] data, String signature) {
    try {
      Signature s = Signature.getInstance("Ed25519");
      s.initVerify(key);
      s.update(data);
      return s.verify(Base64.getDecoder().decode(signature));
    } catch (GeneralSecurityException | IllegalArgumentException | NullPointerException e) {
      return false;
    }
  }

  public static PublicKey publicKey(String pem) {
    try {
      byte[] der = Pem.decode(pem, "PUBLIC KEY").getFirst();
      return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(der));
    } catch (GeneralSecurityException | RuntimeException e) {
      throw new IllegalArgumentException("not an Ed25519 public key", e);
    }
  }

  public static String publicKeyPem(PublicKey key) {
    return Pem.encode("PUBLIC KEY", key.getEncoded());
  }
}
