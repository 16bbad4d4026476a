package io.edgefleet.protocol.tpm;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/** KDFa of TPM 2.0 Part 1 §11.4.10.2: the counter-mode HMAC key derivation of SP 800-108. */
final class Kdf {
  private Kdf() {}

  /**
   * {@code KDFa(hashAlg, key, label, contextU, contextV, bits)}; the label is used with its
   * terminating zero byte.
   */
  static byte[] kdfa(
      int hashAlg, byte[] key, String label, byte[] contextU, byte[] contextV, int bits) {
    try {
      String macName = "Hmac" + TpmAlg.javaDigest(hashAlg).replace("-", "");
      Mac mac = Mac.getInstance(macName);
      mac.init(new SecretKeySpec(key, macName));
      byte[] labelBytes = (label + "\0").getBytes(StandardCharsets.US_ASCII);
      int bytes = (bits + 7) / 8;
      byte[] out = new byte[bytes];
      int done = 0;
      for (int counter = 1; done < bytes; counter++) {
        mac.update(new TpmBuffer.Writer().u32(counter).toBytes());
        mac.update(labelBytes);
        if (contextU != null) {
          mac.update(contextU);
        }
        if (contextV != null) {
          mac.update(contextV);
        }
        mac.update(new TpmBuffer.Writer().u32(bits).toBytes());
        byte[] block = mac.doFinal();
        int n = Math.min(block.length, bytes - done);
        System.arraycopy(block, 0, out, done, n);
        done += n;
      }
      return Arrays.copyOf(out, bytes);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }
}
