package io.edgefleet.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.telemetry.NodeSampler;
import io.edgefleet.agent.telemetry.TelemetryFeature;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SignedDesiredState;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.DeviceHttp;
import io.edgefleet.testkit.GitRepo;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a device trusts and keeps: the generations it may claim, its state directory on disk, and
 * its replay floor. Real controller, real agents, real mutual TLS on loopback.
 */
class DesiredStateTrustIT {
  @TempDir Path dir;
  TestController controller;
  TestAgents agents;

  @BeforeEach
  void start() {
    controller = TestController.start(dir.resolve("controller"));
    agents = new TestAgents(dir);
  }

  @AfterEach
  void stop() {
    agents.close();
    controller.close();
  }

  @Test
  void aClaimedGenerationBeyondWhatTheControllerIssuesIsRefusedAndNothingIsSigned()
      throws Exception {
    Agent agent = enrolled("a1");
    await().atMost(Duration.ofSeconds(20)).until(() -> agent.generation() == 1);
    agent.close();

    try (DeviceHttp device = new DeviceHttp(controller.url(), dir.resolve("agents/a1"))) {
      DeviceHttp.Answer refused = device.get(DeviceApi.DESIRED + "?known=" + Long.MAX_VALUE);
      assertThat(refused.status()).isEqualTo(409);
      assertThat(refused.code()).isEqualTo("GENERATION_OUT_OF_RANGE");
      assertThat(refused.body().path("message").asText())
          .contains(Long.toString(Long.MAX_VALUE))
          .contains(Long.toString(DesiredState.MAX_GENERATION));

      DeviceHttp.Answer current = device.get(DeviceApi.DESIRED + "?known=0");
      assertThat(current.status()).isEqualTo(200);
      assertThat(generationOf(current)).as("nothing was signed for the claim").isEqualTo(1);
    }
  }

  @Test
  void theAgentsStateIsReadableByItsOwnerOnlyAndOlderLooseModesAreTightened() throws Exception {
    try (GitRepo repo = GitRepo.init(dir.resolve("repo"))) {
      repo.write("apps/web/app.yaml", GitRepo.configMap("settings", "password", "s3cret"))
          .commit("add web");
      addRepo(repo, "site=s1");
    }
    AgentOptions options = agents.options("a1", bootstrap("a1"));
    Agent agent = startWithTelemetry(options);
    Path state = options.stateDir();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> agent.generation() >= 1 && !files(state.resolve("desired/bundles")).isEmpty());

    assertThat(loose(state)).as("group- or world-accessible paths").isEmpty();
    assertThat(mode(state)).isEqualTo("rwx------");

