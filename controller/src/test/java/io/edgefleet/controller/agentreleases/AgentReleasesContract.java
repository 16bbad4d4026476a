package io.edgefleet.controller.agentreleases;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.edgefleet.controller.artifacts.Artifacts;
import io.edgefleet.controller.artifacts.DirectoryBlobStore;
import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.desired.ReleaseGate;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AgentRelease;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Signatures;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.jdbi.v3.core.Handle;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Agent releases, their keys, the devices' slot reports and the agent's targets against a database
 * chosen by the subclass (SQLite in {@link AgentReleasesTest}, PostgreSQL in {@link
 * AgentReleasesPostgresIT}).
 */
abstract class AgentReleasesContract {
  abstract String databaseUrl(Path dataDir);

  @TempDir Path tmp;
  Database db;
  Artifacts artifacts;
  AgentReleases releases;
  KeyPair trusted;
  final Set<String> used = ConcurrentHashMap.newKeySet();

  @BeforeEach
  void setUp() throws Exception {
    Path data = Files.createDirectories(tmp.resolve("data"));
    db = Database.open(databaseUrl(data), null, null);
    Clock clock = Clock.fixed(Instant.parse("2026-12-01T10:00:00Z"), ZoneOffset.UTC);
    artifacts =
        new Artifacts(
            db.jdbi(),
            clock,
            new AuditLog(db.jdbi(), clock),
            new DirectoryBlobStore(data.resolve("artifacts")),
            Artifacts.DEFAULT_MAX_BYTES,
            d -> AgentReleases.releaseOf(db.jdbi(), d));
    trusted = ReleaseFiles.key();
    Files.createDirectories(data.resolve(ReleaseKeys.DIRECTORY));
    Files.writeString(
        data.resolve(ReleaseKeys.DIRECTORY).resolve("ops.pub"),
        Signatures.publicKeyPem(trusted.getPublic()));
    releases =
        new AgentReleases(
            db.jdbi(),
            clock,
            new AuditLog(db.jdbi(), clock),
            artifacts,
            ReleaseKeys.load(data, List.of()),
            (v, a) ->
                used.contains(v + "/" + a)
                    ? Optional.of("rollout r-1 rolls it out")
                    : Optional.empty());
  }

  @AfterEach
  void tearDown() {
    db.close();
  }

  private AgentReleases.Release push(AgentRelease sig, byte[] file) throws Exception {
    // The signature travels as the routes receive it: base64 of the .sig file.
    AgentRelease parsed =
        AgentReleases.parseSignature(Base64.getEncoder().encodeToString(Json.writeBytes(sig)));
    return releases.push(parsed, file.length, new ByteArrayInputStream(file), "op");
  }

  private static ErrorCode code(Throwable t) {
    return ((ControllerException) t).code();
  }

