package io.edgefleet.controller.trust;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.Controller;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.EnrollmentResponse;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.TpmEnrollment;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import io.edgefleet.protocol.tpm.EventLog;
import io.edgefleet.protocol.tpm.EventTypes;
import io.edgefleet.protocol.tpm.SoftEkCa;
import io.edgefleet.protocol.tpm.SoftTpm;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.interfaces.ECPublicKey;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Device trust end to end on a real controller over real HTTPS and WebSockets, with devices whose
 * TPM is a software TPM-equivalent: enrollment with a TPM (and what is refused), attestation on
 * connect, quarantine when the boot changes (nothing new delivered), accept, pinned references, key
 * rotation at renewal. Run on SQLite and PostgreSQL.
 */
abstract class DeviceTrustContract {
  @TempDir Path dir;
  Controller controller;
  HttpClient admin;
  String adminToken;
  SoftEkCa vendor;

  /** The JDBC URL of a fresh database, or null for SQLite in the data directory. */
  abstract String databaseUrl(Path dataDir);

  @BeforeEach
  void start() throws Exception {
    vendor = SoftEkCa.create("Test TPM Vendor Root");
    Path roots = dir.resolve("tpm-ca");
    vendor.writeRoot(roots, "vendor-root.pem");
    Path data = dir.resolve("controller");
    ControllerConfig config =
        ControllerConfig.defaults(data)
            .withListen("127.0.0.1", 0)
            .withHeartbeat(Duration.ofSeconds(5))
            .withTrust(TrustOptions.defaults().withTpmCa(roots));
    String db = databaseUrl(data);
    if (db != null) {
      config = config.withDatabase(db, null, null);
    }
    controller = Controller.start(config, Clock.systemUTC());
    adminToken = controller.adminToken().orElseThrow();
    admin =
        HttpClient.newBuilder()
            .sslContext(
                TlsContexts.pinned(new PinnedCaTrustManager(controller.pki().caFingerprint())))
            .build();
  }

  @AfterEach
  void stop() {
    if (controller != null) {
      controller.close();
    }
    if (admin != null) {
      admin.shutdownNow();
    }
  }

  TpmTestDevice device(SoftTpm tpm) {
    return new TpmTestDevice(controller.url(), controller.pki().caFingerprint(), tpm);
  }

  /** A TPM of the trusted vendor that booted firmware, a boot loader and its separators. */
  SoftTpm tpm() {
    EventLog boot =
        EventLog.builder()
            .text(0, EventTypes.EV_S_CRTM_VERSION, "firmware 1.0")
            .separator(0)
            .efiApplication(4, "\\EFI\\BOOT\\BOOTX64.EFI", sha256("shim"))
            .separator(4)
            .separator(7)
            .build();
    return SoftTpm.create(vendor, SoftTpm.newEk(), boot);
  }

