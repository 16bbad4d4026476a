package io.edgefleet.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.DelayProxy;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Zero-touch enrollment end to end: real controller, real agents, real TLS on loopback. */
class EnrollmentIT {
  @TempDir Path dir;
  TestController controller;
  TestAgents agents;
  AdminClient admin;

  @BeforeEach
  void start() {
    controller = TestController.start(dir.resolve("controller"));
    agents = new TestAgents(dir);
    admin = controller.admin();
  }

  @AfterEach
  void stop() {
    agents.close();
    controller.close();
  }

  @Test
  void tokenEnrollmentTagsTheDeviceAndBringsItOnline() throws Exception {
    String token = controller.token(Map.of("site", "store-17", "role", "pos"), null, false);
    Path bootstrap = agents.bootstrap("t", controller.url(), controller.caFingerprint(), token);
    Agent agent = agents.start(agents.options("a1", bootstrap).withSerial("SN-0001"));

    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> agent.status().state() == Agent.State.CONNECTED);
    String id = agent.status().deviceId().orElseThrow();
    JsonNode device = awaitStatus(id, "ONLINE");
    assertThat(device.path("tags").path("site").asText()).isEqualTo("store-17");
    assertThat(device.path("tags").path("role").asText()).isEqualTo("pos");
    assertThat(device.path("serial").asText()).isEqualTo("SN-0001");
    assertThat(device.path("agentVersion").asText()).isNotEmpty();
    assertThat(device.path("facts").path("cpus").asInt()).isPositive();
    assertThat(device.path("facts").path("arch").asText()).isNotEmpty();
    assertThat(device.path("lastSeen").asText()).isNotEmpty();

