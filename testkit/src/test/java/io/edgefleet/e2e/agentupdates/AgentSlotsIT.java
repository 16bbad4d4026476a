package io.edgefleet.e2e.agentupdates;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.update.ReleaseArchive;
import io.edgefleet.agent.update.ReleaseKeys;
import io.edgefleet.agent.update.SlotsFile;
import io.edgefleet.agent.update.Updater;
import io.edgefleet.protocol.AgentMessage.AgentUpdate;
import io.edgefleet.protocol.AgentRelease;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.tls.Signatures;
import io.edgefleet.testkit.TestController;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The device side of agent updates with real processes: the start script runs the agent's slots
 * with this JDK, the agent connects to a real controller, and releases built from the agent's own
 * jars are staged by the agent's updater (driven here directly, as the running agent of slot a does
 * when its desired state names a release) and then proved or given up by the script and the new
 * agent.
 */
class AgentSlotsIT {
  static final Duration WAIT = Duration.ofSeconds(90);

  @TempDir static Path shared;
  static ReleaseBuilder builder;

  @TempDir Path dir;
  TestController controller;
  DeviceProcess device;
  KeyPair releaseKey;
  BlobServer blobs;
  ScheduledExecutorService timer;
  String name;

  @BeforeAll
  static void jars() throws Exception {
    builder = new ReleaseBuilder(shared);
  }

  @BeforeEach
  void setUp() throws Exception {
    controller = TestController.start(dir.resolve("controller"));
    name = "slots-" + Long.toHexString(System.nanoTime());
    device =
        new DeviceProcess(
            dir.resolve("device"),
            "--no-qr --no-tpm --runtime none --max-backoff 2s --name "
                + name
                + " --serial "
                + name);
    String token = controller.token(Map.of(), null, false);
    SecureFiles.writeSecret(
        device.conf.resolve("bootstrap.json"),
        Json.pretty(Bootstrap.of(controller.url(), controller.caFingerprint(), token)));
    releaseKey = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    Path keys = Files.createDirectories(device.conf.resolve("release-keys"));
    Files.writeString(keys.resolve("release.pub"), Signatures.publicKeyPem(releaseKey.getPublic()));
    builder.directory(device.home.resolve("release"), "1.0.0", ReleaseBuilder.MAIN, List.of(), 0);
    blobs = new BlobServer();
    timer = Executors.newSingleThreadScheduledExecutor();
  }

  @AfterEach
  void tearDown() throws Exception {
    if (device != null) {
      device.close();
      System.out.println("---- device log\n" + device.log());
    }
    if (blobs != null) {
      blobs.close();
    }
    if (timer != null) {
      timer.shutdownNow();
    }
    if (controller != null) {
      controller.close();
    }
  }

  // ------------------------------------------------------------------ helpers

  Optional<JsonNode> deviceRecord() {
    return DeviceRecords.find(controller.admin(), name);
  }

  /** Waits until the device is online and reports {@code version}. */
  void awaitOnline(String version) {
    DeviceRecords.awaitOnline(controller.admin(), name, version, WAIT);
  }

  /** Waits until the device is offline (its agent went away). */
  void awaitOffline() {
    await()
        .atMost(WAIT)
        .pollInterval(Duration.ofMillis(200))
        .until(
            () ->
                deviceRecord()
                    .filter(d -> !d.path("status").asText().equals("ONLINE"))
                    .isPresent());
  }

  SlotsFile.State slots() throws Exception {
    return SlotsFile.read(device.slots());
  }

  record Built(Path file, AgentRelease release) {}

  Built release(String version, String mainClass, List<String> javaOptions, long padding)
      throws Exception {
    Path d =
        builder.directory(
            dir.resolve("build-" + version), version, mainClass, javaOptions, padding);
    Path file = ReleaseBuilder.tarGz(d, Files.createDirectories(dir.resolve("out")), version);
    AgentRelease r = ReleaseBuilder.sign(releaseKey, file, version);
    blobs.put(r.digest(), file);
    return new Built(file, r);
  }

