package io.edgefleet.protocol.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.security.KeyPair;
import java.security.interfaces.RSAPublicKey;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class CredentialsTest {
  static KeyPair ekKeys;
  static TpmPublic ek;
  static final byte[] NAME =
      new TpmBuffer.Writer().u16(TpmAlg.SHA256).bytes(new byte[32]).toBytes();

  @BeforeAll
  static void keys() {
    ekKeys = SoftTpm.newEk();
    ek = SoftTpm.ekArea((RSAPublicKey) ekKeys.getPublic());
  }

  @Test
  void blobsHaveTheTpmLayout() {
    byte[] credential = new byte[32];
    Credentials.Challenge c = Credentials.make(ek, NAME, credential);
    // TPM2B_ID_OBJECT: size, TPM2B_DIGEST integrity HMAC, encrypted TPM2B_DIGEST credential.
    assertThat(c.credentialBlob()).hasSize(2 + 2 + 32 + 2 + 32);
    TpmBuffer.Reader r = new TpmBuffer.Reader(c.credentialBlob());
    assertThat(r.u16()).isEqualTo(2 + 32 + 2 + 32);
    assertThat(r.u16()).isEqualTo(32);
    // TPM2B_ENCRYPTED_SECRET: size, RSA 2048 ciphertext.
    assertThat(c.encryptedSecret()).hasSize(2 + 256);
    assertThat(new TpmBuffer.Reader(c.encryptedSecret()).u16()).isEqualTo(256);
  }

  @Test
  void roundTripsAndEachChallengeIsFresh() {
    byte[] credential = {9, 8, 7, 6, 5};
    Credentials.Challenge a = Credentials.make(ek, NAME, credential);
    Credentials.Challenge b = Credentials.make(ek, NAME, credential);
    assertThat(a.encryptedSecret()).isNotEqualTo(b.encryptedSecret());
    assertThat(
            Credentials.activate(
                ek, ekKeys.getPrivate(), NAME, a.credentialBlob(), a.encryptedSecret()))
        .isEqualTo(credential);
  }

  @Test
  void tamperingOrAnotherNameOrEkFails() {
    Credentials.Challenge c = Credentials.make(ek, NAME, new byte[16]);
    byte[] blob = c.credentialBlob();
    blob[blob.length - 1] ^= 1;
    assertThatThrownBy(
            () -> Credentials.activate(ek, ekKeys.getPrivate(), NAME, blob, c.encryptedSecret()))
        .isInstanceOf(TpmFormatException.class)
        .hasMessageContaining("integrity");
    byte[] otherName = NAME.clone();
    otherName[5] = 1;
    assertThatThrownBy(
            () ->
                Credentials.activate(
                    ek, ekKeys.getPrivate(), otherName, c.credentialBlob(), c.encryptedSecret()))
        .isInstanceOf(TpmFormatException.class);
    KeyPair other = SoftTpm.newEk();
    assertThatThrownBy(
            () ->
                Credentials.activate(
                    ek, other.getPrivate(), NAME, c.credentialBlob(), c.encryptedSecret()))
        .isInstanceOf(TpmFormatException.class)
        .hasMessageContaining("does not decrypt");
  }

  @Test
  void truncatedBlobsFailCleanly() {
    Credentials.Challenge c = Credentials.make(ek, NAME, new byte[16]);
    byte[] blob = c.credentialBlob();
    for (int n = 0; n < blob.length; n++) {
      byte[] cut = java.util.Arrays.copyOf(blob, n);
      assertThatThrownBy(
              () -> Credentials.activate(ek, ekKeys.getPrivate(), NAME, cut, c.encryptedSecret()))
          .isInstanceOf(TpmFormatException.class);
    }
    assertThatThrownBy(
            () ->
                Credentials.activate(
                    ek, ekKeys.getPrivate(), NAME, blob, new byte[] {(byte) 0xff, (byte) 0xff}))
        .isInstanceOf(TpmFormatException.class);
  }

  @Test
  void refusesCredentialsATpmWouldNot() {
    assertThatThrownBy(() -> Credentials.make(ek, NAME, new byte[33]))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Credentials.make(ek, NAME, new byte[0]))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void kdfaMatchesTheSpecConstruction() throws Exception {
    // KDFa(SHA256, key, "STORAGE", u, null, 128) = first 16 bytes of
    // HMAC(key, 00000001 || "STORAGE\0" || u || 00000080).
    byte[] key = new byte[32];
    byte[] u = {1, 2, 3};
    javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
    mac.init(new javax.crypto.spec.SecretKeySpec(key, "HmacSHA256"));
    mac.update(new byte[] {0, 0, 0, 1});
    mac.update("STORAGE\0".getBytes());
    mac.update(u);
    mac.update(new byte[] {0, 0, 0, (byte) 0x80});
    byte[] expected = java.util.Arrays.copyOf(mac.doFinal(), 16);
    assertThat(Kdf.kdfa(TpmAlg.SHA256, key, "STORAGE", u, null, 128)).isEqualTo(expected);
    assertThat(Kdf.kdfa(TpmAlg.SHA256, key, "INTEGRITY", null, null, 512)).hasSize(64);
  }
}
