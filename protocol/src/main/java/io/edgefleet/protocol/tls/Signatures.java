package io.edgefleet.protocol.tls;

import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.EdECPrivateKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;
import org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters;
import org.bouncycastle.crypto.params.Ed25519PublicKeyParameters;
import org.bouncycastle.math.ec.rfc8032.Ed25519;

/**
 * Ed25519 signatures (RFC 8032, pure) over exact bytes, base64 on the wire. Thread-safe.
 *
 * <p>Keys are the JDK's {@link PrivateKey} and {@link PublicKey}; the arithmetic is Bouncy
 * Castle's, which signs about 10× and verifies about 5× faster than the JDK's provider (see
 * docs/benchmarks.md, "Bottlenecks"). Ed25519 is deterministic, so both give the same bytes. The
 * last key used is kept decoded (with its public point), so signing or verifying many documents
 * with the same key does not decode it again.
 */
public final class Signatures {
  /** A DER SubjectPublicKeyInfo of an Ed25519 key is a fixed 12-byte prefix and the raw key. */
  private static final byte[] SPKI_PREFIX = {
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00
  };

  private record Signer(
      PrivateKey key, Ed25519PrivateKeyParameters params, Ed25519PublicKeyParameters pub) {}

  private record Verifier(PublicKey key, Ed25519PublicKeyParameters params) {}

  private static volatile Signer lastSigner;
  private static volatile Verifier lastVerifier;

  private Signatures() {}

  public static String sign(PrivateKey key, byte[] data) {
    Signer s = signer(key);
    if (s == null) {
      return jdkSign(key, data);
    }
    byte[] sig = new byte[Ed25519.SIGNATURE_SIZE];
    s.params().sign(Ed25519.Algorithm.Ed25519, s.pub(), null, data, 0, data.length, sig, 0);
    return Base64.getEncoder().encodeToString(sig);
  }

  /** Whether {@code signature} (base64) is a valid signature of {@code data} by {@code key}. */
  public static boolean verify(PublicKey key, byte[] data, String signature) {
    try {
      byte[] sig = Base64.getDecoder().decode(signature);
      Verifier v = verifier(key);
      if (v == null) {
        return jdkVerify(key, data, sig);
      }
      return sig.length == Ed25519.SIGNATURE_SIZE
          && v.params().verify(Ed25519.Algorithm.Ed25519, null, data, 0, data.length, sig, 0);
    } catch (IllegalArgumentException | NullPointerException e) {
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

  /**
   * The short id of a signing key: the first 16 hex digits of the SHA-256 of its DER encoding. It
   * only names a key; what a signature is checked against is always the full key.
   */
  public static String keyId(PublicKey key) {
    return fingerprint(key).substring("sha256:".length(), "sha256:".length() + 16);
  }

  /** {@code sha256:<hex>} of the key's DER encoding, for people comparing keys. */
  public static String fingerprint(PublicKey key) {
    return Fingerprints.sha256(key.getEncoded());
  }

  private static Signer signer(PrivateKey key) {
    Signer s = lastSigner;
    if (s != null && s.key() == key) {
      return s;
    }
    if (!(key instanceof EdECPrivateKey ed)
        || !"Ed25519".equalsIgnoreCase(ed.getParams().getName())
        || ed.getBytes().isEmpty()) {
      return null;
    }
    Ed25519PrivateKeyParameters params = new Ed25519PrivateKeyParameters(ed.getBytes().get(), 0);
    s = new Signer(key, params, params.generatePublicKey());
    lastSigner = s;
    return s;
  }

  private static Verifier verifier(PublicKey key) {
    Verifier v = lastVerifier;
    if (v != null && v.key() == key) {
      return v;
    }
    byte[] der = key == null ? null : key.getEncoded();
    if (der == null
        || der.length != SPKI_PREFIX.length + Ed25519.PUBLIC_KEY_SIZE
        || !Arrays.equals(der, 0, SPKI_PREFIX.length, SPKI_PREFIX, 0, SPKI_PREFIX.length)) {
      return null;
    }
    v = new Verifier(key, new Ed25519PublicKeyParameters(der, SPKI_PREFIX.length));
    lastVerifier = v;
    return v;
  }

  private static String jdkSign(PrivateKey key, byte[] data) {
    try {
      Signature s = Signature.getInstance("Ed25519");
      s.initSign(key);
      s.update(data);
      return Base64.getEncoder().encodeToString(s.sign());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot sign", e);
    }
  }

  private static boolean jdkVerify(PublicKey key, byte[] data, byte[] sig) {
    try {
      Signature s = Signature.getInstance("Ed25519");
      s.initVerify(key);
      s.update(data);
      return s.verify(sig);
    } catch (GeneralSecurityException | IllegalArgumentException | NullPointerException e) {
      return false;
    }
  }
}
