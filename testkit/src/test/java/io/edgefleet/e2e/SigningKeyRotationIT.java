package io.edgefleet.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SignedDesiredState;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Signatures;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.DeviceHttp;
import io.edgefleet.testkit.GitRepo;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Rotating the desired-state signing key with real agents over mutual TLS: the next key reaches
 * devices in documents signed with the key they trust, the new key signs once they trust it, a
 * device that was away the whole time is still served, and a key nobody announced is refused.
 */
class SigningKeyRotationIT {
  static final String KEYS = "/api/v1/signing-keys";

  @TempDir Path dir;
  TestController controller;
  TestAgents agents;
  AdminClient admin;

  @BeforeEach
  void start() {
    controller = TestController.start(dir.resolve("controller"));
    admin = controller.admin();
    agents = new TestAgents(dir);
  }

  @AfterEach
  void stop() {
    agents.close();
    controller.close();
  }

  @Test
  void theAgentLearnsTheNextKeyAndTakesWhatTheNewKeySignsAfterTheSwitch() throws Exception {
    AgentOptions options = options("a1");
    Agent agent = connected(options);
    String id = agent.status().deviceId().orElseThrow();
    String k0 = key("CURRENT").path("id").asText();
    assertThat(trusted(options)).containsExactly(k0);

    AdminClient.Answer started = admin.post(KEYS + "/rotate", Map.of());
    assertThat(started.status()).as(started.body().toString()).isEqualTo(201);
    assertThat(started.body().path("state").asText()).isEqualTo("NEXT");
    String k1 = started.body().path("id").asText();

    // The announcement comes in a document signed with k0; the agent reports what it trusts.
    await().atMost(Duration.ofSeconds(20)).until(() -> trusted(options).equals(List.of(k0, k1)));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> key(k1).path("devicesTrusting").asInt() == 1);
    assertThat(storedKeyId(id)).isEqualTo(k0);

