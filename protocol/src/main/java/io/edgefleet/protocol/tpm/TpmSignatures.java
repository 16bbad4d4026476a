package io.edgefleet.protocol.tpm;

import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.ECKey;
import java.security.interfaces.RSAKey;
import java.util.Arrays;

/**
 * TPMT_SIGNATURE (TPM 2.0 Part 2 §11.3.4) for ECDSA and RSASSA-PKCS1-v1_5: verification with JCA
 * keys, and signing for the software TPM.
 */
public final class TpmSignatures {
  /** Largest r or s: a P-521 scalar. */
  private static final int MAX_SCALAR = 66;

  private TpmSignatures() {}

  /**
   * Whether {@code tpmtSignature} is a valid signature of {@code signed} by {@code key}: ECDSA for
   * an EC key, RSASSA for an RSA key, with SHA-256, SHA-384 or SHA-512.
   *
   * @throws TpmFormatException when the structure is malformed, uses SHA-1, or its scheme does not
   *     fit the key
   */
  public static boolean verify(PublicKey key, byte[] signed, byte[] tpmtSignature) {
    TpmBuffer.Reader r = new TpmBuffer.Reader(tpmtSignature);
    int sigAlg = r.u16();
    int hash = r.u16();
    String jcaHash = jcaHash(hash);
    byte[] jcaSignature;
    String algorithm;
    if (sigAlg == TpmAlg.ECDSA) {
      if (!(key instanceof ECKey)) {
        throw new TpmFormatException("an ECDSA signature but the key is " + key.getAlgorithm());
      }
      byte[] rBytes = r.sized();
      byte[] sBytes = r.sized();
      r.end("TPMT_SIGNATURE");
      if (rBytes.length > MAX_SCALAR || sBytes.length > MAX_SCALAR) {
        throw new TpmFormatException("ECDSA r or s longer than " + MAX_SCALAR + " bytes");
      }
      jcaSignature = der(new BigInteger(1, rBytes), new BigInteger(1, sBytes));
      algorithm = jcaHash + "withECDSA";
    } else if (sigAlg == TpmAlg.RSASSA) {
      if (!(key instanceof RSAKey)) {
        throw new TpmFormatException("an RSASSA signature but the key is " + key.getAlgorithm());
      }
      jcaSignature = r.sized();
      r.end("TPMT_SIGNATURE");
      algorithm = jcaHash + "withRSA";
    } else {
      throw new TpmFormatException(
          "signature scheme 0x" + Integer.toHexString(sigAlg) + " is neither ECDSA nor RSASSA");
    }
    try {
      Signature s = Signature.getInstance(algorithm);
      s.initVerify(key);
      s.update(signed);
      return s.verify(jcaSignature);
    } catch (java.security.SignatureException e) {
      return false;
    } catch (GeneralSecurityException e) {
      throw new TpmFormatException("cannot verify " + algorithm + ": " + e.getMessage());
    }
  }

  /**
   * Signs {@code data} with SHA-256 as a TPM would, returning the TPMT_SIGNATURE: ECDSA for an EC
   * key (r and s padded to the curve size), RSASSA for an RSA key.
   */
  public static byte[] sign(PrivateKey key, byte[] data) {
    try {
      TpmBuffer.Writer w = new TpmBuffer.Writer();
      if (key instanceof ECKey ec) {
        Signature s = Signature.getInstance("SHA256withECDSA");
        s.initSign(key);
        s.update(data);
        BigInteger[] rs = fromDer(s.sign());
        int size = (ec.getParams().getCurve().getField().getFieldSize() + 7) / 8;
        w.u16(TpmAlg.ECDSA).u16(TpmAlg.SHA256);
        w.sized(unsigned(rs[0], size)).sized(unsigned(rs[1], size));
      } else {
        Signature s = Signature.getInstance("SHA256withRSA");
        s.initSign(key);
        s.update(data);
        w.u16(TpmAlg.RSASSA).u16(TpmAlg.SHA256).sized(s.sign());
      }
      return w.toBytes();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String jcaHash(int hash) {
    return switch (hash) {
      case TpmAlg.SHA256 -> "SHA256";
      case TpmAlg.SHA384 -> "SHA384";
      case TpmAlg.SHA512 -> "SHA512";
      case TpmAlg.SHA1 -> throw new TpmFormatException("SHA-1 signatures are not accepted");
      default ->
          throw new TpmFormatException(
              "signature hash 0x" + Integer.toHexString(hash) + " is not supported");
    };
  }

  /** r and s as the DER SEQUENCE of two INTEGERs that JCA's ECDSA takes. */
  static byte[] der(BigInteger r, BigInteger s) {
    byte[] ri = r.toByteArray();
    byte[] si = s.toByteArray();
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    integer(body, ri);
    integer(body, si);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(0x30);
    length(out, body.size());
    out.writeBytes(body.toByteArray());
    return out.toByteArray();
  }

  private static void integer(ByteArrayOutputStream out, byte[] twosComplement) {
    out.write(0x02);
    length(out, twosComplement.length);
    out.writeBytes(twosComplement);
  }

  private static void length(ByteArrayOutputStream out, int n) {
    if (n < 0x80) {
      out.write(n);
    } else if (n < 0x100) {
      out.write(0x81);
      out.write(n);
    } else {
      out.write(0x82);
      out.write(n >>> 8);
      out.write(n & 0xff);
    }
  }

  /** The r and s of a DER ECDSA signature as produced by JCA. */
  static BigInteger[] fromDer(byte[] der) {
    int[] pos = {0};
    if (der[pos[0]++] != 0x30) {
      throw new IllegalArgumentException("not a DER ECDSA signature");
    }
    readLength(der, pos);
    BigInteger r = readInteger(der, pos);
    BigInteger s = readInteger(der, pos);
    return new BigInteger[] {r, s};
  }

  private static BigInteger readInteger(byte[] der, int[] pos) {
    if (der[pos[0]++] != 0x02) {
      throw new IllegalArgumentException("not a DER INTEGER");
    }
    int n = readLength(der, pos);
    BigInteger v = new BigInteger(Arrays.copyOfRange(der, pos[0], pos[0] + n));
    pos[0] += n;
    return v;
  }

  private static int readLength(byte[] der, int[] pos) {
    int b = der[pos[0]++] & 0xff;
    if (b < 0x80) {
      return b;
    }
    int n = 0;
    for (int i = 0; i < (b & 0x7f); i++) {
      n = (n << 8) | (der[pos[0]++] & 0xff);
    }
    return n;
  }

  static byte[] unsigned(BigInteger v, int size) {
    byte[] b = v.toByteArray();
    if (b.length == size) {
      return b;
    }
    byte[] out = new byte[size];
    if (b.length > size) {
      System.arraycopy(b, b.length - size, out, 0, size);
    } else {
      System.arraycopy(b, 0, out, size - b.length, b.length);
    }
    return out;
  }
}