  @Test
  void aSignedReleaseIsStoredAsAnAgentArtifactAndListed() throws Exception {
    byte[] file = ReleaseFiles.release("0.2.0", "amd64");
    AgentRelease sig = ReleaseFiles.sign(trusted, "0.2.0", "amd64", file);
    AgentReleases.Release r = push(sig, file);
    assertThat(r.signed()).isEqualTo(sig);
    assertThat(r.mainClass()).isEqualTo("io.edgefleet.agent.command.AgentMain");
    assertThat(releases.list()).containsExactly(r);
    var artifact = artifacts.get(sig.digest()).orElseThrow();
    assertThat(artifact.kind()).isEqualTo(AgentReleases.KIND);
    assertThat(artifact.name()).isEqualTo("edgefleet-agent-0.2.0-linux-amd64.tar.gz");
    try (var stored = artifacts.open(sig.digest())) {
      assertThat(stored.readAllBytes()).isEqualTo(file);
    }
    // The artifact cannot be deleted from under the release.
    assertThatThrownBy(() -> artifacts.delete(sig.digest(), "op"))
        .hasMessageContaining("agent release 0.2.0");
    // The same version again is refused, naming the way out.
    assertThatThrownBy(() -> push(sig, file))
        .satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.AGENT_RELEASE_EXISTS))
        .hasMessageContaining("agent-releases delete 0.2.0");
    assertThat(releases.releaseKeys())
        .singleElement()
        .satisfies(k -> assertThat(k.id()).isEqualTo(Signatures.keyId(trusted.getPublic())));
  }

  @Test
  void aReleaseSignedByAnUnknownKeyIsRefused() throws Exception {
    byte[] file = ReleaseFiles.release("0.2.0", "amd64");
    AgentRelease sig = ReleaseFiles.sign(ReleaseFiles.key(), "0.2.0", "amd64", file);
    assertThatThrownBy(() -> push(sig, file))
        .satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.AGENT_RELEASE_KEY_UNTRUSTED))
        .hasMessageContaining("--agent-release-key");
    assertThat(releases.list()).isEmpty();
    assertThat(artifacts.list()).isEmpty();
  }

  @Test
  void aSignatureOverOtherFactsIsRefused() throws Exception {
    byte[] file = ReleaseFiles.release("0.2.0", "amd64");
    AgentRelease good = ReleaseFiles.sign(trusted, "0.2.0", "amd64", file);
    AgentRelease forged =
        new AgentRelease(
            "0.3.0", "amd64", good.digest(), good.size(), good.keyId(), good.signature());
    assertThatThrownBy(() -> push(forged, file))
        .satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.AGENT_RELEASE_SIGNATURE_INVALID))
        .hasMessageContaining("does not verify");
  }

  @Test
  void aFileChangedAfterSigningIsRefusedAndNotKept() throws Exception {
    byte[] file = ReleaseFiles.release("0.2.0", "amd64");
    AgentRelease sig = ReleaseFiles.sign(trusted, "0.2.0", "amd64", file);
    byte[] tampered = file.clone();
    tampered[tampered.length / 2] ^= 1;
    assertThatThrownBy(() -> push(sig, tampered))
        .satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.AGENT_RELEASE_SIGNATURE_INVALID))
        .hasMessageContaining("not the file signed");
    byte[] longer = java.util.Arrays.copyOf(file, file.length + 1);
    assertThatThrownBy(() -> push(sig, longer))
        .satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.AGENT_RELEASE_SIGNATURE_INVALID))
        .hasMessageContaining("bytes but its signature is for");
    assertThat(artifacts.list()).isEmpty();
    try (var left = Files.list(tmp.resolve("data/artifacts/sha256"))) {
      assertThat(left).isEmpty();
    }
  }

  @Test
  void aManifestOfAnotherVersionOrArchIsRefused() throws Exception {
    Map<String, byte[]> files = new LinkedHashMap<>();
    files.put("release.json", ReleaseFiles.manifest("0.1.0", "amd64"));
    files.put("lib/a.jar", new byte[] {1});
    byte[] file = ReleaseFiles.tar(files, null);
    AgentRelease sig = ReleaseFiles.sign(trusted, "0.2.0", "amd64", file);
    assertThatThrownBy(() -> push(sig, file))
        .satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.AGENT_RELEASE_MALFORMED))
        .hasMessageContaining("says version 0.1.0");
  }

  @Test
  void malformedArchivesAreRefusedNamingTheEntry() throws Exception {
    Map<String, byte[]> base = new LinkedHashMap<>();
    base.put("release.json", ReleaseFiles.manifest("0.2.0", "amd64"));
    base.put("lib/a.jar", new byte[] {1});

    TarArchiveEntry link = new TarArchiveEntry("lib/b.jar", TarArchiveEntry.LF_SYMLINK);
    link.setLinkName("/etc/shadow");
    assertMalformed(ReleaseFiles.tar(base, link), "is a link");

    Map<String, byte[]> dotdot = new LinkedHashMap<>(base);
    dotdot.put("lib/../../evil.jar", new byte[] {1});
    assertMalformed(ReleaseFiles.tar(dotdot, null), "leaves the release directory");

    Map<String, byte[]> absolute = new LinkedHashMap<>(base);
    absolute.put("/lib/x.jar", new byte[] {1});
    assertMalformed(ReleaseFiles.tar(absolute, null), "absolute path");

    Map<String, byte[]> extra = new LinkedHashMap<>(base);
    extra.put("bin/run.sh", new byte[] {1});
    assertMalformed(ReleaseFiles.tar(extra, null), "does not belong");

    Map<String, byte[]> noManifest = new LinkedHashMap<>();
    noManifest.put("lib/a.jar", new byte[] {1});
    assertMalformed(ReleaseFiles.tar(noManifest, null), "no release.json");

    TarArchiveEntry fifo = new TarArchiveEntry("lib/pipe", TarArchiveEntry.LF_FIFO);
    assertMalformed(ReleaseFiles.tar(base, fifo), "not a regular file");

    assertMalformed("not gzip at all".getBytes(StandardCharsets.UTF_8), "gzip");
  }

  private void assertMalformed(byte[] file, String why) throws Exception {
    AgentRelease sig = ReleaseFiles.sign(trusted, "0.2.0", "amd64", file);
    assertThatThrownBy(() -> push(sig, file))
        .satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.AGENT_RELEASE_MALFORMED))
        .hasMessageContaining(why);
    assertThat(releases.list()).isEmpty();
    assertThat(artifacts.list()).isEmpty();
  }

  @Test
  void tooManyEntriesAreRefused() throws Exception {
    Map<String, byte[]> files = new LinkedHashMap<>();
    files.put("release.json", ReleaseFiles.manifest("0.2.0", "amd64"));
    for (int i = 0; i <= ReleaseArchive.MAX_ENTRIES; i++) {
      files.put("lib/j" + i + ".jar", new byte[0]);
    }
    assertMalformed(ReleaseFiles.tar(files, null), "more than 2000 entries");
  }

  @Test
  void signaturesThatAreNoneAreRefused() {
    assertThatThrownBy(() -> AgentReleases.parseSignature(null))
        .satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.AGENT_RELEASE_SIGNATURE_INVALID))
        .hasMessageContaining("agent-releases sign");
    assertThatThrownBy(() -> AgentReleases.parseSignature("%%%"))
        .hasMessageContaining("neither JSON nor base64");
    assertThatThrownBy(() -> AgentReleases.parseSignature("{\"version\":\"1\"}"))
        .hasMessageContaining("lacks a field");
  }

  @Test
  void aReleaseInUseIsNotDeletedAndAnUnusedOneGoesWithItsArtifact() throws Exception {
    byte[] amd = ReleaseFiles.release("0.2.0", "amd64");
    byte[] arm = ReleaseFiles.release("0.2.0", "aarch64");
    push(ReleaseFiles.sign(trusted, "0.2.0", "amd64", amd), amd);
    push(ReleaseFiles.sign(trusted, "0.2.0", "aarch64", arm), arm);
    used.add("0.2.0/amd64");
    assertThatThrownBy(() -> releases.delete("0.2.0", Optional.empty(), "op"))
        .satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.AGENT_RELEASE_IN_USE))
        .hasMessageContaining("rollout r-1");
    assertThat(releases.version("0.2.0")).hasSize(2);
    releases.delete("0.2.0", Optional.of("aarch64"), "op");
    assertThat(releases.version("0.2.0"))
        .extracting(AgentReleases.Release::arch)
        .containsExactly("amd64");
    assertThat(artifacts.list()).hasSize(1);
    assertThatThrownBy(() -> releases.delete("0.9.9", Optional.empty(), "op"))
        .satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.AGENT_RELEASE_NOT_FOUND));
    used.clear();
    releases.delete("0.2.0", Optional.empty(), "op");
    assertThat(releases.list()).isEmpty();
    assertThat(artifacts.list()).isEmpty();
  }

  @Test
  void keysComeFromTheDirectoryAndExtraFilesAndBadOnesAreNamed() throws Exception {
    KeyPair extra = ReleaseFiles.key();
    Path extraFile = tmp.resolve("extra.pub");
    Files.writeString(extraFile, Signatures.publicKeyPem(extra.getPublic()));
    ReleaseKeys keys = ReleaseKeys.load(tmp.resolve("data"), List.of(extraFile));
    assertThat(keys.size()).isEqualTo(2);
    assertThat(keys.key(Signatures.keyId(extra.getPublic()))).contains(extra.getPublic());
    Path bad = tmp.resolve("bad.pub");
    Files.writeString(bad, "not a key");
    assertThatThrownBy(() -> ReleaseKeys.load(tmp.resolve("data"), List.of(bad)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("bad.pub")
        .hasMessageContaining("keygen");
    assertThatThrownBy(() -> ReleaseKeys.load(tmp.resolve("data"), List.of(tmp.resolve("no.pub"))))
        .hasMessageContaining("does not exist");
    // An empty data directory trusts nothing, and says so when a push comes.
    assertThat(ReleaseKeys.load(tmp.resolve("empty"), List.of()).size()).isZero();
  }

  @Test
  void slotReportsAreStoredOffTheCallersThreadAndFailedUpdatesBecomeEvents() throws Exception {
    List<String> events = new CopyOnWriteArrayList<>();
    Clock clock = Clock.fixed(Instant.parse("2026-12-01T10:00:00Z"), ZoneOffset.UTC);
    try (AgentSlotReports reports =
        new AgentSlotReports(
            db.jdbi(),
            clock,
            (d, at, kind, msg) -> events.add(d + " " + kind + " " + msg),
            List.of())) {
      Instant at = Instant.parse("2026-12-01T09:59:00Z");
      reports.report(
          "dev-1",
          new AgentMessage.AgentSlots(
              "a",
              "0.1.0",
              "0.2.0",
              new AgentMessage.AgentUpdate(
                  "0.2.0", "rolled-back", "crashed at start", 10, 10, at)));
      reports.report("dev-2", new AgentMessage.AgentSlots("b", "0.1.0", "0.2.0", null));
      await().atMost(Duration.ofSeconds(10)).until(() -> reports.all().size() == 2);
      AgentSlotReports.Slots one = reports.of("dev-1").orElseThrow();
      assertThat(one.activeVersion()).isEqualTo("0.1.0");
      assertThat(one.updatePhase()).isEqualTo("rolled-back");
      assertThat(one.updateReason()).isEqualTo("crashed at start");
      assertThat(one.updateAt()).isEqualTo(at);
      assertThat(reports.of("dev-2").orElseThrow().activeVersion()).isEqualTo("0.2.0");
      await().atMost(Duration.ofSeconds(10)).until(() -> events.size() == 1);
      assertThat(events.get(0))
          .isEqualTo(
              "dev-1 agent-update-rolled-back agent update to 0.2.0 rolled back: crashed at start");
      // The same report again is no new event; a report from a restarted controller reads them.
      reports.report(
          "dev-1",
          new AgentMessage.AgentSlots(
              "a",
              "0.1.0",
              "0.2.0",
              new AgentMessage.AgentUpdate(
                  "0.2.0", "rolled-back", "crashed at start", 10, 10, at)));
      try (AgentSlotReports again =
          new AgentSlotReports(db.jdbi(), clock, AgentSlotReports.UpdateEvents.NONE, List.of())) {
        assertThat(again.all()).containsOnlyKeys("dev-1", "dev-2");
      }
      assertThat(events).hasSize(1);
      // Reports out of shape are refused on the caller's thread.
      assertThatThrownBy(
              () -> reports.report("dev-3", new AgentMessage.AgentSlots("c", null, null, null)))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(
              () ->
                  reports.report(
                      "dev-3",
                      new AgentMessage.AgentSlots(
                          "a",
                          "0.1.0",
                          null,
                          new AgentMessage.AgentUpdate("0.2.0", "exploded", null, 0, 0, at))))
          .hasMessageContaining("unknown update phase");
    }
  }

  @Test
  void aDeviceIsJudgedFromItsSlotsAgainstTheTarget() {
    Instant at = Instant.parse("2026-12-01T09:59:00Z");
    var confirmed =
        new AgentSlotReports.Slots(
            "d", "b", "0.1.0", "0.2.0", "0.2.0", "confirmed", null, 10L, 10L, at, at);
    assertThat(AgentTargets.report(confirmed, "0.2.0").running()).isEqualTo("0.2.0");
    assertThat(AgentTargets.report(confirmed, "0.2.0").phase()).isEqualTo("READY");
    var trial =
        new AgentSlotReports.Slots(
            "d", "b", "0.1.0", "0.2.0", "0.2.0", "trial", null, 10L, 10L, at, at);
    assertThat(AgentTargets.report(trial, "0.2.0").phase()).isEqualTo("TRIAL");
    var rolledBack =
        new AgentSlotReports.Slots(
            "d", "a", "0.1.0", "0.2.0", "0.2.0", "rolled-back", "no connection", 10L, 10L, at, at);
    var failed = AgentTargets.report(rolledBack, "0.2.0");
    assertThat(failed.phase()).isEqualTo("FAILED");
    assertThat(failed.running()).isEqualTo("0.2.0");
    assertThat(failed.reason()).isEqualTo("rolled back: no connection");
    // Against the version it returns to on a rollback, the same device runs it for good.
    assertThat(AgentTargets.report(rolledBack, "0.1.0").running()).isEqualTo("0.1.0");
    assertThat(AgentTargets.report(rolledBack, "0.1.0").phase()).isEqualTo("READY");
    var noSlots =
        new AgentSlotReports.Slots(
            "d", null, null, null, "0.2.0", "refused", "not from slots", 0L, 0L, at, at);
    assertThat(AgentTargets.report(noSlots, "0.2.0").phase()).isEqualTo("FAILED");
  }

  private AgentRelease section(
      AgentTargets targets,
      String device,
      String arch,
      Map<String, String> tags,
      AgentRelease previous) {
    try (Handle h = db.jdbi().open()) {
      return targets.sectionFor(h, device, facts(arch), tags, () -> previous);
    }
  }

  private static DeviceFacts facts(String arch) {
    return new DeviceFacts(
        "s1", "h1", List.of(), arch, 2, 1L << 30, 1L << 30, "linux", "x", "0.1.0", false, false);
  }

  @Test
  void targetsTellEachDeviceTheReleaseForItsArchitecture() throws Exception {
    byte[] amd = ReleaseFiles.release("0.2.0", "amd64");
    AgentRelease sig = ReleaseFiles.sign(trusted, "0.2.0", "amd64", amd);
    push(sig, amd);
    Map<String, ReleaseGate.Decision> decisions = new ConcurrentHashMap<>();
    ReleaseGate gate =
        (h, id, apps) ->
            decisions.containsKey(id) ? Map.of(AgentTargets.APP, decisions.get(id)) : Map.of();
    Clock clock = Clock.systemUTC();
    try (AgentSlotReports slots =
        new AgentSlotReports(db.jdbi(), clock, AgentSlotReports.UpdateEvents.NONE, List.of())) {
      AgentTargets targets = new AgentTargets(db.jdbi(), releases, slots, gate);
      assertThat(targets.apps()).isEmpty();
      assertThat(AgentTargets.userOf(db.jdbi(), "0.2.0")).isEmpty();
      db.jdbi()
          .useTransaction(
              h -> targets.record(h, "0.2.0", Selector.parse("site=lab"), "ro-1", "op", 1));
      assertThat(targets.apps())
          .singleElement()
          .satisfies(a -> assertThat(a.revision()).isEqualTo("0.2.0"));
      Map<String, String> lab = Map.of("site", "lab");
      assertThat(section(targets, "d1", "amd64", lab, null)).isEqualTo(sig);
      // No release for its architecture, or outside the target: told nothing.
      assertThat(section(targets, "d1", "aarch64", lab, null)).isNull();
      assertThat(section(targets, "d1", "amd64", Map.of("site", "shop"), null)).isNull();
      // Held back: what it was told before; taken out: nothing.
      decisions.put("d2", ReleaseGate.KEEP);
      AgentRelease before = new AgentRelease("0.1.0", "amd64", sig.digest(), 1, "k", "s");
      assertThat(section(targets, "d2", "amd64", lab, before)).isEqualTo(before);
      decisions.put("d3", ReleaseGate.ABSENT);
      assertThat(section(targets, "d3", "amd64", lab, before)).isNull();
      assertThat(AgentTargets.userOf(db.jdbi(), "0.2.0"))
          .hasValueSatisfying(u -> assertThat(u).contains("ro-1"));
      // A restarted controller reads the latest target.
      AgentTargets reread = new AgentTargets(db.jdbi(), releases, slots, gate);
      assertThat(reread.current())
          .hasValueSatisfying(t -> assertThat(t.selector()).isEqualTo("site=lab"));
    }
  }
}