  static byte[] sha256(String text) {
    try {
      return java.security.MessageDigest.getInstance("SHA-256")
          .digest(text.getBytes(StandardCharsets.UTF_8));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  String token(boolean requireTpm) throws Exception {
    JsonNode t =
        call(
            "POST",
            "/api/v1/onboarding-tokens",
            Map.of("name", "t", "requireTpm", requireTpm, "perMinute", 1000));
    assertThat(t.path("requireTpm").asBoolean()).isEqualTo(requireTpm);
    return t.path("token").asText();
  }

  JsonNode call(String method, String path, Object body) throws Exception {
    HttpResponse<String> r = raw(method, path, body);
    if (r.statusCode() >= 300) {
      throw new AssertionError(method + " " + path + ": " + r.statusCode() + " " + r.body());
    }
    return r.body().isBlank() ? Json.mapper().missingNode() : Json.mapper().readTree(r.body());
  }

  HttpResponse<String> raw(String method, String path, Object body) throws Exception {
    HttpRequest.BodyPublisher p =
        body == null
            ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(Json.write(body), StandardCharsets.UTF_8);
    return admin.send(
        HttpRequest.newBuilder(URI.create(controller.url() + path))
            .header("Authorization", "Bearer " + adminToken)
            .header("Content-Type", "application/json")
            .method(method, p)
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  JsonNode view(String id) throws Exception {
    return call("GET", "/api/v1/devices/" + id, null);
  }

  @Test
  void aDeviceEnrollsWithItsTpmAndIsTrustedAfterItsConnectQuote() throws Exception {
    String token = token(true);
    try (TpmTestDevice d = device(tpm())) {
      // A software key is refused by a token that requires a TPM.
      TpmTestDevice.Answer soft = d.enroll(token, null, "soft", null);
      assertThat(soft.status()).isEqualTo(403);
      assertThat(soft.code()).isEqualTo("TPM_REQUIRED");
      assertThat(soft.body()).contains("TPM");

      EnrollmentResponse done = d.enrollWithTpm(token, "edge-1", "Board X");
      assertThat(done.status()).isEqualTo(EnrollmentResponse.Status.APPROVED);
      JsonNode v = view(done.deviceId());
      assertThat(v.path("identity").asText()).isEqualTo("tpm");
      assertThat(v.path("trust").path("state").asText()).isEqualTo("TRUSTED");

      d.connect();
      assertThat(d.next(ControllerMessage.TrustState.class).state()).isEqualTo("TRUSTED");
      ControllerMessage.AttestationChallenge c =
          d.next(ControllerMessage.AttestationChallenge.class);
      assertThat(Base64.getDecoder().decode(c.nonce())).hasSize(32);
      assertThat(c.pcrs()).isEqualTo(TrustOptions.DEFAULT_PCRS);
      java.time.Instant enrolled =
          java.time.Instant.parse(v.path("trust").path("lastAttested").asText());
      AgentMessage.AttestationAnswer answer = d.answer(c);
      d.send(answer);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  java.time.Instant.parse(
                          view(d.deviceId).path("trust").path("lastAttested").asText())
                      .isAfter(enrolled));
      assertThat(view(d.deviceId).path("trust").path("state").asText()).isEqualTo("TRUSTED");

      // The same answer again: refused with an event, the device stays trusted.
      d.send(answer);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> events(d.deviceId).contains("ATTESTATION_REFUSED"));
      assertThat(view(d.deviceId).path("trust").path("state").asText()).isEqualTo("TRUSTED");
      // The desired state flows.
      assertThat(d.get(DeviceApi.DESIRED + "?known=0").status()).isEqualTo(200);

      // A software-key device is UNVERIFIED and listed so.
      JsonNode list = call("GET", "/api/v1/devices", null);
      assertThat(list.toString()).contains("\"identity\":\"tpm\"");
      JsonNode summary = call("GET", "/api/v1/fleet/summary", null);
      assertThat(summary.path("trusted").asInt()).isEqualTo(1);
      assertThat(summary.path("quarantined").asInt()).isZero();
    }
  }

  String events(String deviceId) throws Exception {
    return call("GET", "/api/v1/events?device=" + deviceId + "&limit=100", null).toString();
  }

  @Test
  void aChangedBootQuarantinesTheDeviceUntilAnOperatorAcceptsIt() throws Exception {
    String token = token(false);
    try (TpmTestDevice d = device(tpm())) {
      d.enrollWithTpm(token, "edge-2", "Board X");
      // The boot changes: a new boot loader is measured into PCR 4.
      d.tpm.measure(4, EventTypes.EV_EFI_BOOT_SERVICES_APPLICATION, "evil-loader".getBytes());
      d.connect();
      d.send(d.answer(d.next(ControllerMessage.AttestationChallenge.class)));
      ControllerMessage.TrustState q = nextState(d, "QUARANTINED");
      assertThat(q.reason()).contains("PCR 4").contains("differ");
      JsonNode v = view(d.deviceId);
      assertThat(v.path("trust").path("state").asText()).isEqualTo("QUARANTINED");
      assertThat(v.path("trust").path("reason").asText()).contains("PCR 4");
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> events(d.deviceId).contains("QUARANTINED"));
      // Nothing new is delivered while quarantined.
      assertThat(d.get(DeviceApi.DESIRED + "?known=0").status()).isEqualTo(204);
      assertThat(call("GET", "/api/v1/fleet/summary", null).path("quarantined").asInt())
          .isEqualTo(1);

      // The difference, PCR by PCR and event by event.
      JsonNode a = call("GET", "/api/v1/devices/" + d.deviceId + "/attestation", null);
      assertThat(a.path("state").asText()).isEqualTo("QUARANTINED");
      JsonNode pcr4 = a.path("pcrs").get(4);
      assertThat(pcr4.path("index").asInt()).isEqualTo(4);
      assertThat(pcr4.path("differs").asBoolean()).isTrue();
      assertThat(a.path("pcrs").get(0).path("differs").asBoolean()).isFalse();
      assertThat(a.path("events").toString()).contains("\"pcr\":4").contains("added");

      // An operator accepts the new boot: TRUSTED again, told, and delivery resumes.
      JsonNode accepted =
          call("POST", "/api/v1/devices/" + d.deviceId + "/attestation/accept", null);
      assertThat(accepted.path("state").asText()).isEqualTo("TRUSTED");
      nextState(d, "TRUSTED");
      d.next(ControllerMessage.Nudge.class);
      assertThat(d.get(DeviceApi.DESIRED + "?known=0").status()).isEqualTo(200);
      assertThat(call("GET", "/api/v1/audit?action=device.attestation", null).toString())
          .contains("device.attestation.accept");

      // The next quote, with the same boot, keeps it trusted.
      String before = view(d.deviceId).path("trust").path("lastAttested").asText();
      d.connect();
      assertThat(d.next(ControllerMessage.TrustState.class).state()).isEqualTo("TRUSTED");
      d.send(d.answer(d.next(ControllerMessage.AttestationChallenge.class)));
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () -> !view(d.deviceId).path("trust").path("lastAttested").asText().equals(before));
      assertThat(view(d.deviceId).path("trust").path("state").asText()).isEqualTo("TRUSTED");
    }
  }

