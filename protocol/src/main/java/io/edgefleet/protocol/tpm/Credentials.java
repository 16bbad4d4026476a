package io.edgefleet.protocol.tpm;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.spec.MGF1ParameterSpec;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.OAEPParameterSpec;
import javax.crypto.spec.PSource;
import javax.crypto.spec.SecretKeySpec;

/**
 * TPM2_MakeCredential done in software (TPM 2.0 Part 1 §24): wraps a credential so that only the
 * TPM holding the endorsement key, and only for the key of the given name, gives it back through
 * TPM2_ActivateCredential. Also the inverse, for the software TPM.
 */
public final class Credentials {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final byte[] IDENTITY_LABEL = "IDENTITY\0".getBytes(StandardCharsets.US_ASCII);

  private Credentials() {}

  /**
   * A credential wrapped for one TPM.
   *
   * @param credentialBlob the TPM2B_ID_OBJECT (2-byte size, integrity HMAC, encrypted identity)
   * @param encryptedSecret the TPM2B_ENCRYPTED_SECRET (2-byte size, the seed RSA-OAEP to the EK)
   */
  public record Challenge(byte[] credentialBlob, byte[] encryptedSecret) {
    public Challenge {
      credentialBlob = credentialBlob.clone();
      encryptedSecret = encryptedSecret.clone();
    }

    @Override
    public byte[] credentialBlob() {
      return credentialBlob.clone();
    }

    @Override
    public byte[] encryptedSecret() {
      return encryptedSecret.clone();
    }
  }

  /**
   * Wraps {@code credential} (at most the EK's name digest size, 32 bytes) for the TPM holding the
   * RSA endorsement key {@code ek}, bound to the object named {@code akName}.
   */
  public static Challenge make(TpmPublic ek, byte[] akName, byte[] credential) {
    if (ek.type() != TpmAlg.RSA) {
      throw new IllegalArgumentException("only RSA endorsement keys are supported");
    }
    int digestSize = TpmAlg.digestSize(ek.nameAlg());
    if (credential.length == 0 || credential.length > digestSize) {
      throw new IllegalArgumentException(
          "a credential holds 1 to " + digestSize + " bytes, got " + credential.length);
    }
    byte[] seed = new byte[digestSize];
    RANDOM.nextBytes(seed);
    byte[] secret = oaep(Cipher.ENCRYPT_MODE, ek.toPublicKey(), ek.nameAlg(), seed);
    byte[] encIdentity = cfb(Cipher.ENCRYPT_MODE, ek, seed, akName, sized(credential));
    byte[] hmac = integrity(ek, seed, encIdentity, akName);
    byte[] idObject = new TpmBuffer.Writer().sized(hmac).bytes(encIdentity).toBytes();
    return new Challenge(sized(idObject), sized(secret));
  }

  /**
   * TPM2_ActivateCredential in software: unwraps a {@link #make} result with the EK's private key
   * for the object named {@code akName}.
   *
   * @throws TpmFormatException when the blob is malformed, not for this EK or not for this name
   */
  public static byte[] activate(
      TpmPublic ek,
      PrivateKey ekPrivate,
      byte[] akName,
      byte[] credentialBlob,
      byte[] encryptedSecret) {
    TpmBuffer.Reader secretReader = new TpmBuffer.Reader(encryptedSecret);
    byte[] secret = secretReader.sized();
    secretReader.end("TPM2B_ENCRYPTED_SECRET");
    byte[] seed;
    try {
      seed = oaep(Cipher.DECRYPT_MODE, ekPrivate, ek.nameAlg(), secret);
    } catch (IllegalStateException e) {
      throw new TpmFormatException("the encrypted secret does not decrypt with this EK");
    }
    TpmBuffer.Reader blobReader = new TpmBuffer.Reader(credentialBlob);
    TpmBuffer.Reader id = new TpmBuffer.Reader(blobReader.sized());
    blobReader.end("TPM2B_ID_OBJECT");
    byte[] hmac = id.sized();
    byte[] encIdentity = id.bytes(id.remaining());
    if (!MessageDigest.isEqual(hmac, integrity(ek, seed, encIdentity, akName))) {
      throw new TpmFormatException(
          "the credential's integrity check fails: not made for this EK and key name");
    }
    TpmBuffer.Reader plain =
        new TpmBuffer.Reader(cfb(Cipher.DECRYPT_MODE, ek, seed, akName, encIdentity));
    byte[] credential = plain.sized();
    plain.end("credential");
    return credential;
  }

  private static byte[] sized(byte[] b) {
    return new TpmBuffer.Writer().sized(b).toBytes();
  }

  private static byte[] integrity(TpmPublic ek, byte[] seed, byte[] encIdentity, byte[] name) {
    try {
      int bits = TpmAlg.digestSize(ek.nameAlg()) * 8;
      byte[] key = Kdf.kdfa(ek.nameAlg(), seed, "INTEGRITY", null, null, bits);
      String macName = "Hmac" + TpmAlg.javaDigest(ek.nameAlg()).replace("-", "");
      Mac mac = Mac.getInstance(macName);
      mac.init(new SecretKeySpec(key, macName));
      mac.update(encIdentity);
      mac.update(name);
      return mac.doFinal();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static byte[] cfb(int mode, TpmPublic ek, byte[] seed, byte[] name, byte[] data) {
    if (ek.symmetric() != TpmAlg.AES || ek.symmetricMode() != TpmAlg.CFB) {
      throw new IllegalArgumentException("the EK's symmetric algorithm must be AES-CFB");
    }
    try {
      byte[] key = Kdf.kdfa(ek.nameAlg(), seed, "STORAGE", name, null, ek.symmetricBits());
      Cipher aes = Cipher.getInstance("AES/CFB/NoPadding");
      aes.init(mode, new SecretKeySpec(key, "AES"), new IvParameterSpec(new byte[16]));
      return aes.doFinal(data);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static byte[] oaep(int mode, java.security.Key key, int hashAlg, byte[] data) {
    try {
      String hash = TpmAlg.javaDigest(hashAlg);
      Cipher rsa = Cipher.getInstance("RSA/ECB/OAEPPadding");
      rsa.init(
          mode,
          key,
          new OAEPParameterSpec(
              hash, "MGF1", new MGF1ParameterSpec(hash), new PSource.PSpecified(IDENTITY_LABEL)));
      return rsa.doFinal(data);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("RSA-OAEP failed: " + e.getMessage(), e);
    }
  }
}
