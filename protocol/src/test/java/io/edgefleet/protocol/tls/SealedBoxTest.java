package io.edgefleet.protocol.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import org.junit.jupiter.api.Test;

class SealedBoxTest {
  private static final byte[] AAD = SealedBox.secretAad("dev-1", "db-password", 3);
  private static final byte[] TEXT =
      "{\"password\":\"aHVudGVyMg==\"}".getBytes(StandardCharsets.UTF_8);

  private static KeyPair p256() throws GeneralSecurityException {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }

  @Test
  void roundTripOpensWithTheRecipientKeyOnly() throws Exception {
    KeyPair device = p256();
    byte[] sealed = SealedBox.seal((ECPublicKey) device.getPublic(), TEXT, AAD);

    assertThat(SealedBox.open(new SoftwareKeyAgreement(device.getPrivate()), sealed, AAD))
        .isEqualTo(TEXT);
    // The plaintext does not show in the box, and each seal is different.
    assertThat(new String(sealed, StandardCharsets.ISO_8859_1)).doesNotContain("password");
    assertThat(SealedBox.seal((ECPublicKey) device.getPublic(), TEXT, AAD)).isNotEqualTo(sealed);
  }

  @Test
  void anotherKeyCannotOpen() throws Exception {
    byte[] sealed = SealedBox.seal((ECPublicKey) p256().getPublic(), TEXT, AAD);
    assertThatThrownBy(
            () -> SealedBox.open(new SoftwareKeyAgreement(p256().getPrivate()), sealed, AAD))
        .isInstanceOf(GeneralSecurityException.class);
  }

  @Test
  void tamperedBoxFailsAnywhere() throws Exception {
    KeyPair device = p256();
    byte[] sealed = SealedBox.seal((ECPublicKey) device.getPublic(), TEXT, AAD);
    // A flipped bit in the ephemeral key, the nonce, the ciphertext or the tag.
    for (int at : new int[] {10, 70, 80, sealed.length - 1}) {
      byte[] bad = sealed.clone();
      bad[at] ^= 1;
      assertThatThrownBy(
              () -> SealedBox.open(new SoftwareKeyAgreement(device.getPrivate()), bad, AAD))
          .as("bit flipped at %d", at)
          .isInstanceOf(GeneralSecurityException.class);
    }
    byte[] cut = java.util.Arrays.copyOf(sealed, 40);
    assertThatThrownBy(
            () -> SealedBox.open(new SoftwareKeyAgreement(device.getPrivate()), cut, AAD))
        .isInstanceOf(GeneralSecurityException.class)
        .hasMessageContaining("truncated");
  }

  @Test
  void associatedDataMustMatch() throws Exception {
    KeyPair device = p256();
    byte[] sealed = SealedBox.seal((ECPublicKey) device.getPublic(), TEXT, AAD);
    for (byte[] other :
        new byte[][] {
          SealedBox.secretAad("dev-2", "db-password", 3),
          SealedBox.secretAad("dev-1", "db-passwordx", 3),
          SealedBox.secretAad("dev-1", "db-password", 4)
        }) {
      assertThatThrownBy(
              () -> SealedBox.open(new SoftwareKeyAgreement(device.getPrivate()), sealed, other))
          .isInstanceOf(GeneralSecurityException.class);
    }
  }

  @Test
  void refusesKeysOffP256() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp384r1"));
    assertThatThrownBy(
            () -> SealedBox.seal((ECPublicKey) g.generateKeyPair().getPublic(), TEXT, AAD))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
