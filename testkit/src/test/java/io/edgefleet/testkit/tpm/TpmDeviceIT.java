package io.edgefleet.testkit.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.device.tpm.DeviceKeys;
import io.edgefleet.device.tpm.EcdsaSignatures;
import io.edgefleet.device.tpm.TpmDevice;
import io.edgefleet.device.tpm.TpmException;
import io.edgefleet.device.tpm.TpmPrivateKey;
import io.edgefleet.device.tpm.TpmTemplates;
import io.edgefleet.protocol.TpmChallenge;
import io.edgefleet.protocol.TpmKeyProof;
import io.edgefleet.protocol.TpmQuote;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.protocol.tpm.Credentials;
import io.edgefleet.protocol.tpm.KeyProofs;
import io.edgefleet.protocol.tpm.QuoteVerifier;
import io.edgefleet.protocol.tpm.TpmAlg;
import io.edgefleet.protocol.tpm.TpmBuffer;
import io.edgefleet.protocol.tpm.TpmPublic;
import io.edgefleet.testkit.Swtpm;
import java.nio.file.Files;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import javax.crypto.KeyAgreement;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The device's TPM operations against a real software TPM. */
class TpmDeviceIT {
  private static Swtpm swtpm;
  private static TpmDevice tpm;

  @BeforeAll
  static void start() throws Exception {
    swtpm = Swtpm.start();
    tpm = TpmDevice.open(swtpm.endpoint().toString());
  }

  @AfterAll
  static void stop() {
    if (tpm != null) {
      tpm.close();
    }
    if (swtpm != null) {
      swtpm.close();
    }
  }

  private static byte[] salt() {
    byte[] s = new byte[TpmTemplates.SALT_BYTES];
    new SecureRandom().nextBytes(s);
    return s;
  }

  @Test
  void sameSaltSameKeyNewSaltNewKeyAndNothingLeftLoaded() {
    byte[] salt = salt();
    TpmPublic a = tpm.devicePublic(salt);
    TpmPublic b = tpm.devicePublic(salt);
    TpmPublic other = tpm.devicePublic(salt());
    assertThat(a).isEqualTo(b);
    assertThat(a.toPublicKey()).isEqualTo(b.toPublicKey());
    assertThat(other.toPublicKey()).isNotEqualTo(a.toPublicKey());
    assertThat(a.has(TpmTemplates.IN_TPM | TpmAlg.SIGN_ENCRYPT | TpmAlg.DECRYPT)).isTrue();
    assertThat(a.has(TpmAlg.RESTRICTED)).isFalse();
    assertThat(tpm.akPublic()).isEqualTo(tpm.akPublic());
    assertThat(tpm.akPublic().has(TpmAlg.RESTRICTED | TpmAlg.SIGN_ENCRYPT)).isTrue();
    assertThat(tpm.tpm().transientHandles()).isEmpty();
  }

  @Test
  void signsDigestsThatJcaVerifies() throws Exception {
    byte[] salt = salt();
    ECPublicKey pub = (ECPublicKey) tpm.devicePublic(salt).toPublicKey();
    byte[] data = "what the device signs".getBytes();
    byte[] der = tpm.sign(salt, MessageDigest.getInstance("SHA-256").digest(data));
    Signature v = Signature.getInstance("SHA256withECDSA");
    v.initVerify(pub);
    v.update(data);
    assertThat(v.verify(der)).isTrue();
    v.initVerify(pub);
    v.update("something else".getBytes());
    assertThat(v.verify(der)).isFalse();
  }

  @Test
  void ecdhMatchesSoftwareEcdhWithThePublicPoint() throws Exception {
    byte[] salt = salt();
    ECPublicKey device = (ECPublicKey) tpm.devicePublic(salt).toPublicKey();
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    KeyPair peer = g.generateKeyPair();
    KeyAgreement ka = KeyAgreement.getInstance("ECDH");
    ka.init(peer.getPrivate());
    ka.doPhase(device, true);
    byte[] expected = ka.generateSecret();
    TpmPrivateKey key = new TpmPrivateKey(tpm, salt, device);
    byte[] viaTpm = DeviceKeys.agreement(key).sharedSecret((ECPublicKey) peer.getPublic());
    assertThat(viaTpm).hasSize(32).isEqualTo(expected);
    assertThat(DeviceKeys.kind(key)).isEqualTo("tpm");
  }

  @Test
  void certifiesTheDeviceKeyWithTheAttestationKey() throws Exception {
    byte[] salt = salt();
    TpmKeyProof proof = tpm.certifyDeviceKey(salt);
    TpmPublic area = TpmPublic.parse(Base64.getDecoder().decode(proof.publicArea()));
    assertThat(area).isEqualTo(tpm.devicePublic(salt));
    byte[] attest = Base64.getDecoder().decode(proof.certifyInfo());
    TpmBuffer.Reader r = new TpmBuffer.Reader(attest);
    assertThat(r.u32()).isEqualTo(0xff544347L); // TPM_GENERATED_VALUE
    assertThat(r.u16()).isEqualTo(0x8017); // TPM_ST_ATTEST_CERTIFY
    r.sized(); // qualifiedSigner
    r.sized(); // extraData
    r.bytes(17 + 8); // clockInfo, firmwareVersion
    assertThat(r.sized()).isEqualTo(area.name());
    assertThat(verify(tpm.akPublic(), attest, proof.signature())).isTrue();
    // And as the controller's verifier sees it.
    assertThat(KeyProofs.verify(tpm.akPublic(), proof, area.toPublicKey())).isEqualTo(area);
  }