    Path state = dir.resolve("agents/a1");
    assertThat(
            PosixFilePermissions.toString(
                Files.getPosixFilePermissions(state.resolve("device.key"))))
        .isEqualTo("rw-------");
    assertThat(Files.readString(state.resolve("identity.json"))).contains(id);
  }

  @Test
  void agentsOnOneHostGetDistinctNamesAndOneAsksForItsOwn() {
    String token = controller.token(Map.of(), null, false);
    Path bootstrap = agents.bootstrap("t", controller.url(), controller.caFingerprint(), token);
    Agent first = agents.start(agents.options("a1", bootstrap));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> first.status().state() == Agent.State.CONNECTED);
    Agent second = agents.start(agents.options("a2", bootstrap));
    Agent named = agents.start(agents.options("a3", bootstrap).withName("till-7"));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                second.status().state() == Agent.State.CONNECTED
                    && named.status().state() == Agent.State.CONNECTED);

    String host = name(first);
    assertThat(name(second)).isEqualTo(host + "-2");
    assertThat(name(named)).isEqualTo("till-7");
  }

  private String name(Agent agent) {
    return admin
        .get("/api/v1/devices/" + agent.status().deviceId().orElseThrow())
        .body()
        .path("name")
        .asText();
  }

  @Test
  void restartedAgentReusesItsIdentityAndDoesNotEnrollAgain() {
    String token = controller.token(Map.of("site", "s"), 5, false);
    Path bootstrap = agents.bootstrap("t", controller.url(), controller.caFingerprint(), token);
    Agent first = agents.start(agents.options("a1", bootstrap));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> first.status().state() == Agent.State.CONNECTED);
    String id = first.status().deviceId().orElseThrow();
    first.close();
    awaitStatus(id, "OFFLINE");

    Agent second = agents.start(agents.options("a1", bootstrap));
    assertThat(second.status().deviceId()).contains(id);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> second.status().state() == Agent.State.CONNECTED);
    awaitStatus(id, "ONLINE");
    assertThat(items("/api/v1/devices")).hasSize(1);
    assertThat(items("/api/v1/onboarding-tokens").getFirst().path("uses").asInt()).isEqualTo(1);
  }

  /**
   * The controller enrolled the device but its answer never arrived: the agent kept its key (it is
   * written before the request) and has no certificate. Asking again with the same key gets the
   * same device, even with a token that enrolls only one.
   */
  @Test
  void anEnrollmentWhoseAnswerWasLostGetsTheSameDeviceWhenAskedAgain() throws Exception {
    String token = controller.token(Map.of("site", "s"), 1, false);
    Path bootstrap = agents.bootstrap("t", controller.url(), controller.caFingerprint(), token);
    Agent first = agents.start(agents.options("a1", bootstrap));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> first.status().state() == Agent.State.CONNECTED);
    String id = first.status().deviceId().orElseThrow();
    first.close();
    Path state = dir.resolve("agents/a1");
    for (String answer : List.of("identity.json", "device.crt", "ca.crt")) {
      Files.delete(state.resolve(answer));
    }
    assertThat(state.resolve("device.key")).exists();

    Agent second = agents.start(agents.options("a1", bootstrap));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> second.status().state() == Agent.State.CONNECTED);
    assertThat(second.status().deviceId()).contains(id);
    assertThat(items("/api/v1/devices")).hasSize(1);
    assertThat(items("/api/v1/onboarding-tokens").getFirst().path("uses").asInt()).isEqualTo(1);
  }

  /**
   * A bootstrap file naming several URLs of the controller (its replicas): the agent uses one that
   * answers, and when the one it uses goes away it moves to another at once instead of backing off
   * on it.
   */
  @Test
  void anAgentWithSeveralControllerUrlsUsesOneThatAnswersAndMovesOnWhenItGoes() throws Exception {
    int dead;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      dead = s.getLocalPort();
    }
    try (DelayProxy a = DelayProxy.forUrl(controller.url()).start();
        DelayProxy b = DelayProxy.forUrl(controller.url()).start()) {
      Path bootstrap = dir.resolve("bootstrap-replicas.json");
      SecureFiles.writeSecret(
          bootstrap,
          Json.pretty(
              Bootstrap.of(
                      "https://127.0.0.1:" + dead,
                      controller.caFingerprint(),
                      controller.token(Map.of(), null, false))
                  .withMoreUrls(List.of(a.url(), b.url()))));
      // A long backoff: only moving to another URL can reconnect the agent within the waits.
      Agent agent =
          agents.start(agents.options("r1", bootstrap).withMaxBackoff(Duration.ofMinutes(5)));
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> agent.status().state() == Agent.State.CONNECTED);
      DelayProxy inUse = a.open() > 0 ? a : b;
      DelayProxy other = inUse == a ? b : a;
      assertThat(other.open()).isZero();

      inUse.cut();
      await()
          .atMost(Duration.ofSeconds(15))
          .until(() -> agent.status().state() == Agent.State.CONNECTED && other.open() > 0);
      assertThat(items("/api/v1/devices")).hasSize(1);
    }
  }

  @Test
  void pendingDeviceShowsItsCodeAndConnectsOnceApproved() {
    String token = controller.token(Map.of("site", "ship-3"), null, true);
    Path bootstrap = agents.bootstrap("t", controller.url(), controller.caFingerprint(), token);
    Agent agent = agents.start(agents.options("a1", bootstrap));

    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> agent.status().state() == Agent.State.PENDING_APPROVAL);
    String code = agent.status().enrollmentCode().orElseThrow();
    JsonNode pending = items("/api/v1/devices").getFirst();
    assertThat(pending.path("status").asText()).isEqualTo("PENDING");
    assertThat(pending.path("enrollmentCode").asText()).isEqualTo(code);
    assertThat(Files.exists(dir.resolve("agents/a1/identity.json"))).isFalse();

    assertThat(admin.post("/api/v1/devices/" + code + "/approve", Map.of()).status())
        .isEqualTo(200);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> agent.status().state() == Agent.State.CONNECTED);
    JsonNode device = awaitStatus(agent.status().deviceId().orElseThrow(), "ONLINE");
    assertThat(device.path("tags").path("site").asText()).isEqualTo("ship-3");
  }

  @Test
  void rejectedDeviceStopsAsking() {
    String token = controller.token(Map.of(), null, true);
    Path bootstrap = agents.bootstrap("t", controller.url(), controller.caFingerprint(), token);
    Agent agent = agents.start(agents.options("a1", bootstrap));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> agent.status().state() == Agent.State.PENDING_APPROVAL);

    String id = agent.status().deviceId().orElseThrow();
    assertThat(admin.post("/api/v1/devices/" + id + "/reject", Map.of()).status()).isEqualTo(200);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> agent.status().state() == Agent.State.REJECTED);
    assertThat(agent.status().lastError().orElseThrow()).contains("ENROLLMENT_REJECTED");
    assertThat(admin.get("/api/v1/devices/" + id).body().path("status").asText())
        .isEqualTo("REJECTED");
  }

  @Test
  void preRegisteredSerialEnrollsWithoutTokenAndGetsItsTags() {
    assertThat(
            admin
                .post(
                    "/api/v1/preregistrations",
                    Map.of(
                        "serial", "SN-PRE-9", "tags", Map.of("site", "rig-4", "role", "gateway")))
                .status())
        .isEqualTo(201);
    Path bootstrap =
        agents.bootstrap("serial-only", controller.url(), controller.caFingerprint(), null);
    Agent agent = agents.start(agents.options("a1", bootstrap).withSerial("SN-PRE-9"));

    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> agent.status().state() == Agent.State.CONNECTED);
    String id = agent.status().deviceId().orElseThrow();
    JsonNode device = awaitStatus(id, "ONLINE");
    assertThat(device.path("tags").path("site").asText()).isEqualTo("rig-4");
    assertThat(device.path("tags").path("role").asText()).isEqualTo("gateway");
    assertThat(items("/api/v1/preregistrations").getFirst().path("deviceId").asText())
        .isEqualTo(id);
  }

  @Test
  void unknownSerialWithoutTokenIsRefusedAndNothingIsStored() {
    Path bootstrap =
        agents.bootstrap("serial-only", controller.url(), controller.caFingerprint(), null);
    Agent agent = agents.start(agents.options("a1", bootstrap).withSerial("SN-NOBODY"));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> agent.status().state() == Agent.State.ENROLLMENT_REFUSED);
    assertThat(agent.status().lastError().orElseThrow()).contains("ENROLLMENT_CREDENTIAL_MISSING");
    assertThat(items("/api/v1/devices")).isEmpty();
  }

  @Test
  void deviceThatDisconnectsIsShownOfflineWithTheReason() {
    String token = controller.token(Map.of(), null, false);
    Path bootstrap = agents.bootstrap("t", controller.url(), controller.caFingerprint(), token);
    Agent agent = agents.start(agents.options("a1", bootstrap));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> agent.status().state() == Agent.State.CONNECTED);
    String id = agent.status().deviceId().orElseThrow();
    awaitStatus(id, "ONLINE");

    agent.close();
    JsonNode device = awaitStatus(id, "OFFLINE");
    assertThat(device.path("statusReason").asText()).contains("connection closed");
  }

  private JsonNode awaitStatus(String id, String status) {
    return await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> admin.get("/api/v1/devices/" + id).body(),
            d -> d.path("status").asText().equals(status));
  }

  private List<JsonNode> items(String path) {
    AdminClient.Answer a = admin.get(path);
    assertThat(a.status()).isEqualTo(200);
    return StreamSupport.stream(a.body().path("items").spliterator(), false).toList();
  }
}