  /**
   * Stages a release as the agent of slot a does (with the device's script stopped, so the two do
   * not race for slots.json): returns the updater's last state once it switched or stopped.
   */
  AgentUpdate stage(AgentRelease release, Duration trial) throws Exception {
    CountDownLatch switched = new CountDownLatch(1);
    Updater u =
        new Updater(
            new Updater.Options(
                device.slots(),
                new ReleaseKeys(device.agentState(), device.conf.resolve("release-keys")),
                trial,
                ReleaseArchive.Limits.defaults(),
                Duration.ofSeconds(1),
                Duration.ofSeconds(1),
                Duration.ofSeconds(5),
                System.getProperty("os.arch"),
                "1.0.0",
                "a"),
            new RangeDownloader(blobs.url()),
            timer,
            Clock.systemUTC(),
            System.out,
            (kind, severity, message) -> System.out.println(kind + ": " + message),
            switched::countDown);
    try {
      // Connected, as the agent is when it downloads (the channel carries its slot reports).
      u.connected(message -> true, null);
      u.applied(
          new DesiredState(
              "dev", 1, Instant.now(), List.of(), List.of(), List.of(), null, release));
      await()
          .atMost(WAIT)
          .until(
              () ->
                  switched.getCount() == 0
                      || (u.update() != null && AgentUpdate.REFUSED.equals(u.update().phase())));
      return u.update();
    } finally {
      u.close();
    }
  }