  @Test
  void quoteCoversThePcrValuesReadAndTheNonce() throws Exception {
    byte[] nonce = new byte[32];
    new SecureRandom().nextBytes(nonce);
    byte[] measurement = MessageDigest.getInstance("SHA-256").digest("kernel".getBytes());
    tpm.tpm().pcrExtend(16, measurement);
    List<Integer> pcrs = List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16);
    TpmQuote q = tpm.quote(nonce, pcrs, new byte[] {1, 2, 3});
    assertThat(q.pcrs().keySet()).containsExactlyElementsOf(pcrs);
    // PCR 16 started at zero: one extend gives SHA-256(zeros || measurement).
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    md.update(new byte[32]);
    byte[] expected16 = md.digest(measurement);
    assertThat(q.pcrs().get(16)).isEqualTo(HexFormat.of().formatHex(expected16));
    byte[] attest = Base64.getDecoder().decode(q.attest());
    assertThat(verify(tpm.akPublic(), attest, q.signature())).isTrue();
    TpmBuffer.Reader r = new TpmBuffer.Reader(attest);
    r.u32();
    assertThat(r.u16()).isEqualTo(0x8018); // TPM_ST_ATTEST_QUOTE
    r.sized();
    assertThat(r.sized()).isEqualTo(nonce);
    r.bytes(17 + 8);
    assertThat(r.u32()).isEqualTo(1); // one bank
    assertThat(r.u16()).isEqualTo(TpmAlg.SHA256);
    r.bytes(r.u8());
    byte[] pcrDigest = r.sized();
    MessageDigest all = MessageDigest.getInstance("SHA-256");
    for (Map.Entry<Integer, String> e : q.pcrs().entrySet()) {
      all.update(HexFormat.of().parseHex(e.getValue()));
    }
    assertThat(pcrDigest).isEqualTo(all.digest());
    assertThat(Base64.getDecoder().decode(q.eventLog())).containsExactly(1, 2, 3);
    // And as the controller's verifier sees it (without the made-up event log).
    TpmQuote withoutLog = new TpmQuote(q.attest(), q.signature(), q.pcrs(), null);
    assertThat(QuoteVerifier.verify(tpm.akPublic(), withoutLog, nonce, pcrs).pcrs())
        .containsKeys(0, 7, 16);
  }

  @Test
  void readsAllTwentyFourPcrsInBatchesOfEight() {
    List<Integer> all = java.util.stream.IntStream.range(0, 24).boxed().toList();
    Map<Integer, byte[]> values = tpm.pcrs(all);
    assertThat(values.keySet()).containsExactlyInAnyOrderElementsOf(all);
    assertThat(values.values()).allSatisfy(v -> assertThat(v).hasSize(32));
  }

  @Test
  void ekCertificateIsReadFromNvAndChainsToTheLocalCa() throws Exception {
    X509Certificate ek = tpm.ekCertificate();
    X509Certificate intermediate = Pem.certificateOf(Files.readString(swtpm.intermediateCa()));
    X509Certificate root = Pem.certificateOf(Files.readString(swtpm.rootCa()));
    ek.verify(intermediate.getPublicKey());
    intermediate.verify(root.getPublicKey());
    TpmPublic ekPublic = tpm.ekPublic();
    assertThat(ekPublic.holds(ek.getPublicKey())).isTrue();
    assertThat(ekPublic.authPolicy()).isEqualTo(TpmPublic.EK_POLICY);
  }

  @Test
  void activatesACredentialMadeForItsEkAndAk() throws Exception {
    byte[] credential = new byte[32];
    new SecureRandom().nextBytes(credential);
    Credentials.Challenge c = Credentials.make(tpm.ekPublic(), tpm.akPublic().name(), credential);
    Base64.Encoder b64 = Base64.getEncoder();
    TpmChallenge challenge =
        new TpmChallenge(
            b64.encodeToString(c.credentialBlob()),
            b64.encodeToString(c.encryptedSecret()),
            b64.encodeToString(new byte[32]),
            List.of(0));
    assertThat(tpm.activateCredential(challenge)).isEqualTo(credential);
    assertThat(tpm.tpm().transientHandles()).isEmpty();

    // A credential bound to another key's name is refused by the TPM, with its code.
    Credentials.Challenge foreign =
        Credentials.make(tpm.ekPublic(), tpm.devicePublic(salt()).name(), credential);
    TpmChallenge wrong =
        new TpmChallenge(
            b64.encodeToString(foreign.credentialBlob()),
            b64.encodeToString(foreign.encryptedSecret()),
            challenge.nonce(),
            List.of(0));
    assertThatThrownBy(() -> tpm.activateCredential(wrong))
        .isInstanceOf(TpmException.class)
        .hasMessageContaining("TPM2_ActivateCredential failed: TPM_RC_INTEGRITY");
    assertThat(tpm.tpm().transientHandles()).isEmpty();
  }

  @Test
  void errorsCarryTheResponseCodeAndWhatItMeans() {
    assertThatThrownBy(() -> tpm.tpm().readPublic(0x81000ABC))
        .isInstanceOfSatisfying(
            TpmException.class,
            e -> {
              assertThat(e.responseName()).isEqualTo("TPM_RC_HANDLE");
              assertThat(e.getMessage())
                  .startsWith("TPM2_ReadPublic failed: TPM_RC_HANDLE (0x18b, handle 1)");
            });
    assertThatThrownBy(() -> tpm.tpm().flush(0x80ffffff))
        .isInstanceOf(TpmException.class)
        .hasMessageContaining("TPM2_FlushContext failed: TPM_RC_");
  }

  static boolean verify(TpmPublic key, byte[] signed, String tpmtSignature) throws Exception {
    Signature v = Signature.getInstance("SHA256withECDSA");
    v.initVerify(key.toPublicKey());
    v.update(signed);
    return v.verify(EcdsaSignatures.toDer(Base64.getDecoder().decode(tpmtSignature)));
  }
}
