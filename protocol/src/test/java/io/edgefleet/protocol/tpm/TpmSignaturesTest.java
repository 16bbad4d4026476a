package io.edgefleet.protocol.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.util.Arrays;
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
  void rAndSWithTheHighBitSetEncodeAsPositiveDerIntegers() throws Exception {
    BigInteger big = new BigInteger(1, new byte[] {(byte) 0x80, 1, 2});
    byte[] der = TpmSignatures.der(big, BigInteger.ONE);
    assertThat(TpmSignatures.fromDer(der)).containsExactly(big, BigInteger.ONE);
    // A JCA signature decodes and re-encodes to the same DER.
    KeyPair k = ec();
    Signature s = Signature.getInstance("SHA256withECDSA");
    s.initSign(k.getPrivate());
    s.update(new byte[1]);
    byte[] jca = s.sign();
    BigInteger[] rs = TpmSignatures.fromDer(jca);
    assertThat(TpmSignatures.der(rs[0], rs[1])).isEqualTo(jca);
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
