package io.edgefleet.protocol.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.util.Arrays;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.ASN1Sequence;
import org.bouncycastle.asn1.DERSequence;
import org.junit.jupiter.api.Test;

class TpmSignaturesTest {
  static KeyPair ec() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }

  @Test
  void ecdsaRoundTripsAndFailsForOtherDataOrKey() throws Exception {
    KeyPair k = ec();
    byte[] data = "quoted".getBytes();
    byte[] sig = TpmSignatures.sign(k.getPrivate(), data);
    TpmBuffer.Reader r = new TpmBuffer.Reader(sig);
    assertThat(r.u16()).isEqualTo(TpmAlg.ECDSA);
    assertThat(r.u16()).isEqualTo(TpmAlg.SHA256);
    assertThat(r.sized()).hasSize(32);
    assertThat(r.sized()).hasSize(32);
    assertThat(TpmSignatures.verify(k.getPublic(), data, sig)).isTrue();
    assertThat(TpmSignatures.verify(k.getPublic(), "other".getBytes(), sig)).isFalse();
    assertThat(TpmSignatures.verify(ec().getPublic(), data, sig)).isFalse();
  }

  @Test
  void rsassaRoundTrips() throws Exception {
    KeyPair k = SoftTpm.newEk();
    byte[] data = "quoted".getBytes();
    byte[] sig = TpmSignatures.sign(k.getPrivate(), data);
    assertThat(new TpmBuffer.Reader(sig).u16()).isEqualTo(TpmAlg.RSASSA);
    assertThat(TpmSignatures.verify(k.getPublic(), data, sig)).isTrue();
    assertThat(TpmSignatures.verify(k.getPublic(), "x".getBytes(), sig)).isFalse();
  }

  @Test
  void interoperatesWithTheJdksEcdsa() throws Exception {
    KeyPair k = ec();
    byte[] data = "quoted".getBytes();
    for (int i = 0; i < 20; i++) {
      // JDK signature (DER) -> TPMT_SIGNATURE -> verified here.
      Signature s = Signature.getInstance("SHA256withECDSA");
      s.initSign(k.getPrivate());
      s.update(data);
      ASN1Sequence der = ASN1Sequence.getInstance(s.sign());
      byte[] tpmt =
          new TpmBuffer.Writer()
              .u16(TpmAlg.ECDSA)
              .u16(TpmAlg.SHA256)
              .sized(((ASN1Integer) der.getObjectAt(0)).getValue().toByteArray())
              .sized(((ASN1Integer) der.getObjectAt(1)).getValue().toByteArray())
              .toBytes();
      assertThat(TpmSignatures.verify(k.getPublic(), data, tpmt)).isTrue();
      // Signature made here -> DER -> verified by the JDK.
      TpmBuffer.Reader r = new TpmBuffer.Reader(TpmSignatures.sign(k.getPrivate(), data));
      r.u16();
      r.u16();
      BigInteger rr = new BigInteger(1, r.sized());
      BigInteger ss = new BigInteger(1, r.sized());
      Signature v = Signature.getInstance("SHA256withECDSA");
      v.initVerify(k.getPublic());
      v.update(data);
      assertThat(
              v.verify(
                  new DERSequence(new ASN1Integer[] {new ASN1Integer(rr), new ASN1Integer(ss)})
                      .getEncoded()))
          .isTrue();
    }
  }

  @Test
  void aKeyOffTheCurveNeverVerifies() throws Exception {
    KeyPair k = ec();
    byte[] sig = TpmSignatures.sign(k.getPrivate(), new byte[1]);
    java.security.interfaces.ECPublicKey pub = (java.security.interfaces.ECPublicKey) k.getPublic();
    java.security.interfaces.ECPublicKey off =
        new java.security.interfaces.ECPublicKey() {
          @Override
          public java.security.spec.ECPoint getW() {
            return new java.security.spec.ECPoint(
                pub.getW().getAffineX(), pub.getW().getAffineY().add(BigInteger.ONE));
          }

          @Override
          public java.security.spec.ECParameterSpec getParams() {
            return pub.getParams();
          }

          @Override
          public String getAlgorithm() {
            return "EC";
          }

          @Override
          public String getFormat() {
            return null;
          }

          @Override
          public byte[] getEncoded() {
            return null;
          }
        };
    assertThat(TpmSignatures.verify(off, new byte[1], sig)).isFalse();
  }

  @Test
  void malformedOrWeakSignaturesAreFormatErrors() throws Exception {
    KeyPair k = ec();
    byte[] sig = TpmSignatures.sign(k.getPrivate(), new byte[1]);
    for (int n = 0; n < sig.length; n++) {
      byte[] cut = Arrays.copyOf(sig, n);
      assertThatThrownBy(() -> TpmSignatures.verify(k.getPublic(), new byte[1], cut))
          .isInstanceOf(TpmFormatException.class);
    }
    byte[] sha1 = sig.clone();
    sha1[3] = (byte) TpmAlg.SHA1;
    assertThatThrownBy(() -> TpmSignatures.verify(k.getPublic(), new byte[1], sha1))
        .hasMessageContaining("SHA-1");
    byte[] hmac = sig.clone();
    hmac[1] = (byte) TpmAlg.HMAC;
    assertThatThrownBy(() -> TpmSignatures.verify(k.getPublic(), new byte[1], hmac))
        .hasMessageContaining("neither ECDSA nor RSASSA");
    KeyPair rsa = SoftTpm.newEk();
    assertThatThrownBy(() -> TpmSignatures.verify(rsa.getPublic(), new byte[1], sig))
        .hasMessageContaining("ECDSA signature but the key is RSA");
    byte[] hugeR =
        new TpmBuffer.Writer()
            .u16(TpmAlg.ECDSA)
            .u16(TpmAlg.SHA256)
            .sized(new byte[100])
            .sized(new byte[1])
            .toBytes();
    assertThatThrownBy(() -> TpmSignatures.verify(k.getPublic(), new byte[1], hugeR))
        .hasMessageContaining("longer than");
    byte[] zero =
        new TpmBuffer.Writer()
            .u16(TpmAlg.ECDSA)
            .u16(TpmAlg.SHA256)
            .sized(new byte[32])
            .sized(new byte[32])
            .toBytes();
    assertThat(TpmSignatures.verify(k.getPublic(), new byte[1], zero)).isFalse();
  }
}