    // State written by an older agent: the usual 0755 directories and 0644 files.
    agent.close();
    try (Stream<Path> all = Files.walk(state)) {
      for (Path p : all.toList()) {
        Files.setPosixFilePermissions(
            p, PosixFilePermissions.fromString(Files.isDirectory(p) ? "rwxr-xr-x" : "rw-r--r--"));
      }
    }
    Agent restarted = startWithTelemetry(options);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> restarted.status().state() == Agent.State.CONNECTED);
    assertThat(loose(state)).as("tightened at start-up").isEmpty();
  }

  @Test
  void anOlderDocumentIsStillARefusedReplayAfterTheStoredDocumentIsLost() throws Exception {
    AgentOptions options = agents.options("a1", bootstrap("a1"));
    Agent agent = agents.start(options);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> agent.status().state() == Agent.State.CONNECTED && agent.generation() == 1);
    String id = agent.status().deviceId().orElseThrow();
    String[] first = storedDocument(id);

    // A newer generation, genuinely signed: the controller re-issues above a claimed generation.
    try (DeviceHttp device = new DeviceHttp(controller.url(), options.stateDir())) {
      assertThat(generationOf(device.get(DeviceApi.DESIRED + "?known=5"))).isEqualTo(6);
    }
    controller.controller().connections().nudge(id, 6);
    await().atMost(Duration.ofSeconds(20)).until(() -> agent.generation() == 6);
    agent.close();

    // The stored document is damaged while the agent is down ...
    Path stored = options.stateDir().resolve("desired/current.json");
    Files.writeString(
        stored, Files.readString(stored).replace("\"payload\":\"", "\"payload\":\"x"));
    // ... and the controller (its database restored, or someone with write access to it) holds
    // the genuine generation 1 again.
    forge(id, 1, first[0], first[1]);

    Agent restarted = agents.start(options);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> restarted.status().state() == Agent.State.CONNECTED);
    push(id, 100, first[0], first[1]);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                controller
                    .admin()
                    .get("/api/v1/devices/" + id + "/events")
                    .body()
                    .path("items")
                    .findValues("kind")
                    .stream()
                    .anyMatch(k -> k.asText().equals("desired-state-replayed")));
    assertThat(restarted.generation())
        .as("generation 1 is older than what the device accepted before")
        .isNotEqualTo(1);
    // Not wedged: the controller re-issues what it holds above the floor, and that is taken.
    await().atMost(Duration.ofSeconds(20)).until(() -> restarted.generation() == 6);
  }

  // ------------------------------------------------------------------ helpers

  private String[] storedDocument(String deviceId) {
    return controller
        .controller()
        .database()
        .jdbi()
        .withHandle(
            h ->
                h.createQuery("SELECT payload, signature FROM device_desired WHERE device_id = :d")
                    .bind("d", deviceId)
                    .map((rs, ctx) -> new String[] {rs.getString(1), rs.getString(2)})
                    .one());
  }

  /** Replaces the controller's stored document for the device, bypassing the engine. */
  private void forge(String deviceId, long generation, String payload, String signature) {
    controller
        .controller()
        .database()
        .jdbi()
        .useHandle(
            h ->
                h.createUpdate(
                        "UPDATE device_desired SET generation = :g, payload = :p, signature = :s"
                            + " WHERE device_id = :d")
                    .bind("g", generation)
                    .bind("p", payload)
                    .bind("s", signature)
                    .bind("d", deviceId)
                    .execute());
  }

  /** Sends a nudge carrying this document straight to the connected device. */
  private void push(String deviceId, long generation, String payload, String signature) {
    assertThat(
            controller
                .controller()
                .connections()
                .send(
                    deviceId,
                    new ControllerMessage.Nudge(
                        generation, new SignedDesiredState(payload, signature), Map.of())))
        .isTrue();
  }

  /** Paths under {@code root} (itself included) that anyone but their owner may use. */
  /** Paths others may access; files the running agent removes meanwhile (outbox segments) skip. */
  private static List<String> loose(Path root) throws Exception {
    List<String> out = new ArrayList<>();
    Files.walkFileTree(
        root,
        new java.nio.file.SimpleFileVisitor<>() {
          @Override
          public java.nio.file.FileVisitResult preVisitDirectory(
              Path p, java.nio.file.attribute.BasicFileAttributes a) throws java.io.IOException {
            check(p);
            return java.nio.file.FileVisitResult.CONTINUE;
          }

          @Override
          public java.nio.file.FileVisitResult visitFile(
              Path p, java.nio.file.attribute.BasicFileAttributes a) throws java.io.IOException {
            check(p);
            return java.nio.file.FileVisitResult.CONTINUE;
          }

          @Override
          public java.nio.file.FileVisitResult visitFileFailed(Path p, java.io.IOException e)
              throws java.io.IOException {
            if (e instanceof java.nio.file.NoSuchFileException) {
              return java.nio.file.FileVisitResult.CONTINUE;
            }
            throw e;
          }

          private void check(Path p) throws java.io.IOException {
            Set<PosixFilePermission> perms;
            try {
              perms = Files.getPosixFilePermissions(p);
            } catch (java.nio.file.NoSuchFileException gone) {
              return;
            }
            if (perms.stream().anyMatch(x -> !x.name().startsWith("OWNER_"))) {
              out.add(root.relativize(p) + " " + PosixFilePermissions.toString(perms));
            }
          }
        });
    return out;
  }

  private static String mode(Path p) throws Exception {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
  }

  private static List<Path> files(Path dir) throws Exception {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> all = Files.list(dir)) {
      return all.toList();
    }
  }

  private void addRepo(GitRepo repo, String target) {
    AdminClient.Answer a =
        controller
            .admin()
            .post(
                "/api/v1/repos",
                Map.of("name", "fleet", "url", repo.url(), "target", target, "interval", "5s"));
    assertThat(a.status()).as(a.body().toString()).isEqualTo(201);
  }

  private Path bootstrap(String name) {
    String token = controller.token(Map.of("site", "s1"), null, false);
    return agents.bootstrap(name, controller.url(), controller.caFingerprint(), token);
  }

  /** An agent as {@code edgefleet agent} runs it: with its telemetry outbox in its state. */
  private Agent startWithTelemetry(AgentOptions options) {
    return agents
        .startWithTelemetry(
            options, Clock.systemUTC(), NodeSampler.system(), TelemetryFeature.Options.defaults())
        .agent();
  }

  private Agent enrolled(String name) {
    String token = controller.token(Map.of("site", "s1"), null, false);
    Path bootstrap = agents.bootstrap(name, controller.url(), controller.caFingerprint(), token);
    Agent agent = agents.start(agents.options(name, bootstrap));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> agent.status().state() == Agent.State.CONNECTED);
    return agent;
  }

  private static long generationOf(DeviceHttp.Answer answer) throws Exception {
    byte[] payload = Base64.getDecoder().decode(answer.body().path("payload").asText());
    return Json.mapper().readValue(payload, DesiredState.class).generation();
  }
}