  Process stageInProcess(AgentRelease release, Duration trial) throws Exception {
    Path releaseJson = dir.resolve("release-" + System.nanoTime() + ".json");
    Files.writeString(releaseJson, Json.write(release));
    return new ProcessBuilder(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-cp",
            System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")),
            StageMain.class.getName(),
            device.slots().toString(),
            device.agentState().toString(),
            device.conf.resolve("release-keys").toString(),
            releaseJson.toString(),
            blobs.url(),
            Long.toString(trial.toSeconds()))
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("stage.log").toFile()))
        .start();
  }

  /** The first start seeds slot a from the package's release; the agent connects as 1.0.0. */
  void firstStart() throws Exception {
    device.start();
    awaitOnline("1.0.0");
    SlotsFile.State s = slots();
    assertThat(s.active()).isEqualTo("a");
    assertThat(s.seeded()).isEqualTo("1.0.0");
    assertThat(s.trial()).isNull();
  }

  // ------------------------------------------------------------------ tests

  @Test
  void aGoodReleaseIsConfirmedAndStays() throws Exception {
    firstStart();
    Built v2 = release("2.0.0", ReleaseBuilder.MAIN, List.of("-Dedgefleet.test=1"), 0);
    device.stop();
    assertThat(stage(v2.release(), Duration.ofSeconds(60)).phase()).isEqualTo(AgentUpdate.STAGED);
    assertThat(slots().trial()).isEqualTo("b");

    device.start();
    awaitOnline("2.0.0");
    await().atMost(WAIT).until(() -> "b".equals(slots().active()));
    SlotsFile.State s = slots();
    assertThat(s.trial()).isNull();
    assertThat(s.outcome()).isEqualTo("confirmed");
    assertThat(s.outcomeVersion()).isEqualTo("2.0.0");
    assertThat(device.log()).contains("release 2.0.0 in slot b confirmed");

    // It stays: a restart runs slot b again, without a trial.
    device.stop();
    awaitOffline();
    device.start();
    awaitOnline("2.0.0");
    assertThat(slots().active()).isEqualTo("b");
    assertThat(slots().trial()).isNull();
  }

  @Test
  void aReleaseThatCrashesAtStartIsRevertedWithTheReason() throws Exception {
    firstStart();
    Built bad = release("2.0.0", "io.edgefleet.agent.command.NoSuchMain", List.of(), 0);
    device.stop();
    assertThat(stage(bad.release(), Duration.ofSeconds(60)).phase()).isEqualTo(AgentUpdate.STAGED);
    awaitOffline();

    device.start();
    await().atMost(WAIT).until(() -> "rolled-back".equals(slots().outcome()));
    SlotsFile.State s = slots();
    assertThat(s.active()).isEqualTo("a");
    assertThat(s.trial()).isNull();
    assertThat(s.outcomeVersion()).isEqualTo("2.0.0");
    assertThat(s.reason())
        .contains("exited with status 1 before it proved itself")
        .contains("NoSuchMain");
    awaitOnline("1.0.0");
    assertThat(device.alive()).isTrue();
  }

  @Test
  void aReleaseThatCannotConnectIsRevertedWhenItsTrialEnds() throws Exception {
    firstStart();
    // The new release's JVM may only speak TLS 1.0, which the controller refuses.
    Built deaf =
        release("2.0.0", ReleaseBuilder.MAIN, List.of("-Djdk.tls.client.protocols=TLSv1"), 0);
    device.stop();
    Instant staged = Instant.now();
    assertThat(stage(deaf.release(), Duration.ofSeconds(8)).phase()).isEqualTo(AgentUpdate.STAGED);
    awaitOffline();

    device.start();
    await().atMost(WAIT).until(() -> slots().starts() == 1);
    await().atMost(WAIT).until(() -> "rolled-back".equals(slots().outcome()));
    assertThat(Duration.between(staged, Instant.now()))
        .isGreaterThanOrEqualTo(Duration.ofSeconds(7));
    SlotsFile.State s = slots();
    assertThat(s.active()).isEqualTo("a");
    assertThat(s.reason())
        .contains("did not connect, verify its desired state and finish a reconcile pass");
    awaitOnline("1.0.0");
    assertThat(deviceRecord().orElseThrow().path("agentVersion").asText()).isEqualTo("1.0.0");
  }

  @Test
  void aKillDuringTheDownloadLeavesAWorkingAgentAndTheDownloadResumes() throws Exception {
    firstStart();
    Built v2 = release("2.0.0", ReleaseBuilder.MAIN, List.of(), 4 << 20);
    device.stop();
    blobs.holdAfter = 1 << 20;
    Process stager = stageInProcess(v2.release(), Duration.ofSeconds(60));
    Path part =
        device
            .slots()
            .resolve(".download")
            .resolve(v2.release().digest().substring(7) + ".tar.gz.part");
    await().atMost(WAIT).until(() -> Files.exists(part) && Files.size(part) >= (1 << 20));
    stager.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    blobs.holdAfter = -1;
    blobs.release.countDown();
    assertThat(slots().trial()).isNull();
    assertThat(device.slots().resolve("b")).doesNotExist();

    // The agent starts and connects as before.
    device.start();
    awaitOnline("1.0.0");
    device.stop();
    awaitOffline();

    // The next try goes on from the bytes already there.
    long had = Files.size(part);
    assertThat(stage(v2.release(), Duration.ofSeconds(60)).phase()).isEqualTo(AgentUpdate.STAGED);
    assertThat(blobs.ranges).contains("bytes=" + had + "-");
    device.start();
    awaitOnline("2.0.0");
  }

  @Test
  void aKillDuringStagingLeavesAWorkingAgent() throws Exception {
    firstStart();
    Built v2 = release("2.0.0", ReleaseBuilder.MAIN, List.of(), 96L << 20);
    device.stop();
    Process stager = stageInProcess(v2.release(), Duration.ofSeconds(60));
    Path padding = device.slots().resolve(".staging-b").resolve("lib").resolve("zz-padding.jar");
    await().atMost(WAIT).pollInterval(Duration.ofMillis(2)).until(() -> Files.exists(padding));
    stager.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    assertThat(slots().trial()).isNull();
    assertThat(device.slots().resolve("b")).doesNotExist();

    device.start();
    awaitOnline("1.0.0");
    assertThat(slots().active()).isEqualTo("a");
    device.stop();
    awaitOffline();
    // The next try starts the staging afresh and switches.
    assertThat(stage(v2.release(), Duration.ofSeconds(60)).phase()).isEqualTo(AgentUpdate.STAGED);
    assertThat(device.slots().resolve(".staging-b")).doesNotExist();
    device.start();
    awaitOnline("2.0.0");
  }

  @Test
  void aKillOfScriptAndAgentDuringTheSwitchLeavesAWorkingAgent() throws Exception {
    firstStart();
    // A release that takes the full trial window: the switch is in progress when the kill comes.
    Built deaf =
        release("2.0.0", ReleaseBuilder.MAIN, List.of("-Djdk.tls.client.protocols=TLSv1"), 0);
    device.stop();
    assertThat(stage(deaf.release(), Duration.ofSeconds(60)).phase()).isEqualTo(AgentUpdate.STAGED);
    device.start();
    await().atMost(WAIT).until(() -> slots().starts() == 1);
    device.kill9();
    // Power comes back: the trial goes on (second start), and a third kill during it...
    device.start();
    await().atMost(WAIT).until(() -> slots().starts() == 2);
    device.kill9();
    device.start();
    await().atMost(WAIT).until(() -> slots().starts() == 3);
    device.kill9();
    // ...makes the script give the release up at the next start: the old agent runs and connects.
    device.start();
    await().atMost(WAIT).until(() -> "rolled-back".equals(slots().outcome()));
    assertThat(slots().reason()).contains("started 3 times without proving itself");
    awaitOnline("1.0.0");
  }

  @Test
  void aKillOfTheAgentWhileTheTrialAgentRunsLeavesAWorkingAgent() throws Exception {
    firstStart();
    Built v2 = release("2.0.0", ReleaseBuilder.MAIN, List.of(), 0);
    device.stop();
    assertThat(stage(v2.release(), Duration.ofSeconds(60)).phase()).isEqualTo(AgentUpdate.STAGED);
    device.start();
    await().atMost(WAIT).until(() -> slots().starts() == 1);
    // The new agent's JVM dies before it proved itself: the script restores slot a.
    device.killAgent9();
    await().atMost(WAIT).until(() -> slots().outcome() != null);
    if ("rolled-back".equals(slots().outcome())) {
      assertThat(slots().reason()).contains("killed by signal 9 before it proved itself");
      awaitOnline("1.0.0");
    } else {
      // It had confirmed just before the kill: the script runs the confirmed slot again.
      awaitOnline("2.0.0");
    }
  }

  @Test
  void aBadSignatureOrDigestIsRefusedBeforeAnythingIsStaged() throws Exception {
    firstStart();
    Built v2 = release("2.0.0", ReleaseBuilder.MAIN, List.of(), 0);
    device.stop();
    KeyPair stranger = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    AgentRelease untrusted =
        AgentRelease.sign(
            stranger.getPrivate(),
            stranger.getPublic(),
            "2.0.0",
            v2.release().arch(),
            v2.release().digest(),
            v2.release().size());
    AgentUpdate u = stage(untrusted, Duration.ofSeconds(60));
    assertThat(u.phase()).isEqualTo(AgentUpdate.REFUSED);
    assertThat(u.reason()).contains("does not trust");
    assertThat(blobs.ranges).isEmpty();

    // Signed right, but the controller serves other bytes under its digest.
    Built other = release("3.0.0", ReleaseBuilder.MAIN, List.of(), 0);
    blobs.put(v2.release().digest(), other.file());
    AgentUpdate m = stage(v2.release(), Duration.ofSeconds(60));
    assertThat(m.phase()).isEqualTo(AgentUpdate.REFUSED);
    assertThat(m.reason()).contains("ARTIFACT_DIGEST_MISMATCH");

    assertThat(device.slots().resolve("b")).doesNotExist();
    assertThat(slots().trial()).isNull();
    device.start();
    awaitOnline("1.0.0");
    assertThat(slots().active()).isEqualTo("a");
  }

  @Test
  void aNewerPackageReleaseReplacesTheInactiveSlotAndRuns() throws Exception {
    firstStart();
    device.stop();
    awaitOffline();
    // apt upgrade: the package's release is 1.1.0 now.
    deleteTree(device.home.resolve("release"));
    builder.directory(device.home.resolve("release"), "1.1.0", ReleaseBuilder.MAIN, List.of(), 0);
    device.start();
    awaitOnline("1.1.0");
    SlotsFile.State s = slots();
    assertThat(s.active()).isEqualTo("b");
    assertThat(s.seeded()).isEqualTo("1.1.0");
    assertThat(device.slots().resolve("a/release.json")).content().contains("1.0.0");
  }

  private static void deleteTree(Path p) throws java.io.IOException {
    try (var all = Files.walk(p)) {
      for (Path f : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(f);
      }
    }
  }
}
