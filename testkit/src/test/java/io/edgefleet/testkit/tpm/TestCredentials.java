package io.edgefleet.testkit.tpm;

import io.edgefleet.protocol.tpm.TpmBuffer;
import io.edgefleet.protocol.tpm.TpmPublic;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.security.spec.MGF1ParameterSpec;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.OAEPParameterSpec;
import javax.crypto.spec.PSource;
import javax.crypto.spec.SecretKeySpec;

/**
 * TPM2_MakeCredential in software (TPM 2.0 Part 1, 24): what a verifier sends so that only the TPM
 * holding {@code ek} and the key named {@code akName} recovers {@code credential}.
 */
public final class TestCredentials {
  public record Challenge(byte[] credentialBlob, byte[] encryptedSecret) {}

  private TestCredentials() {}

  public static Challenge make(TpmPublic ek, byte[] akName, byte[] credential) throws Exception {
    byte[] seed = new byte[32];
    new SecureRandom().nextBytes(seed);
    Cipher rsa = Cipher.getInstance("RSA/ECB/OAEPPadding");
    rsa.init(
        Cipher.ENCRYPT_MODE,
        ek.toPublicKey(),
        new OAEPParameterSpec(
            "SHA-256",
            "MGF1",
            MGF1ParameterSpec.SHA256,
            new PSource.PSpecified("IDENTITY\0".getBytes(StandardCharsets.US_ASCII))));
    byte[] secret = rsa.doFinal(seed);
    byte[] symKey = kdfa(seed, "STORAGE", akName, 128);
    Cipher aes = Cipher.getInstance("AES/CFB/NoPadding");
    aes.init(
        Cipher.ENCRYPT_MODE, new SecretKeySpec(symKey, "AES"), new IvParameterSpec(new byte[16]));
    byte[] encIdentity = aes.doFinal(new TpmBuffer.Writer().sized(credential).toBytes());
    Mac hmac = Mac.getInstance("HmacSHA256");
    hmac.init(new SecretKeySpec(kdfa(seed, "INTEGRITY", new byte[0], 256), "HmacSHA256"));
    hmac.update(encIdentity);
    byte[] outer = hmac.doFinal(akName);
    byte[] idObject = new TpmBuffer.Writer().sized(outer).bytes(encIdentity).toBytes();
    return new Challenge(
        new TpmBuffer.Writer().sized(idObject).toBytes(),
        new TpmBuffer.Writer().sized(secret).toBytes());
  }

  private static byte[] kdfa(byte[] key, String label, byte[] context, int bits) throws Exception {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(key, "HmacSHA256"));
    byte[] out = new byte[bits / 8];
    int done = 0;
    for (int i = 1; done < out.length; i++) {
      mac.update(new TpmBuffer.Writer().u32(i).toBytes());
      mac.update(label.getBytes(StandardCharsets.US_ASCII));
      mac.update((byte) 0);
      mac.update(context);
      byte[] block = mac.doFinal(new TpmBuffer.Writer().u32(bits).toBytes());
      int n = Math.min(block.length, out.length - done);
      System.arraycopy(block, 0, out, done, n);
      done += n;
    }
    return out;
  }
}
