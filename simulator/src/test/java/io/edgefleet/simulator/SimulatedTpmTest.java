package io.edgefleet.simulator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.TpmChallenge;
import io.edgefleet.protocol.TpmEnrollment;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.protocol.tpm.Credentials;
import io.edgefleet.protocol.tpm.EkRoots;
import io.edgefleet.protocol.tpm.KeyProofs;
import io.edgefleet.protocol.tpm.QuoteVerifier;
import io.edgefleet.protocol.tpm.SoftEkCa;
import io.edgefleet.protocol.tpm.TpmPublic;
import io.edgefleet.protocol.tpm.VerifiedQuote;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A simulated device's software TPM against the verifiers a controller uses: what it sends at
 * enrollment and in answer to challenges passes them, before and after a restart.
 */
class SimulatedTpmTest {
  static final List<Integer> PCRS = List.of(0, 1, 4, 7, 8, 9);
  static final Base64.Encoder B64 = Base64.getEncoder();
  static final Base64.Decoder D64 = Base64.getDecoder();

  static KeyPair deviceKey() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }

  /** What a controller does with a first request: returns the challenge and expected secret. */
  static TpmChallenge challenge(EkRoots roots, TpmEnrollment e, KeyPair device, byte[] secret)
      throws Exception {
    TpmPublic ek = TpmPublic.parse(D64.decode(e.ekPublic()));
    TpmPublic ak = TpmPublic.parse(D64.decode(e.akPublic()));
    var cert = Pem.certificateOf(e.ekCertificatePem());
    roots.validate(cert, List.of());
    EkRoots.requireSameKey(cert, ek);
    QuoteVerifier.requireAttestationKey(ak);
    KeyProofs.verify(ak, e.deviceKey(), device.getPublic());
    Credentials.Challenge c = Credentials.make(ek, ak.name(), secret);
    return new TpmChallenge(
        B64.encodeToString(c.credentialBlob()),
        B64.encodeToString(c.encryptedSecret()),
        B64.encodeToString(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}),
        PCRS);
  }

  @Test
  void enrollsActivatesAndAttestsBeforeAndAfterARestart(@TempDir Path dir) throws Exception {
    SimulatedTpm.Fleet fleet = SimulatedTpm.Fleet.open(dir.resolve("tpm-ca"));
    EkRoots roots = EkRoots.load(dir.resolve("tpm-ca")); // the key file beside is not read
    KeyPair device = deviceKey();
    SimulatedTpm tpm = SimulatedTpm.enrolling(fleet);
    TpmEnrollment first = tpm.request((ECPublicKey) device.getPublic());
    assertThat(first.activatedCredential()).isNull();

    byte[] secret = "a credential of thirty-two bytes".getBytes();
    TpmChallenge challenge = challenge(roots, first, device, secret);
    TpmEnrollment second = tpm.activate(challenge);
    assertThat(D64.decode(second.activatedCredential())).isEqualTo(secret);
    TpmPublic ak = TpmPublic.parse(D64.decode(second.akPublic()));
    VerifiedQuote enrollmentQuote =
        QuoteVerifier.verify(ak, second.quote(), D64.decode(challenge.nonce()), PCRS);
    assertThat(enrollmentQuote.eventLog()).isPresent();

    tpm.enrolled();
    ControllerMessage.AttestationChallenge c =
        new ControllerMessage.AttestationChallenge("c1", B64.encodeToString(new byte[32]), PCRS);
    AgentMessage.AttestationAnswer answer = tpm.answer(c);
    assertThat(answer.id()).isEqualTo("c1");
    VerifiedQuote later = QuoteVerifier.verify(ak, answer.quote(), new byte[32], PCRS);
    assertThat(later.pcrsHex()).isEqualTo(enrollmentQuote.pcrsHex());

    // A restart: the identity file keeps the AK; the same boot gives the same PCRs.
    SimulatedTpm restored =
        SimulatedTpm.restored(
            SimulatedTpm.Fleet.open(dir.resolve("tpm-ca")),
            tpm.attestationPublic(),
            Pem.privateKey(Pem.privateKey(tpm.attestationKey().getPrivate()), "EC"));
    VerifiedQuote afterRestart =
        QuoteVerifier.verify(ak, restored.answer(c).quote(), new byte[32], PCRS);
    assertThat(afterRestart.pcrsHex()).isEqualTo(enrollmentQuote.pcrsHex());
    assertThatThrownBy(() -> restored.request((ECPublicKey) device.getPublic()))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void theFleetCaPersists(@TempDir Path dir) throws Exception {
    SimulatedTpm.Fleet a = SimulatedTpm.Fleet.open(dir);
    SimulatedTpm.Fleet b = SimulatedTpm.Fleet.open(dir);
    assertThat(b.ca().root()).isEqualTo(a.ca().root());
    assertThat(Files.getPosixFilePermissions(dir.resolve(SoftEkCa.KEY_FILE)).toString())
        .isEqualTo("[OWNER_READ, OWNER_WRITE]");
  }

  @Test
  void refusesForeignCredentialsAndActivationLoops(@TempDir Path dir) throws Exception {
    SimulatedTpm.Fleet fleet = SimulatedTpm.Fleet.open(dir);
    KeyPair device = deviceKey();
    SimulatedTpm tpm = SimulatedTpm.enrolling(fleet);
    SimulatedTpm other = SimulatedTpm.enrolling(fleet);
    EkRoots roots = EkRoots.load(dir);
    TpmEnrollment theirs = other.request((ECPublicKey) device.getPublic());
    assertThatThrownBy(() -> tpm.activate(challenge(roots, theirs, device, new byte[8])))
        .hasMessageContaining("without a TPM enrollment request");
    TpmEnrollment mine = tpm.request((ECPublicKey) device.getPublic());
    assertThatThrownBy(() -> tpm.activate(challenge(roots, theirs, device, new byte[8])))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("credential activation failed");
    // A new request (as after a PENDING answer) starts counting again.
    TpmChallenge c =
        challenge(roots, tpm.request((ECPublicKey) device.getPublic()), device, new byte[8]);
    assertThat(mine.akPublic()).isNotNull();
    for (int i = 0; i < SimulatedTpm.MAX_ACTIVATIONS; i++) {
      tpm.activate(c);
    }
    assertThatThrownBy(() -> tpm.activate(c)).hasMessageContaining("times in a row");
  }

  @Test
  void answersWithAnErrorWithoutTpmOrForABadNonce(@TempDir Path dir) throws Exception {
    var c = new ControllerMessage.AttestationChallenge("x", "not base64!", PCRS);
    assertThat(SimulatedTpm.noTpm(c).error()).contains("--attestation");
    SimulatedTpm tpm = SimulatedTpm.enrolling(SimulatedTpm.Fleet.open(dir));
    AgentMessage.AttestationAnswer a = tpm.answer(c);
    assertThat(a.quote()).isNull();
    assertThat(a.error()).startsWith("cannot quote");
  }

  @Test
  void ekPoolKeysAreDistinctWorkingRsa2048Keys() throws Exception {
    EkPool pool = new EkPool();
    Set<BigInteger> moduli = new HashSet<>();
    for (int i = 0; i < 105; i++) {
      KeyPair k = pool.next();
      BigInteger n = ((RSAPublicKey) k.getPublic()).getModulus();
      assertThat(n.bitLength()).isEqualTo(2048);
      moduli.add(n);
    }
    assertThat(moduli).hasSize(105);
    // k primes make k(k-1)/2 keys: 105 keys need 15 primes.
    assertThat(pool.primes()).isEqualTo(15);
    // A pool key works as an EK: a credential made for it activates.
    SoftEkCa ca = SoftEkCa.create("x");
    var soft = io.edgefleet.protocol.tpm.SoftTpm.create(ca, pool.next(), null);
    Credentials.Challenge ch =
        Credentials.make(soft.ekPublic(), soft.akPublic().name(), new byte[] {7});
    assertThat(soft.activate(ch.credentialBlob(), ch.encryptedSecret())).containsExactly(7);
  }

  @Test
  void anEnrolledDeviceKeepsLittleMemory(@TempDir Path dir) throws Exception {
    SimulatedTpm.Fleet fleet = SimulatedTpm.Fleet.open(dir);
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    int n = 2_000;
    SimulatedTpm[] devices = new SimulatedTpm[n];
    SimulatedTpm template = SimulatedTpm.enrolling(fleet);
    Runtime rt = Runtime.getRuntime();
    System.gc();
    long before = rt.totalMemory() - rt.freeMemory();
    for (int i = 0; i < n; i++) {
      KeyPair ak = g.generateKeyPair();
      devices[i] =
          SimulatedTpm.restored(
              fleet,
              Base64.getEncoder()
                  .encodeToString(
                      io.edgefleet.protocol.tpm.SoftTpm.eccArea(
                              (ECPublicKey) ak.getPublic(),
                              io.edgefleet.protocol.tpm.SoftTpm.AK_ATTRIBUTES,
                              io.edgefleet.protocol.tpm.TpmAlg.ECDSA)
                          .marshal()),
              ak.getPrivate());
    }
    System.gc();
    long perDevice = (rt.totalMemory() - rt.freeMemory() - before) / n;
    System.out.println("software TPM of an enrolled device: about " + perDevice + " bytes");
    assertThat(perDevice).isLessThan(4096);
    assertThat(devices[n - 1]).isNotNull();
    assertThat(template).isNotNull();
  }
}