  ControllerMessage.TrustState nextState(TpmTestDevice d, String state) {
    while (true) {
      ControllerMessage.TrustState s = d.next(ControllerMessage.TrustState.class);
      if (s.state().equals(state)) {
        return s;
      }
    }
  }

  @Test
  void aQuoteByAnotherTpmQuarantinesTheDevice() throws Exception {
    String token = token(false);
    try (TpmTestDevice d = device(tpm())) {
      d.enrollWithTpm(token, "edge-3", null);
      d.connect();
      ControllerMessage.AttestationChallenge c =
          d.next(ControllerMessage.AttestationChallenge.class);
      d.send(TpmTestDevice.answer(c, tpm()));
      ControllerMessage.TrustState q = nextState(d, "QUARANTINED");
      assertThat(q.reason()).contains("BAD_SIGNATURE");
    }
  }

  @Test
  void evidenceThatDoesNotProveTheTpmIsRefused() throws Exception {
    String token = token(false);
    // An EK from a vendor whose root the controller does not have.
    try (TpmTestDevice stranger = device(SoftTpm.create(SoftEkCa.create("Unknown Vendor")))) {
      TpmTestDevice.Answer a = stranger.enroll(token, stranger.firstTpmRequest(), "s", null);
      assertThat(a.status()).isEqualTo(403);
      assertThat(a.code()).isEqualTo("TPM_UNTRUSTED");
      assertThat(a.body()).contains("EK_UNTRUSTED");
    }
    // A wrong activated credential: the AK is not bound to the EK.
    try (TpmTestDevice d = device(tpm())) {
      TpmEnrollment first = d.firstTpmRequest();
      EnrollmentResponse activate = d.enroll(token, first, "w", null).enrollment();
      assertThat(activate.status()).isEqualTo(EnrollmentResponse.Status.ACTIVATE);
      assertThatThrownBy(
              () ->
                  d.finish(
                      token,
                      first,
                      activate,
                      "w",
                      null,
                      t ->
                          new TpmEnrollment(
                              t.ekCertificatePem(),
                              t.ekChainPem(),
                              t.ekPublic(),
                              t.akPublic(),
                              t.deviceKey(),
                              Base64.getEncoder().encodeToString(new byte[32]),
                              t.quote())))
          .isInstanceOfSatisfying(
              TpmTestDevice.TrustFailure.class,
              f -> {
                assertThat(f.answer.code()).isEqualTo("TPM_UNTRUSTED");
                assertThat(f.answer.body()).contains("not bound to the endorsement key");
              });
      // The challenge was used up: the device starts again and gets a new one.
      assertThat(d.enroll(token, first, "w", null).enrollment().status())
          .isEqualTo(EnrollmentResponse.Status.ACTIVATE);
    }
    // A device key the TPM did not certify.
    try (TpmTestDevice d = device(tpm())) {
      TpmEnrollment first = d.firstTpmRequest();
      KeyPair other = TpmTestDevice.ecKey();
      TpmEnrollment wrongKey =
          new TpmEnrollment(
              first.ekCertificatePem(),
              first.ekChainPem(),
              first.ekPublic(),
              first.akPublic(),
              d.tpm.certify((ECPublicKey) other.getPublic()),
              null,
              null);
      TpmTestDevice.Answer a = d.enroll(token, wrongKey, "k", null);
      assertThat(a.code()).isEqualTo("TPM_UNTRUSTED");
      assertThat(a.body()).contains("KEY_NOT_IN_TPM");
    }
    // Nothing of the refused requests was stored.
    assertThat(call("GET", "/api/v1/devices", null).toString()).doesNotContain("\"tpm\"");
  }

