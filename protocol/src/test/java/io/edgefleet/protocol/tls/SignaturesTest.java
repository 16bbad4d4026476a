package io.edgefleet.protocol.tls;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.util.Base64;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SignaturesTest {
  private static KeyPair ed25519() throws Exception {
    return KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
  }

  private static String jdkSign(KeyPair keys, byte[] data) throws Exception {
    Signature s = Signature.getInstance("Ed25519");
    s.initSign(keys.getPrivate());
    s.update(data);
    return Base64.getEncoder().encodeToString(s.sign());
  }

  private static boolean jdkVerify(KeyPair keys, byte[] data, String sig) throws Exception {
    Signature s = Signature.getInstance("Ed25519");
    s.initVerify(keys.getPublic());
    s.update(data);
    return s.verify(Base64.getDecoder().decode(sig));
  }

  @Test
  void signaturesAreTheJdksBytesAndVerifyBothWays() throws Exception {
    Random random = new Random(42);
    for (int i = 0; i < 20; i++) {
      KeyPair keys = ed25519();
      byte[] data = new byte[random.nextInt(4096)];
      random.nextBytes(data);
      String ours = Signatures.sign(keys.getPrivate(), data);
      assertThat(ours).isEqualTo(jdkSign(keys, data));
      assertThat(jdkVerify(keys, data, ours)).isTrue();
      assertThat(Signatures.verify(keys.getPublic(), data, jdkSign(keys, data))).isTrue();
    }
  }

  @Test
  void alternatingKeysNeverUseTheOtherKey() throws Exception {
    KeyPair a = ed25519();
    KeyPair b = ed25519();
    byte[] data = "{\"generation\":7}".getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < 4; i++) {
      String byA = Signatures.sign(a.getPrivate(), data);
      String byB = Signatures.sign(b.getPrivate(), data);
      assertThat(byA).isNotEqualTo(byB);
      assertThat(Signatures.verify(a.getPublic(), data, byA)).isTrue();
      assertThat(Signatures.verify(b.getPublic(), data, byA)).isFalse();
      assertThat(Signatures.verify(b.getPublic(), data, byB)).isTrue();
      assertThat(Signatures.verify(a.getPublic(), data, byB)).isFalse();
    }
  }

  @Test
  void tamperedOrMalformedSignaturesAreRejected() throws Exception {
    KeyPair keys = ed25519();
    byte[] data = "payload".getBytes(StandardCharsets.UTF_8);
    String sig = Signatures.sign(keys.getPrivate(), data);
    byte[] raw = Base64.getDecoder().decode(sig);

    byte[] otherData = "payloae".getBytes(StandardCharsets.UTF_8);
    assertThat(Signatures.verify(keys.getPublic(), otherData, sig)).isFalse();
    raw[5] ^= 1;
    assertThat(Signatures.verify(keys.getPublic(), data, Base64.getEncoder().encodeToString(raw)))
        .isFalse();
    byte[] shortSig = new byte[63];
    assertThat(
            Signatures.verify(keys.getPublic(), data, Base64.getEncoder().encodeToString(shortSig)))
        .isFalse();
    assertThat(Signatures.verify(keys.getPublic(), data, "not base64 !")).isFalse();
    assertThat(Signatures.verify(keys.getPublic(), data, null)).isFalse();
    assertThat(Signatures.verify(null, data, sig)).isFalse();
  }

  @Test
  void aKeyOfAnotherAlgorithmDoesNotVerify() throws Exception {
    KeyPairGenerator ec = KeyPairGenerator.getInstance("EC");
    ec.initialize(new ECGenParameterSpec("secp256r1"));
    KeyPair p256 = ec.generateKeyPair();
    byte[] data = "payload".getBytes(StandardCharsets.UTF_8);
    String sig = Signatures.sign(ed25519().getPrivate(), data);
    assertThat(Signatures.verify(p256.getPublic(), data, sig)).isFalse();
  }

  @Test
  void publicKeyPemRoundTrips() throws Exception {
    KeyPair keys = ed25519();
    byte[] data = "x".getBytes(StandardCharsets.UTF_8);
    String pem = Signatures.publicKeyPem(keys.getPublic());
    assertThat(
            Signatures.verify(
                Signatures.publicKey(pem), data, Signatures.sign(keys.getPrivate(), data)))
        .isTrue();
  }
}
