package io.edgefleet.device.tpm;

import io.edgefleet.protocol.tpm.TpmAlg;
import io.edgefleet.protocol.tpm.TpmBuffer;
import io.edgefleet.protocol.tpm.TpmFormatException;
import java.io.ByteArrayOutputStream;
import java.math.BigInteger;

/** A TPMT_SIGNATURE (ECDSA) as the DER {@code SEQUENCE { r, s }} JCA expects. */
public final class EcdsaSignatures {
  private EcdsaSignatures() {}

  /** The DER encoding of an ECDSA TPMT_SIGNATURE. */
  public static byte[] toDer(byte[] tpmtSignature) {
    TpmBuffer.Reader in = new TpmBuffer.Reader(tpmtSignature);
    int alg = in.u16();
    if (alg != TpmAlg.ECDSA) {
      throw new TpmFormatException("not an ECDSA signature: 0x" + Integer.toHexString(alg));
    }
    in.u16();
    byte[] r = new BigInteger(1, in.sized()).toByteArray();
    byte[] s = new BigInteger(1, in.sized()).toByteArray();
    in.end("TPMT_SIGNATURE");
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    integer(body, r);
    integer(body, s);
    ByteArrayOutputStream der = new ByteArrayOutputStream();
    der.write(0x30);
    length(der, body.size());
    der.writeBytes(body.toByteArray());
    return der.toByteArray();
  }

  private static void integer(ByteArrayOutputStream out, byte[] v) {
    out.write(0x02);
    length(out, v.length);
    out.writeBytes(v);
  }

  private static void length(ByteArrayOutputStream out, int n) {
    if (n < 0x80) {
      out.write(n);
    } else {
      out.write(0x81);
      out.write(n);
    }
  }
}
