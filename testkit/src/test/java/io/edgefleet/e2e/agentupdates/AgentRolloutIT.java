package io.edgefleet.e2e.agentupdates;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.update.SlotsFile;
import io.edgefleet.protocol.AgentRelease;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.tls.Signatures;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestController;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Agent updates end to end: a release signed with a release key the controller trusts is pushed and
 * rolled out through the rollout engine to a device that runs the start script; the device learns
 * the release key at enrollment, downloads the release from the controller, stages it, switches,
 * and confirms it, or the script rolls it back and the rollout fails with the reason.
 */
class AgentRolloutIT {
  static final Duration WAIT = Duration.ofSeconds(120);
  static final String POLICY = "progressDeadline: 3m\nonFailure: pause\n";

  @TempDir static Path shared;
  static ReleaseBuilder builder;

  @TempDir Path dir;
  TestController controller;
  DeviceProcess device;
  KeyPair releaseKey;
  String name;

  @BeforeAll
  static void jars() throws Exception {
    builder = new ReleaseBuilder(shared);
  }

  @BeforeEach
  void setUp() throws Exception {
    releaseKey = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    Path pub = dir.resolve("release.pub");
    Files.writeString(pub, Signatures.publicKeyPem(releaseKey.getPublic()));
    controller =
        TestController.start(
            TestController.config(dir.resolve("controller")).withAgentReleaseKeys(List.of(pub)));
    name = "rollout-" + Long.toHexString(System.nanoTime());
    device =
        new DeviceProcess(
            dir.resolve("device"),
            "--no-qr --no-tpm --runtime none --max-backoff 2s --update-trial 40s --name "
                + name
                + " --serial "
                + name);
    String token = controller.token(Map.of("fleet", name), null, false);
    SecureFiles.writeSecret(
        device.conf.resolve("bootstrap.json"),
        Json.pretty(Bootstrap.of(controller.url(), controller.caFingerprint(), token)));
    // No release key in the device's configuration: it learns the controller's at enrollment.
    builder.directory(device.home.resolve("release"), "1.0.0", ReleaseBuilder.MAIN, List.of(), 0);
  }

  @AfterEach
  void tearDown() {
    if (device != null) {
      device.close();
      System.out.println("---- device log\n" + device.log());
    }
    if (controller != null) {
      controller.close();
    }
  }

  Optional<JsonNode> deviceRecord() {
    return DeviceRecords.find(controller.admin(), name);
  }

  /** Waits until the device is online and reports {@code version}. */
  void awaitOnline(String version) {
    DeviceRecords.awaitOnline(controller.admin(), name, version, WAIT);
  }

  SlotsFile.State slots() throws Exception {
    return SlotsFile.read(device.slots());
  }

  AgentRelease push(String version, String mainClass) throws Exception {
    return push(version, mainClass, 0);
  }

  AgentRelease push(String version, String mainClass, long padding) throws Exception {
    Path d =
        builder.directory(dir.resolve("build-" + version), version, mainClass, List.of(), padding);
    Path file = ReleaseBuilder.tarGz(d, Files.createDirectories(dir.resolve("out")), version);
    AgentRelease sig = ReleaseBuilder.sign(releaseKey, file, version);
    Map<String, String> headers = new HashMap<>();
    headers.put("X-Edgefleet-Signature", Base64.getEncoder().encodeToString(Json.writeBytes(sig)));
    AdminClient.Answer pushed =
        controller
            .admin()
            .postBytes(
                "/api/v1/agent-releases",
                Files.readAllBytes(file),
                "application/octet-stream",
                headers);
    assertThat(pushed.status()).as(pushed.body().toString()).isEqualTo(201);
    return sig;
  }

  String rollout(String version) {
    AdminClient.Answer started =
        controller
            .admin()
            .post(
                "/api/v1/agent-releases/" + version + "/rollout",
                Map.of("target", "fleet=" + name, "rollout", POLICY));
    assertThat(started.status()).as(started.body().toString()).isEqualTo(201);
    return started.body().path("rolloutId").asText();
  }

  String rolloutState(String id) {
    return controller.admin().get("/api/v1/rollouts/" + id).body().path("state").asText();
  }

  @Test
  void aRolledOutReleaseIsDownloadedSwitchedToAndConfirmed() throws Exception {
    device.start();
    awaitOnline("1.0.0");
    assertThat(device.agentState().resolve("release-keys.json"))
        .content()
        .contains(Signatures.keyId(releaseKey.getPublic()));

    push("2.0.0", ReleaseBuilder.MAIN);
    String id = rollout("2.0.0");
    await()
        .atMost(WAIT)
        .pollInterval(Duration.ofMillis(500))
        .until(() -> rolloutState(id).equals("SUCCEEDED"));
    awaitOnline("2.0.0");
    SlotsFile.State s = slots();
    assertThat(s.active()).isEqualTo("b");
    assertThat(s.outcome()).isEqualTo("confirmed");
    assertThat(device.log())
        .contains("agent update: downloading release 2.0.0")
        .contains("release 2.0.0 in slot b confirmed");
    assertThat(device.alive()).isTrue();
  }

  @Test
  void aRolledOutReleaseThatCrashesIsRolledBackAndTheRolloutFailsWithTheReason() throws Exception {
    device.start();
    awaitOnline("1.0.0");
    push("2.0.0", "io.edgefleet.agent.command.NoSuchMain");
    String id = rollout("2.0.0");
    await()
        .atMost(WAIT)
        .pollInterval(Duration.ofMillis(500))
        .until(() -> List.of("FAILED", "PAUSED", "ROLLED_BACK").contains(rolloutState(id)));
    await()
        .atMost(WAIT)
        .untilAsserted(
            () ->
                assertThat(
                        controller
                            .admin()
                            .get("/api/v1/rollouts/" + id + "?devices=true")
                            .body()
                            .toString())
                    .contains("NoSuchMain"));
    SlotsFile.State s = slots();
    assertThat(s.active()).isEqualTo("a");
    assertThat(s.outcome()).isEqualTo("rolled-back");
    awaitOnline("1.0.0");
  }

  @Test
  void aKillOfTheAgentDuringTheDownloadFromTheControllerLeavesAWorkingAgentThatResumes()
      throws Exception {
    device.start();
    awaitOnline("1.0.0");
    AgentRelease r = push("2.0.0", ReleaseBuilder.MAIN, 160L << 20);
    Path part =
        device.slots().resolve(".download").resolve(r.digest().substring(7) + ".tar.gz.part");
    String id = rollout("2.0.0");
    await()
        .atMost(WAIT)
        .pollInterval(Duration.ofMillis(2))
        .until(() -> Files.exists(part) && Files.size(part) > 0);
    // kill -9 of the agent's JVM mid-download: the script ends with its status, systemd restarts.
    device.killAgent9();
    long had = Files.size(part);
    assertThat(had).isLessThan(r.size());
    assertThat(slots().trial()).isNull();
    device.waitFor(Duration.ofSeconds(30));
    device.start();
    await()
        .atMost(WAIT)
        .pollInterval(Duration.ofMillis(500))
        .until(() -> rolloutState(id).equals("SUCCEEDED"));
    awaitOnline("2.0.0");
    assertThat(slots().active()).isEqualTo("b");
    assertThat(device.log())
        .containsPattern("downloading release 2\\.0\\.0 \\(\\d+ bytes, going on from [1-9]");
  }
}