  @Test
  void aTpmDeviceRotatesItsKeyOnlyWithProofFromItsTpm() throws Exception {
    String token = token(false);
    try (TpmTestDevice d = device(tpm())) {
      d.enrollWithTpm(token, "edge-5", null);
      KeyPair next = TpmTestDevice.ecKey();
      TpmTestDevice.Answer without = d.renew(next, null);
      assertThat(without.code()).isEqualTo("TPM_REQUIRED");
      TpmTestDevice.Answer foreign = d.renew(next, tpm().certify((ECPublicKey) next.getPublic()));
      assertThat(foreign.code()).isEqualTo("TPM_UNTRUSTED");
      TpmTestDevice.Answer ok = d.renew(next, d.tpm.certify((ECPublicKey) next.getPublic()));
      assertThat(ok.status()).isEqualTo(200);
      assertThat(ok.body()).contains("BEGIN CERTIFICATE");
    }
  }

  @Test
  void aPinnedReferenceForATagJudgesEveryDeviceWithIt() throws Exception {
    String token = token(false);
    try (TpmTestDevice golden = device(tpm());
        TpmTestDevice other = device(tpm())) {
      golden.enrollWithTpm(token, "golden", null);
      // The other device booted something else already at enrollment.
      other.tpm.measure(7, EventTypes.EV_EFI_VARIABLE_AUTHORITY, "other-db-key".getBytes());
      other.enrollWithTpm(token, "other", null);
      for (TpmTestDevice d : new TpmTestDevice[] {golden, other}) {
        call(
            "PATCH",
            "/api/v1/devices/" + d.deviceId + "/tags",
            Map.of("set", Map.of("fleet", "a")));
      }
      JsonNode pin =
          raw(
                  "POST",
                  "/api/v1/devices/" + golden.deviceId + "/attestation/pin",
                  Map.of("tag", "fleet"))
              .body()
              .transform(TpmTestDeviceJson::read);
      assertThat(pin.path("scope").asText()).isEqualTo("tag");
      assertThat(call("GET", "/api/v1/attestation/references", null).toString())
          .contains("\"key\":\"fleet\"");
      other.connect();
      other.send(other.answer(other.next(ControllerMessage.AttestationChallenge.class)));
      assertThat(nextState(other, "QUARANTINED").reason())
          .contains("PCR 7")
          .contains("pinned for tag fleet=a");
    }
  }
}
