package io.edgefleet.protocol.tls;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECFieldFp;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import java.util.Arrays;
import javax.crypto.Cipher;
import javax.crypto.KeyAgreement;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Seals bytes to one P-256 public key so that only the holder of its private key can open them
 * (ECIES): an ephemeral P-256 key pair per seal, ECDH with the recipient's key, HKDF-SHA256 over
 * the shared x coordinate (salt: the ephemeral public point, info: {@value #INFO}) giving an
 * AES-256 key, AES-256-GCM with a random 96-bit nonce and the caller's associated data.
 *
 * <p>Sealed form: {@code 0x01 ‖ ephemeral point (65 bytes, uncompressed) ‖ nonce (12) ‖ ciphertext
 * ‖ tag (16)}. Opening needs only ECDH with the private key ({@link DeviceKeyAgreement}), so the
 * key may live in a TPM. Thread-safe.
 */
public final class SealedBox {
  /** The HKDF info string: binds derived keys to this construction and its version. */
  public static final String INFO = "edgefleet sealed box v1";

  private static final byte VERSION = 1;
  private static final int POINT_BYTES = 65;
  private static final int NONCE_BYTES = 12;
  private static final int TAG_BYTES = 16;
  private static final int OVERHEAD = 1 + POINT_BYTES + NONCE_BYTES + TAG_BYTES;
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final ECParameterSpec P256 = p256();

  private SealedBox() {}

  /**
   * Seals {@code plaintext} to {@code recipient} (a P-256 key), binding {@code aad}, which {@link
   * #open} must repeat.
   *
   * @throws IllegalArgumentException if the key is not on P-256
   */
  public static byte[] seal(ECPublicKey recipient, byte[] plaintext, byte[] aad) {
    if (!sameCurve(recipient.getParams())) {
      throw new IllegalArgumentException("a sealed box is sealed to a P-256 key only");
    }
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
      KeyPair ephemeral = g.generateKeyPair();
      KeyAgreement ka = KeyAgreement.getInstance("ECDH");
      ka.init(ephemeral.getPrivate());
      ka.doPhase(recipient, true);
      byte[] shared = ka.generateSecret();
      byte[] point = encode(((ECPublicKey) ephemeral.getPublic()).getW());
      byte[] key = hkdf(shared, point);
      Arrays.fill(shared, (byte) 0);
      byte[] nonce = new byte[NONCE_BYTES];
      RANDOM.nextBytes(nonce);
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, nonce));
      Arrays.fill(key, (byte) 0);
      c.updateAAD(aad);
      byte[] ct = c.doFinal(plaintext);
      return ByteBuffer.allocate(1 + point.length + nonce.length + ct.length)
          .put(VERSION)
          .put(point)
          .put(nonce)
          .put(ct)
          .array();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("ECDH on P-256 and AES-GCM are part of every JDK", e);
    }
  }

  /**
   * Opens a box sealed to the key behind {@code agreement}.
   *
   * @throws GeneralSecurityException if the box is malformed, was sealed to another key, was
   *     altered, or {@code aad} differs from the sealing one
   */
  public static byte[] open(DeviceKeyAgreement agreement, byte[] sealed, byte[] aad)
      throws GeneralSecurityException {
    if (sealed.length < OVERHEAD) {
      throw new GeneralSecurityException("sealed box is truncated (" + sealed.length + " bytes)");
    }
    if (sealed[0] != VERSION) {
      throw new GeneralSecurityException("sealed box version " + sealed[0] + " is not known");
    }
    byte[] point = Arrays.copyOfRange(sealed, 1, 1 + POINT_BYTES);
    ECPublicKey ephemeral = decode(point);
    byte[] shared = agreement.sharedSecret(ephemeral);
    byte[] key = hkdf(shared, point);
    Arrays.fill(shared, (byte) 0);
    Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
    c.init(
        Cipher.DECRYPT_MODE,
        new SecretKeySpec(key, "AES"),
        new GCMParameterSpec(128, sealed, 1 + POINT_BYTES, NONCE_BYTES));
    Arrays.fill(key, (byte) 0);
    c.updateAAD(aad);
    int at = 1 + POINT_BYTES + NONCE_BYTES;
    return c.doFinal(sealed, at, sealed.length - at);
  }

  /**
   * The associated data of a secret sealed for one device: it names the device, secret and version.
   */
  public static byte[] secretAad(String deviceId, String name, long version) {
    return ("edgefleet secret\0" + deviceId + "\0" + name + "\0" + version)
        .getBytes(StandardCharsets.UTF_8);
  }

  static byte[] hkdf(byte[] ikm, byte[] salt) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(salt, "HmacSHA256"));
      byte[] prk = mac.doFinal(ikm);
      mac.init(new SecretKeySpec(prk, "HmacSHA256"));
      mac.update(INFO.getBytes(StandardCharsets.US_ASCII));
      mac.update((byte) 1);
      return mac.doFinal(); // 32 bytes: one block is the whole AES-256 key
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HMAC-SHA256 is part of every JDK", e);
    }
  }

  private static byte[] encode(ECPoint w) {
    byte[] out = new byte[POINT_BYTES];
    out[0] = 4;
    fixed(w.getAffineX(), out, 1);
    fixed(w.getAffineY(), out, 33);
    return out;
  }

  private static void fixed(BigInteger v, byte[] out, int at) {
    byte[] b = v.toByteArray();
    int len = Math.min(b.length, 32);
    System.arraycopy(b, b.length - len, out, at + 32 - len, len);
  }

  /** The ephemeral key of a box: an uncompressed point that must lie on P-256. */
  private static ECPublicKey decode(byte[] point) throws GeneralSecurityException {
    if (point[0] != 4) {
      throw new GeneralSecurityException("sealed box holds no uncompressed P-256 point");
    }
    BigInteger x = new BigInteger(1, Arrays.copyOfRange(point, 1, 33));
    BigInteger y = new BigInteger(1, Arrays.copyOfRange(point, 33, 65));
    BigInteger p = ((ECFieldFp) P256.getCurve().getField()).getP();
    BigInteger a = P256.getCurve().getA();
    BigInteger b = P256.getCurve().getB();
    if (x.compareTo(p) >= 0
        || y.compareTo(p) >= 0
        || !y.pow(2).mod(p).equals(x.pow(3).add(a.multiply(x)).add(b).mod(p))) {
      throw new GeneralSecurityException("sealed box's ephemeral key is not on P-256");
    }
    return (ECPublicKey)
        KeyFactory.getInstance("EC").generatePublic(new ECPublicKeySpec(new ECPoint(x, y), P256));
  }

  private static boolean sameCurve(ECParameterSpec s) {
    return s.getCurve().equals(P256.getCurve())
        && s.getGenerator().equals(P256.getGenerator())
        && s.getOrder().equals(P256.getOrder());
  }

  private static ECParameterSpec p256() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      return ((ECPublicKey) g.generateKeyPair().getPublic()).getParams();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("P-256 is part of every JDK", e);
    }
  }
}