    AdminClient.Answer finished = admin.post(KEYS + "/rotate", Map.of("finish", true));
    assertThat(finished.status()).as(finished.body().toString()).isEqualTo(200);
    assertThat(finished.body().path("id").asText()).isEqualTo(k1);
    assertThat(finished.body().path("state").asText()).isEqualTo("CURRENT");
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> k1.equals(storedKeyId(id)) && trusted(options).equals(List.of(k1)));

    // A change made after the switch is signed with k1 and taken.
    long before = agent.generation();
    try (GitRepo repo = GitRepo.init(dir.resolve("repo"))) {
      repo.write("apps/web/app.yaml", GitRepo.configMap("settings", "k", "v")).commit("add web");
      AdminClient.Answer added =
          admin.post(
              "/api/v1/repos",
              Map.of("name", "fleet", "url", repo.url(), "target", "site=s1", "interval", "5s"));
      assertThat(added.status()).as(added.body().toString()).isEqualTo(201);
    }
    await().atMost(Duration.ofSeconds(30)).until(() -> agent.generation() > before);
    assertThat(storedKeyId(id)).isEqualTo(k1);
    assertThat(agent.status().lastError()).isEmpty();

    // Nobody depends on k0 any more: it is retired and its private key deleted.
    AdminClient.Answer retired = admin.post(KEYS + "/" + k0 + "/retire", Map.of());
    assertThat(retired.status()).as(retired.body().toString()).isEqualTo(200);
    assertThat(retired.body().path("state").asText()).isEqualTo("RETIRED");
    assertThat(Files.exists(dir.resolve("controller/pki/signing.key"))).isFalse();
    assertThat(auditActions())
        .contains("signing-key.create", "signing-key.activate", "signing-key.retire");
  }

  @Test
  void anAgentAwayForTheWholeRotationIsStillServedAndMovesToTheNewKeyWhenBack() throws Exception {
    AgentOptions options = options("a1");
    Agent agent = connected(options);
    String id = agent.status().deviceId().orElseThrow();
    String k0 = key("CURRENT").path("id").asText();
    agent.close();

    String k1 = admin.post(KEYS + "/rotate", Map.of()).body().path("id").asText();
    assertThat(admin.post(KEYS + "/rotate", Map.of("finish", true)).status()).isEqualTo(200);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> key(k0).path("devicesDependent").asInt() == 1);
    assertThat(key(k0).path("state").asText()).isEqualTo("PREVIOUS");

    AdminClient.Answer refused = admin.post(KEYS + "/" + k0 + "/retire", Map.of());
    assertThat(refused.status()).isEqualTo(409);
    assertThat(refused.code()).isEqualTo("SIGNING_KEY_STATE_CONFLICT");
    assertThat(refused.body().path("message").asText()).contains(id).contains("--force");

    // What the device is served meanwhile verifies with the one key it has: an agent that knows
    // nothing of rotation (and ignores the announcement) keeps working.
    try (DeviceHttp device = new DeviceHttp(controller.url(), options.stateDir())) {
      DeviceHttp.Answer served = device.get(DeviceApi.DESIRED + "?known=0");
      assertThat(served.status()).isEqualTo(200);
      byte[] payload = Base64.getDecoder().decode(served.body().path("payload").asText());
      assertThat(
              Signatures.verify(
                  Signatures.publicKey(key(k0).path("publicKeyPem").asText()),
                  payload,
                  served.body().path("signature").asText()))
          .isTrue();
      assertThat(Json.mapper().readTree(payload).path("signingKeys").findValuesAsText("id"))
          .containsExactly(k1);
    }

    // Back: k0 still signs its next document, which announces k1; then k1 takes over.
    Agent back = agents.start(options);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> k1.equals(storedKeyId(id)) && trusted(options).equals(List.of(k1)));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> back.generation() > 1 && back.status().lastError().isEmpty());
    assertThat(events(id)).noneMatch(k -> k.startsWith("desired-state-"));
    assertThat(admin.post(KEYS + "/" + k0 + "/retire", Map.of()).status()).isEqualTo(200);
  }

  @Test
  void aDocumentSignedWithAKeyNobodyAnnouncedIsRefused() throws Exception {
    AgentOptions options = options("a1");
    Agent agent = connected(options);
    String id = agent.status().deviceId().orElseThrow();
    String k0 = enrolledKey(options);
    long held = agent.generation();

    // Someone with a key of their own, announcing it in the document it signs.
    KeyPair rogue = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    String rogueId = keyId(rogue);
    String rogueAnnounced =
        Json.write(
            Map.of(
                "deviceId", id,
                "generation", held + 1,
                "issuedAt", Instant.now().toString(),
                "apps", List.of(),
                "signingKeys",
                    List.of(
                        Map.of(
                            "id",
                            rogueId,
                            "publicKeyPem",
                            Signatures.publicKeyPem(rogue.getPublic())))));
    push(id, held + 1, rogueAnnounced, rogue, rogueId);
    awaitEvent(id, "desired-state-unknown-key");

    // The same, naming the key the device trusts: the signature does not verify with it.
    push(id, held + 1, rogueAnnounced, rogue, k0);
    awaitEvent(id, "desired-state-bad-signature");

    assertThat(agent.generation()).isEqualTo(held);
    assertThat(trusted(options)).containsExactly(k0);
  }

  // ------------------------------------------------------------------ helpers

  private AgentOptions options(String name) {
    String token = controller.token(Map.of("site", "s1"), null, false);
    return agents.options(
        name, agents.bootstrap(name, controller.url(), controller.caFingerprint(), token));
  }

  private Agent connected(AgentOptions options) {
    Agent agent = agents.start(options);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> agent.status().state() == Agent.State.CONNECTED && agent.generation() >= 1);
    return agent;
  }

  /** The key ids the agent trusts, from its state directory. */
  private static List<String> trusted(AgentOptions options) throws Exception {
    Path file = options.stateDir().resolve("signing-keys.json");
    List<String> ids = new ArrayList<>();
    if (Files.exists(file)) {
      Json.mapper()
          .readTree(Files.readString(file))
          .path("keys")
          .forEach(k -> ids.add(k.path("id").asText()));
    }
    return ids;
  }

  /** The id of the key the agent was handed at enrollment. */
  private static String enrolledKey(AgentOptions options) throws Exception {
    List<String> trusted = trusted(options);
    if (!trusted.isEmpty()) {
      return trusted.getFirst();
    }
    // An agent that knows one key keeps it as PEM.
    String pem = Files.readString(options.stateDir().resolve("signing.pub"));
    return keyIdOf(Signatures.publicKey(pem).getEncoded());
  }

  /** The key with this id, or the first in this state. */
  private JsonNode key(String idOrState) {
    AdminClient.Answer a = admin.get(KEYS);
    assertThat(a.status()).as(a.body().toString()).isEqualTo(200);
    return StreamSupport.stream(a.body().path("items").spliterator(), false)
        .filter(
            k ->
                k.path("id").asText().equals(idOrState)
                    || k.path("state").asText().equals(idOrState))
        .findFirst()
        .orElseThrow();
  }

  private String storedKeyId(String deviceId) {
    return controller
        .controller()
        .database()
        .jdbi()
        .withHandle(
            h ->
                h.createQuery("SELECT key_id FROM device_desired WHERE device_id = :d")
                    .bind("d", deviceId)
                    .mapTo(String.class)
                    .one());
  }

  private void push(String deviceId, long generation, String json, KeyPair key, String keyId) {
    byte[] bytes = json.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    SignedDesiredState doc =
        Json.mapper()
            .convertValue(
                Map.of(
                    "payload", Base64.getEncoder().encodeToString(bytes),
                    "signature", Signatures.sign(key.getPrivate(), bytes),
                    "keyId", keyId),
                SignedDesiredState.class);
    assertThat(
            controller
                .controller()
                .connections()
                .send(deviceId, new ControllerMessage.Nudge(generation, doc, Map.of())))
        .isTrue();
  }

  private List<String> events(String deviceId) {
    List<String> kinds = new ArrayList<>();
    admin
        .get("/api/v1/devices/" + deviceId + "/events")
        .body()
        .path("items")
        .forEach(e -> kinds.add(e.path("kind").asText()));
    return kinds;
  }

  private void awaitEvent(String deviceId, String kind) {
    await().atMost(Duration.ofSeconds(20)).until(() -> events(deviceId).contains(kind));
  }

  private List<String> auditActions() {
    List<String> actions = new ArrayList<>();
    admin
        .get("/api/v1/audit")
        .body()
        .path("items")
        .forEach(e -> actions.add(e.path("action").asText()));
    return actions;
  }

  /** A key's id as the controller and agents name it: 16 hex digits of its SHA-256. */
  private static String keyId(KeyPair key) {
    return keyIdOf(key.getPublic().getEncoded());
  }

  private static String keyIdOf(byte[] der) {
    return Fingerprints.sha256(der).substring(7, 23);
  }
}
