package io.edgefleet.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.edgefleet.controller.pki.ControllerPki;
import io.edgefleet.controller.trust.TrustOptions;
import io.edgefleet.device.tpm.EcdsaSignatures;
import io.edgefleet.device.tpm.TpmDevice;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.EnrollmentRequest;
import io.edgefleet.protocol.EnrollmentResponse;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.TpmChallenge;
import io.edgefleet.protocol.TpmEnrollment;
import io.edgefleet.protocol.TpmQuote;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.protocol.tpm.Credentials;
import io.edgefleet.protocol.tpm.EkRoots;
import io.edgefleet.protocol.tpm.KeyProofs;
import io.edgefleet.protocol.tpm.QuoteVerifier;
import io.edgefleet.protocol.tpm.TpmAlg;
import io.edgefleet.protocol.tpm.TpmBuffer;
import io.edgefleet.protocol.tpm.TpmPublic;
import io.edgefleet.testkit.Swtpm;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import javax.crypto.KeyAgreement;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent with its device key in a real software TPM. */
class TpmAgentIT {
  @TempDir Path dir;
  private Swtpm swtpm;

  @BeforeEach
  void start() {
    swtpm = Swtpm.start();
  }

  @AfterEach
  void stop() {
    swtpm.close();
  }

  @Test
  void enrollsConnectsOverMutualTlsAndRenewsWithTheKeyInTheTpm() throws Exception {
    try (TestController controller =
            TestController.start(
                TestController.config(dir.resolve("controller"))
                    .withTrust(TrustOptions.defaults().withTpmCa(swtpm.caDirectory())));
        TestAgents agents = new TestAgents(dir)) {
      String token = controller.token(Map.of("site", "tpm"), null, false);
      Path bootstrap = agents.bootstrap("t", controller.url(), controller.caFingerprint(), token);
      AgentOptions options =
          agents.options("tpm-1", bootstrap).withTpm(swtpm.endpoint().toString());
      Agent agent = agents.start(options);
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> agent.status().state() == Agent.State.CONNECTED);

      Path state = options.stateDir();
      assertThat(state.resolve("tpm-key.json")).exists();
      assertThat(state.resolve("device.key")).doesNotExist();
      assertThat(Files.readString(state.resolve("tpm-key.json"))).doesNotContain("PRIVATE");
      assertThat(agent.identityKind()).contains("tpm");
      X509Certificate cert = Pem.certificateOf(Files.readString(state.resolve("device.crt")));
      IdentityStore.TpmKeyFile keyFile =
          Json.mapper()
              .readValue(
                  Files.readString(state.resolve("tpm-key.json")), IdentityStore.TpmKeyFile.class);
      // The agreement the secrets are opened with is ECDH with the certified key.
      KeyPair peer = ecKey();
      KeyAgreement ka = KeyAgreement.getInstance("ECDH");
      ka.init(peer.getPrivate());
      ka.doPhase(cert.getPublicKey(), true);
      assertThat(agent.keyAgreement().orElseThrow().sharedSecret((ECPublicKey) peer.getPublic()))
          .isEqualTo(ka.generateSecret());
      agent.close();
      // swtpm serves one connection at a time: the agent's is closed now.
      try (TpmDevice tpm = TpmDevice.open(swtpm.endpoint().toString())) {
        assertThat(
                tpm.devicePublic(Base64.getDecoder().decode(keyFile.salt()))
                    .holds(cert.getPublicKey()))
            .isTrue();
      }

      // 300 days later the certificate is renewed, for a new key in the TPM.
      Agent aged = agents.start(options, Clock.offset(Clock.systemUTC(), Duration.ofDays(300)));
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  !Pem.certificateOf(Files.readString(state.resolve("device.crt")))
                      .getSerialNumber()
                      .equals(cert.getSerialNumber()));
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> !Files.exists(state.resolve("tpm-key-next.json")));
      X509Certificate renewed = Pem.certificateOf(Files.readString(state.resolve("device.crt")));
      // The controller took the new key, proven to live in the same TPM.
      assertThat(renewed.getPublicKey()).isNotEqualTo(cert.getPublicKey());
      IdentityStore.TpmKeyFile after =
          Json.mapper()
              .readValue(
                  Files.readString(state.resolve("tpm-key.json")), IdentityStore.TpmKeyFile.class);
      assertThat(after.area().toPublicKey()).isEqualTo(renewed.getPublicKey());
      assertThat(state.resolve("device.key")).doesNotExist();
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> aged.status().state() == Agent.State.CONNECTED);
      aged.close();
    }
  }

  @Test
  void aTpmThatCannotBeReachedStopsTheAgentAtStart() throws Exception {
    int closed;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    try (TestAgents agents = new TestAgents(dir)) {
      Path bootstrap =
          agents.bootstrap("x", "https://localhost:1", "sha256:" + "00".repeat(32), "token");
      AgentOptions options =
          agents.options("no-tpm", bootstrap).withTpm("tcp://127.0.0.1:" + closed);
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> agents.start(options))
          .isInstanceOfSatisfying(
              AgentException.class,
              e -> assertThat(e.code()).isEqualTo(AgentException.Code.TPM_UNAVAILABLE))
          .hasMessageContaining("cannot use the TPM tcp://127.0.0.1:" + closed)
          .hasMessageContaining("--no-tpm");
    }
  }

  @Test
  void enrollmentProvesTheTpmAndAnswersTheCredentialChallenge() throws Exception {
    ControllerPki pki =
        ControllerPki.open(
            dir.resolve("pki"), List.of("localhost", "127.0.0.1"), Clock.systemUTC());
    List<EnrollmentRequest> seen = new CopyOnWriteArrayList<>();
    List<Throwable> failed = new CopyOnWriteArrayList<>();
    byte[] credential = new byte[32];
    new SecureRandom().nextBytes(credential);
    byte[] nonce = new byte[32];
    new SecureRandom().nextBytes(nonce);
    HttpsServer server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setHttpsConfigurator(new HttpsConfigurator(serverContext(pki)));
    server.createContext(
        DeviceApi.ENROLLMENTS,
        exchange -> {
          EnrollmentRequest req =
              Json.mapper()
                  .readValue(exchange.getRequestBody().readAllBytes(), EnrollmentRequest.class);
          seen.add(req);
          EnrollmentResponse answer;
          try {
            answer = answer(pki, req, credential, nonce);
          } catch (Exception | AssertionError e) {
            failed.add(e);
            answer =
                new EnrollmentResponse(
                    EnrollmentResponse.Status.REJECTED,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    e.toString(),
                    null);
          }
          byte[] body = Json.writeBytes(answer);
          exchange.getResponseHeaders().add("Content-Type", "application/json");
          exchange.sendResponseHeaders(200, body.length);
          exchange.getResponseBody().write(body);
          exchange.close();
        });
    server.start();
    try (TestAgents agents = new TestAgents(dir)) {
      Path bootstrap =
          agents.bootstrap(
              "fake",
              "https://localhost:" + server.getAddress().getPort(),
              pki.caFingerprint(),
              "token-1");
      Agent agent =
          agents.start(agents.options("tpm-2", bootstrap).withTpm(swtpm.endpoint().toString()));
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> agent.identity().isPresent() || !failed.isEmpty());
      assertThat(failed).isEmpty();
      assertThat(seen).hasSize(2);
      TpmEnrollment first = seen.get(0).tpm();
      TpmEnrollment second = seen.get(1).tpm();
      assertThat(first.activatedCredential()).isNull();
      assertThat(first.quote()).isNull();
      assertThat(seen.get(0).facts().identity()).isEqualTo(DeviceFacts.IDENTITY_TPM);
      assertThat(Base64.getDecoder().decode(second.activatedCredential())).isEqualTo(credential);
      assertThat(second.quote().pcrs().keySet()).containsExactly(0, 1, 7);
      assertThat(agent.identity().orElseThrow().kind()).isEqualTo("tpm");
      agent.close();
    } finally {
      server.stop(0);
    }
  }

  /**
   * A controller's checks, in short: the EK chain, the certified key, the activation, the quote.
   */
  private EnrollmentResponse answer(
      ControllerPki pki, EnrollmentRequest req, byte[] credential, byte[] nonce) throws Exception {
    TpmEnrollment tpm = req.tpm();
    Base64.Decoder b64 = Base64.getDecoder();
    X509Certificate ek = Pem.certificateOf(tpm.ekCertificatePem());
    ek.verify(Pem.certificateOf(Files.readString(swtpm.intermediateCa())).getPublicKey());
    EkRoots.load(swtpm.caDirectory()).validate(ek, List.of());
    TpmPublic ekPublic = TpmPublic.parse(b64.decode(tpm.ekPublic()));
    assertThat(ekPublic.holds(ek.getPublicKey())).isTrue();
    TpmPublic ak = TpmPublic.parse(b64.decode(tpm.akPublic()));
    assertThat(ak.has(TpmAlg.RESTRICTED | TpmAlg.SIGN_ENCRYPT | TpmAlg.FIXED_TPM)).isTrue();
    ControllerPki.ValidCsr csr = ControllerPki.validateCsr(req.csrPem());
    TpmPublic key = TpmPublic.parse(b64.decode(tpm.deviceKey().publicArea()));
    assertThat(key.holds(csr.publicKey())).isTrue();
    assertThat(verify(ak, b64.decode(tpm.deviceKey().certifyInfo()), tpm.deviceKey().signature()))
        .isTrue();
    KeyProofs.verify(ak, tpm.deviceKey(), csr.publicKey());
    if (tpm.activatedCredential() == null) {
      Credentials.Challenge c = Credentials.make(ekPublic, ak.name(), credential);
      Base64.Encoder enc = Base64.getEncoder();
      return new EnrollmentResponse(
          EnrollmentResponse.Status.ACTIVATE,
          null,
          null,
          null,
          null,
          null,
          null,
          "prove the TPM",
          null,
          new TpmChallenge(
              enc.encodeToString(c.credentialBlob()),
              enc.encodeToString(c.encryptedSecret()),
              enc.encodeToString(nonce),
              List.of(0, 1, 7)));
    }
    assertThat(b64.decode(tpm.activatedCredential())).isEqualTo(credential);
    TpmQuote q = tpm.quote();
    byte[] attest = b64.decode(q.attest());
    assertThat(verify(ak, attest, q.signature())).isTrue();
    TpmBuffer.Reader r = new TpmBuffer.Reader(attest);
    r.u32();
    r.u16();
    r.sized();
    assertThat(r.sized()).isEqualTo(nonce);
    QuoteVerifier.verify(ak, q, nonce, List.of(0, 1, 7));
    X509Certificate cert = pki.issueDevice("dev-tpm-2", csr.publicKey());
    return new EnrollmentResponse(
        EnrollmentResponse.Status.APPROVED,
        "dev-tpm-2",
        null,
        null,
        Pem.certificate(cert),
        Pem.certificate(pki.caCertificate()),
        null,
        null,
        null);
  }

  @Test
  void answersAttestationChallengesWithAQuoteOrWhyNot() throws Exception {
    ScheduledExecutorService work = Executors.newSingleThreadScheduledExecutor();
    try (TpmAccess access = new TpmAccess(java.util.Optional.of(swtpm.endpoint().toString()))) {
      AttestationFeature feature =
          new AttestationFeature(access, new TpmEventLog(java.util.Optional.empty()), work);
      byte[] nonce = new byte[32];
      new SecureRandom().nextBytes(nonce);
      var ok =
          feature.answer(
              new ControllerMessage.AttestationChallenge(
                  "c1", Base64.getEncoder().encodeToString(nonce), List.of(0, 7)));
      assertThat(ok.error()).isNull();
      assertThat(ok.id()).isEqualTo("c1");
      TpmPublic ak = access.device().akPublic();
      assertThat(
              verify(ak, Base64.getDecoder().decode(ok.quote().attest()), ok.quote().signature()))
          .isTrue();
      var bad = feature.answer(new ControllerMessage.AttestationChallenge("c2", "%%%", List.of(0)));
      assertThat(bad.quote()).isNull();
      assertThat(bad.error())
          .startsWith("malformed attestation challenge: the nonce is not base64");
      var pcr =
          feature.answer(
              new ControllerMessage.AttestationChallenge(
                  "c3", Base64.getEncoder().encodeToString(nonce), List.of(24)));
      assertThat(pcr.error()).contains("PCR indexes are 0 to 23");
    } finally {
      work.shutdownNow();
    }
    var none =
        new AttestationFeature(
                new TpmAccess(java.util.Optional.empty()),
                new TpmEventLog(java.util.Optional.empty()),
                Runnable::run)
            .answer(new ControllerMessage.AttestationChallenge("c4", "AAAA", List.of(0)));
    assertThat(none.error()).contains("this device has no TPM");
  }

  private static boolean verify(TpmPublic key, byte[] signed, String tpmtSignature)
      throws Exception {
    Signature v = Signature.getInstance("SHA256withECDSA");
    v.initVerify(key.toPublicKey());
    v.update(signed);
    return v.verify(EcdsaSignatures.toDer(Base64.getDecoder().decode(tpmtSignature)));
  }

  private static KeyPair ecKey() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }

  private static SSLContext serverContext(ControllerPki pki) throws Exception {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    ks.setKeyEntry(
        "server",
        pki.serverKey(),
        "x".toCharArray(),
        new X509Certificate[] {pki.serverCertificate(), pki.caCertificate()});
    KeyManagerFactory kmf = KeyManagerFactory.getInstance("PKIX");
    kmf.init(ks, "x".toCharArray());
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf.getKeyManagers(), null, new SecureRandom());
    return ctx;
  }
}
