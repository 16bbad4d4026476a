package io.edgefleet.protocol.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.protocol.TpmQuote;
import io.edgefleet.protocol.tpm.AttestationException.Reason;
import java.nio.charset.StandardCharsets;
import java.security.KeyPairGenerator;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The software TPM's structures pass the verifiers that check real TPMs, and tampering fails. */
class SoftTpmTest {
  static SoftEkCa ca;
  static SoftTpm tpm;

  @BeforeAll
  static void setUp() {
    ca = SoftEkCa.create("Soft TPM Test Root");
    EventLog boot =
        EventLog.builder()
            .startupLocality(3)
            .text(0, EventTypes.EV_S_CRTM_VERSION, "1.0")
            .separator(0)
            .efiVariable(7, EventTypes.EV_EFI_VARIABLE_DRIVER_CONFIG, "SecureBoot", new byte[] {1})
            .separator(7)
            .build();
    tpm = SoftTpm.create(ca, SoftTpm.newEk(), boot);
  }

  @Test
  void credentialActivatesOnlyForItsAk() {
    byte[] secret = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
    Credentials.Challenge c = Credentials.make(tpm.ekPublic(), tpm.akPublic().name(), secret);
    assertThat(tpm.activate(c.credentialBlob(), c.encryptedSecret())).isEqualTo(secret);

    byte[] otherName = tpm.ekPublic().name();
    Credentials.Challenge foreign = Credentials.make(tpm.ekPublic(), otherName, secret);
    assertThatThrownBy(() -> tpm.activate(foreign.credentialBlob(), foreign.encryptedSecret()))
        .isInstanceOf(TpmFormatException.class)
        .hasMessageContaining("integrity");
  }

  @Test
  void quoteVerifiesWithEventLog() throws Exception {
    byte[] nonce = new byte[32];
    nonce[0] = 7;
    TpmQuote q = tpm.quote(nonce, List.of(7, 0));
    VerifiedQuote v = QuoteVerifier.verify(tpm.akPublic(), q, nonce, List.of(0, 7));
    assertThat(v.attest().pcrSelection()).containsExactly(0, 7);
    assertThat(v.pcrs().get(7)).isEqualTo(tpm.pcr(7));
    assertThat(v.eventLog()).isPresent();
    assertThat(v.eventLog().orElseThrow().replay().get(0)).isEqualTo(tpm.pcr(0));
  }

  @Test
  void wrongNonceIsRefused() {
    TpmQuote q = tpm.quote(new byte[32], List.of(0, 7));
    byte[] other = new byte[32];
    other[31] = 1;
    assertThatThrownBy(() -> QuoteVerifier.verify(tpm.akPublic(), q, other, List.of(0, 7)))
        .isInstanceOfSatisfying(
            AttestationException.class,
            e -> assertThat(e.reason()).isEqualTo(Reason.NONCE_MISMATCH));
  }

  @Test
  void certifiedDeviceKeyVerifies() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    ECPublicKey key = (ECPublicKey) g.generateKeyPair().getPublic();
    ECPublicKey other = (ECPublicKey) g.generateKeyPair().getPublic();
    TpmPublic area = KeyProofs.verify(tpm.akPublic(), tpm.certify(key), key);
    assertThat(area.holds(key)).isTrue();
    assertThatThrownBy(() -> KeyProofs.verify(tpm.akPublic(), tpm.certify(key), other))
        .isInstanceOfSatisfying(
            AttestationException.class,
            e -> assertThat(e.reason()).isEqualTo(Reason.KEY_NOT_IN_TPM));
  }

  @Test
  void ekCertificateChainsToTheSoftCa(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws Exception {
    ca.writeRoot(dir, "root.pem");
    EkRoots roots = EkRoots.load(dir);
    assertThat(roots.validate(tpm.ekCertificate(), List.of())).isEqualTo(ca.root());
    EkRoots.requireSameKey(tpm.ekCertificate(), tpm.ekPublic());
  }
}
