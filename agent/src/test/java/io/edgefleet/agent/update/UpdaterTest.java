package io.edgefleet.agent.update;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.AgentFeature;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AgentMessage.AgentUpdate;
import io.edgefleet.protocol.AgentRelease;
import io.edgefleet.protocol.AgentReleaseManifest;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Signatures;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UpdaterTest {
  static final String ARCH = "amd64";
  static final Instant NOW = Instant.parse("2026-12-07T10:00:00Z");

  @TempDir Path tmp;
  Path slots;
  Path state;
  Path conf;
  KeyPair key;
  ScheduledExecutorService timer;
  final Map<String, byte[]> blobs = new ConcurrentHashMap<>();
  final AtomicInteger downloads = new AtomicInteger();
  final AtomicInteger restarts = new AtomicInteger();
  final List<AgentMessage.AgentSlots> sent = new CopyOnWriteArrayList<>();
  final List<String> events = new CopyOnWriteArrayList<>();
  volatile IOException downloadFailure;
  Updater updater;

  final AgentFeature.Channel channel =
      new AgentFeature.Channel() {
        @Override
        public boolean send(AgentMessage message) {
          sent.add((AgentMessage.AgentSlots) message);
          return true;
        }
      };

  @BeforeEach
  void setUp() throws Exception {
    slots = Files.createDirectories(tmp.resolve("slots"));
    state = Files.createDirectories(tmp.resolve("state"));
    conf = Files.createDirectories(tmp.resolve("release-keys"));
    key = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    Files.writeString(conf.resolve("release.pub"), Signatures.publicKeyPem(key.getPublic()));
    timer = Executors.newSingleThreadScheduledExecutor();
    slot("a", "1.0.0");
    SlotsFile.write(
        slots, new SlotsFile.State("a", "1.0.0", null, null, 0, 0, null, null, null, 0));
  }

  @AfterEach
  void tearDown() {
    if (updater != null) {
      updater.close();
    }
    timer.shutdownNow();
  }

  void slot(String name, String version) throws IOException {
    Path d = Files.createDirectories(slots.resolve(name).resolve("lib"));
    Files.writeString(
        slots.resolve(name).resolve("release.json"),
        Json.write(new AgentReleaseManifest(1, version, ARCH, "x.Main", List.of())));
    Files.writeString(d.resolve("agent.jar"), "jar " + version);
  }

  Updater updater(Path slotsDir, String version, String slot) {
    updater =
        new Updater(
            new Updater.Options(
                slotsDir,
                new ReleaseKeys(state, conf),
                Duration.ofMinutes(10),
                ReleaseArchive.Limits.defaults(),
                Duration.ofMillis(50),
                Duration.ofMillis(50),
                Duration.ofMillis(200),
                ARCH,
                version,
                slot),
            (digest, file, max) -> {
              downloads.incrementAndGet();
              IOException f = downloadFailure;
              if (f != null) {
                throw f;
              }
              Files.write(file, blobs.get(digest));
            },
            timer,
            Clock.fixed(NOW, ZoneOffset.UTC),
            new PrintStream(new ByteArrayOutputStream()),
            (kind, severity, message) -> events.add(kind + ": " + message),
            restarts::incrementAndGet);
    return updater;
  }

  static byte[] releaseFile(String version, String arch, String mainClass) {
    return new Tar()
        .file(
            "release.json",
            Json.write(new AgentReleaseManifest(1, version, arch, mainClass, List.of("-Dx=1"))))
        .dir("lib/")
        .file("lib/agent.jar", "jar " + version)
        .gzip();
  }

  AgentRelease publish(String version, byte[] file) throws Exception {
    String digest =
        "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(file));
    blobs.put(digest, file);
    return AgentRelease.sign(key.getPrivate(), key.getPublic(), version, ARCH, digest, file.length);
  }

  static DesiredState desired(AgentRelease release) {
    return new DesiredState("dev-1", 7, NOW, List.of(), List.of(), List.of(), null, release);
  }

  AgentUpdate awaitPhase(String phase) {
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> updater.update() != null && phase.equals(updater.update().phase()));
    return updater.update();
  }

  @Test
  void aGoodReleaseIsStagedInTheInactiveSlotAndATrialRecorded() throws Exception {
    AgentRelease r = publish("2.0.0", releaseFile("2.0.0", ARCH, "x.Main"));
    Updater u = updater(slots, "1.0.0", "a");
    u.connected(channel, null);
    u.applied(desired(r));
    await().atMost(Duration.ofSeconds(10)).until(() -> restarts.get() == 1);
    SlotsFile.State s = SlotsFile.read(slots);
    assertThat(s.active()).isEqualTo("a");
    assertThat(s.trial()).isEqualTo("b");
    assertThat(s.trialVersion()).isEqualTo("2.0.0");
    assertThat(s.deadline()).isEqualTo(NOW.plus(Duration.ofMinutes(10)).getEpochSecond());
    assertThat(slots.resolve("b/lib/agent.jar")).hasContent("jar 2.0.0");
    assertThat(slots.resolve("a/lib/agent.jar")).hasContent("jar 1.0.0");
    try (var leftovers = Files.list(slots)) {
      assertThat(leftovers.map(p -> p.getFileName().toString()))
          .containsExactlyInAnyOrder("a", "b", "slots.json", ".download");
    }
    assertThat(sent)
        .extracting(m -> m.update() == null ? null : m.update().phase())
        .contains(AgentUpdate.DOWNLOADING, AgentUpdate.STAGED);
    AgentMessage.AgentSlots last = sent.getLast();
    assertThat(last.active()).isEqualTo("a");
    assertThat(last.slotA()).isEqualTo("1.0.0");
    assertThat(last.slotB()).isEqualTo("2.0.0");
  }

  @Test
  void anUntrustedOrBadSignatureIsRefusedBeforeAnyDownload() throws Exception {
    byte[] file = releaseFile("2.0.0", ARCH, "x.Main");
    AgentRelease good = publish("2.0.0", file);
    Updater u = updater(slots, "1.0.0", "a");
    u.connected(channel, null);

    KeyPair stranger = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    AgentRelease untrusted =
        AgentRelease.sign(
            stranger.getPrivate(), stranger.getPublic(), "2.0.0", ARCH, good.digest(), good.size());
    u.applied(desired(untrusted));
    assertThat(awaitPhase(AgentUpdate.REFUSED).reason())
        .contains("does not trust")
        .contains(untrusted.keyId())
        .contains(conf.toString());

    AgentRelease tampered =
        new AgentRelease("2.0.1", ARCH, good.digest(), good.size(), good.keyId(), good.signature());
    u.applied(desired(tampered));
    await().atMost(Duration.ofSeconds(10)).until(() -> "2.0.1".equals(updater.update().version()));
    assertThat(updater.update().phase()).isEqualTo(AgentUpdate.REFUSED);
    assertThat(updater.update().reason()).contains("does not verify");

    assertThat(downloads).hasValue(0);
    assertThat(slots.resolve("b")).doesNotExist();
    assertThat(SlotsFile.read(slots).trial()).isNull();
    assertThat(restarts).hasValue(0);
    assertThat(events).anyMatch(e -> e.startsWith("agent-update-refused"));
  }

  @Test
  void aDigestMismatchIsRefusedBeforeStaging() throws Exception {
    AgentRelease r = publish("2.0.0", releaseFile("2.0.0", ARCH, "x.Main"));
    byte[] other = releaseFile("2.0.0", ARCH, "y.Main");
    blobs.put(r.digest(), java.util.Arrays.copyOf(other, (int) r.size()));
    Updater u = updater(slots, "1.0.0", "a");
    u.connected(channel, null);
    u.applied(desired(r));
    assertThat(awaitPhase(AgentUpdate.REFUSED).reason())
        .contains("does not match its signed size and digest")
        .contains("ARTIFACT_DIGEST_MISMATCH");
    assertThat(slots.resolve("b")).doesNotExist();
    assertThat(SlotsFile.read(slots).trial()).isNull();
    try (var files = Files.list(slots.resolve(".download"))) {
      assertThat(files).isEmpty();
    }
  }

  @Test
  void contentThatDoesNotMatchTheSignedFactsIsRefusedAndTheSlotKept() throws Exception {
    slot("b", "0.9.0");
    AgentRelease r = publish("2.0.0", releaseFile("3.0.0", ARCH, "x.Main"));
    Updater u = updater(slots, "1.0.0", "a");
    u.connected(channel, null);
    u.applied(desired(r));
    assertThat(awaitPhase(AgentUpdate.REFUSED).reason())
        .contains("release.json says version 3.0.0");
    assertThat(slots.resolve("b/lib/agent.jar")).hasContent("jar 0.9.0");
    assertThat(slots.resolve(".staging-b")).doesNotExist();
  }

  @Test
  void aReleaseForAnotherArchitectureIsRefused() throws Exception {
    byte[] file = releaseFile("2.0.0", "aarch64", "x.Main");
    String digest =
        "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(file));
    AgentRelease r =
        AgentRelease.sign(key.getPrivate(), key.getPublic(), "2.0.0", "aarch64", digest, 9);
    Updater u = updater(slots, "1.0.0", "a");
    u.applied(desired(r));
    assertThat(awaitPhase(AgentUpdate.REFUSED).reason()).contains("is for aarch64");
    assertThat(downloads).hasValue(0);
  }

  @Test
  void withoutSlotsATargetedReleaseIsRefused() throws Exception {
    AgentRelease r = publish("2.0.0", releaseFile("2.0.0", ARCH, "x.Main"));
    Updater u = updater(null, "1.0.0", null);
    u.connected(channel, null);
    u.applied(desired(r));
    assertThat(awaitPhase(AgentUpdate.REFUSED).reason()).isEqualTo(Updater.NOT_FROM_SLOTS);
    assertThat(sent.getLast().active()).isNull();
    assertThat(downloads).hasValue(0);
  }

  @Test
  void aFailedDownloadIsRetriedWithTheReason() throws Exception {
    AgentRelease r = publish("2.0.0", releaseFile("2.0.0", ARCH, "x.Main"));
    downloadFailure = new IOException("connection reset");
    Updater u = updater(slots, "1.0.0", "a");
    u.connected(channel, null);
    u.applied(desired(r));
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                updater.update() != null
                    && updater.update().reason() != null
                    && updater.update().reason().contains("connection reset"));
    assertThat(updater.update().phase()).isEqualTo(AgentUpdate.DOWNLOADING);
    await().atMost(Duration.ofSeconds(10)).until(() -> downloads.get() >= 2);
    downloadFailure = null;
    await().atMost(Duration.ofSeconds(10)).until(() -> restarts.get() == 1);
    assertThat(SlotsFile.read(slots).trial()).isEqualTo("b");
  }

  @Test
  void aTrialIsConfirmedOnlyAfterConnectVerifiedStateAndAReconcilePass() throws Exception {
    slot("b", "2.0.0");
    SlotsFile.write(
        slots, SlotsFile.read(slots).withTrial("b", "2.0.0", NOW.plus(Duration.ofMinutes(10))));
    Updater u = updater(slots, "2.0.0", "b");
    await().atMost(Duration.ofSeconds(10)).until(u::inTrial);
    assertThat(u.update().phase()).isEqualTo(AgentUpdate.TRIAL);
    // A pass before any connection proves nothing about the new agent's link.
    u.applied(desired(null));
    u.reconciled(7);
    u.connected(channel, null);
    await().atMost(Duration.ofSeconds(10)).until(() -> !sent.isEmpty());
    assertThat(SlotsFile.read(slots).trial()).isEqualTo("b");
    assertThat(u.inTrial()).isTrue();

    u.reconciled(7);
    assertThat(awaitPhase(AgentUpdate.CONFIRMED).version()).isEqualTo("2.0.0");
    SlotsFile.State s = SlotsFile.read(slots);
    assertThat(s.active()).isEqualTo("b");
    assertThat(s.trial()).isNull();
    assertThat(s.outcome()).isEqualTo("confirmed");
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> AgentUpdate.CONFIRMED.equals(sent.getLast().update().phase()));
    assertThat(sent.getLast().active()).isEqualTo("b");
  }

  @Test
  void aRecordingRunEndsOnceProvenAndNotBefore() throws Exception {
    Updater u = updater(slots, "1.0.0", "a");
    u.exitWhenProven(Duration.ofMinutes(5));
    u.applied(desired(null));
    u.reconciled(7);
    u.connected(channel, null);
    await().atMost(Duration.ofSeconds(10)).until(() -> !sent.isEmpty());
    assertThat(restarts).hasValue(0);

    u.reconciled(7);
    await().atMost(Duration.ofSeconds(10)).until(() -> restarts.get() == 1);
    u.reconciled(8);
    // Ended once: a later pass does not end it again.
    await()
        .during(Duration.ofMillis(300))
        .atMost(Duration.ofSeconds(2))
        .until(() -> restarts.get() == 1);
  }

  @Test
  void aRecordingRunThatCannotProveItselfEndsAfterItsLimit() throws Exception {
    Updater u = updater(slots, "1.0.0", "a");
    u.exitWhenProven(Duration.ofMillis(300));
    assertThat(restarts).hasValue(0);
    await().atMost(Duration.ofSeconds(10)).until(() -> restarts.get() == 1);
  }

  @Test
  void aTrialThatRecordsIsConfirmedBeforeItEnds() throws Exception {
    slot("b", "2.0.0");
    SlotsFile.write(
        slots, SlotsFile.read(slots).withTrial("b", "2.0.0", NOW.plus(Duration.ofMinutes(10))));
    Updater u = updater(slots, "2.0.0", "b");
    u.exitWhenProven(Duration.ofMinutes(5));
    await().atMost(Duration.ofSeconds(10)).until(u::inTrial);
    u.connected(channel, null);
    u.applied(desired(null));
    u.reconciled(7);
    await().atMost(Duration.ofSeconds(10)).until(() -> restarts.get() == 1);
    assertThat(SlotsFile.read(slots).active()).isEqualTo("b");
    assertThat(SlotsFile.read(slots).outcome()).isEqualTo("confirmed");
  }

  @Test
  void aRolledBackReleaseIsReportedWithItsReasonAndNotTriedAgain() throws Exception {
    AgentRelease r = publish("2.0.0", releaseFile("2.0.0", ARCH, "x.Main"));
    slot("b", "2.0.0");
    SlotsFile.write(
        slots,
        SlotsFile.read(slots)
            .withTrial("b", "2.0.0", NOW)
            .rolledBack("it exited with status 1 before it proved itself", NOW));
    Updater u = updater(slots, "1.0.0", "a");
    u.connected(channel, null);
    await().atMost(Duration.ofSeconds(10)).until(() -> !sent.isEmpty());
    assertThat(sent.getLast().update().phase()).isEqualTo(AgentUpdate.ROLLED_BACK);
    assertThat(sent.getLast().update().reason()).contains("exited with status 1");
    u.applied(desired(r));
    await().atMost(Duration.ofSeconds(10)).until(() -> sent.size() >= 2);
    assertThat(downloads).hasValue(0);
    assertThat(restarts).hasValue(0);
    assertThat(updater.update().phase()).isEqualTo(AgentUpdate.ROLLED_BACK);
  }

  @Test
  void leftoversOfAnInterruptedStagingAreRemovedAndTheDownloadResumed() throws Exception {
    Files.createDirectories(slots.resolve(".staging-b/lib"));
    Files.writeString(slots.resolve(".staging-b/lib/half.jar"), "half");
    AgentRelease r = publish("2.0.0", releaseFile("2.0.0", ARCH, "x.Main"));
    Updater u = updater(slots, "1.0.0", "a");
    await().atMost(Duration.ofSeconds(10)).until(() -> !Files.exists(slots.resolve(".staging-b")));
    u.applied(desired(r));
    // Nothing is downloaded before the agent is connected.
    await()
        .during(Duration.ofMillis(300))
        .atMost(Duration.ofSeconds(5))
        .until(() -> downloads.get() == 0);
    u.connected(channel, null);
    await().atMost(Duration.ofSeconds(10)).until(() -> restarts.get() == 1);
    assertThat(slots.resolve("b/lib/half.jar")).doesNotExist();
    assertThat(slots.resolve("b/lib/agent.jar")).hasContent("jar 2.0.0");
  }
}
