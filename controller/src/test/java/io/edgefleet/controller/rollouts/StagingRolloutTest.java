package io.edgefleet.controller.rollouts;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.desired.AgentSections;
import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.controller.desired.AppStatusService;
import io.edgefleet.controller.desired.BundleStore;
import io.edgefleet.controller.desired.ClusterSections;
import io.edgefleet.controller.desired.DesiredStateEngine;
import io.edgefleet.controller.desired.SecretTargets;
import io.edgefleet.controller.desired.StageArtifacts;
import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.TestDevices;
import io.edgefleet.controller.downloads.ArtifactReports;
import io.edgefleet.controller.downloads.DownloadPolicies;
import io.edgefleet.controller.downloads.StageProgress;
import io.edgefleet.controller.gitops.GitOps;
import io.edgefleet.controller.health.TestClock;
import io.edgefleet.controller.pki.SigningKeys;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Fingerprints;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * "Download early, switch in the window": a rollout of a container app whose new revision uses
 * other artifacts tells the devices it holds back to stage them, and releases each device only once
 * it reports holding all of them. Real SQLite, the real desired-state engine and artifact reports,
 * advanced by {@code tick(now)}.
 */
class StagingRolloutTest {
  static final String APP = "pos";
  static final Instant T0 = Instant.parse("2026-11-23T01:00:00Z");

  static final ArtifactRef IMAGE_V1 = artifact("image-v1", 30 << 20);
  static final ArtifactRef IMAGE_V2 = artifact("image-v2", 60 << 20);
  static final ArtifactRef DISK_V2 = artifact("disk-v2", 40 << 20);

  @TempDir Path dir;
  Database db;
  DesiredStateEngine desired;
  RolloutEngine rollouts;
  ArtifactReports reports;
  AppStatusService status;
  DownloadPolicies policies;
  final TestClock clock = new TestClock(T0);
  final RolloutGate gate = new RolloutGate();
  final DeviceStore store = new DeviceStore();
  final AtomicReference<String> revision = new AtomicReference<>("v1");
  final List<String> devices = new ArrayList<>();

  /** The artifacts each revision's workloads use, as the renderer reports them. */
  final Map<String, List<ArtifactRef>> artifacts =
      Map.of("v1", List.of(IMAGE_V1), "v2", List.of(IMAGE_V2, DISK_V2), "v3", List.of());

  final AppCatalog catalog =
      new AppCatalog() {
        @Override
        public List<App> apps() {
          return List.of(new App(APP, "catalog", revision.get(), tags -> true, true));
        }

        @Override
        public Rendered render(App app, Map<String, String> tags, String kubeVersion) {
          List<ArtifactRef> used = artifacts.get(app.revision());
          StringBuilder yaml =
              new StringBuilder("apiVersion: edgefleet.io/v1\nkind: Container\n# ")
                  .append(app.revision())
                  .append('\n');
          used.forEach(a -> yaml.append("# image: ").append(a.digest()).append('\n'));
          String text = yaml.toString();
          return new Rendered(
              text,
              Fingerprints.sha256(text.getBytes(StandardCharsets.UTF_8)),
              used.isEmpty() ? null : DeviceFacts.RUNTIME_CONTAINER,
              used);
        }
      };

  @BeforeEach
  void open() throws Exception {
    db = Database.open(Database.sqliteUrl(dir), null, null);
    AuditLog audit = new AuditLog(db.jdbi(), clock);
    policies =
        new DownloadPolicies(db.jdbi(), clock, audit, () -> devices.forEach(this::recompute));
    desired =
        new DesiredStateEngine(
            db.jdbi(),
            clock,
            store,
            new BundleStore(db.jdbi(), clock),
            SigningKeys.open(dir.resolve("pki"), clock),
            catalog,
            SecretTargets.NONE,
            ClusterSections.NONE,
            AgentSections.NONE,
            policies::sectionFor,
            gate,
            (id, nudge) -> {});
    reports = new ArtifactReports(db.jdbi(), clock, List.of());
    status =
        new AppStatusService(
            db.jdbi(),
            clock,
            id -> DeviceStatus.ONLINE,
            (id, required) -> StageProgress.of(required, reports.of(id)).describe());
    rollouts =
        new RolloutEngine(
            db.jdbi(),
            clock,
            gate,
            catalog::apps,
            id -> DeviceStatus.ONLINE,
            new RolloutEngine.Git(Map::of, GitOps::sameContent),
            SubjectReports.NONE,
            (h, app, rev, ids) -> {
              Map<String, StageProgress> out = new HashMap<>();
              StageArtifacts.staged(h, app, rev, ids)
                  .forEach((id, req) -> out.put(id, StageProgress.of(req, reports.of(id))));
              return out;
            },
            desired::recompute,
            audit);
  }

  @AfterEach
  void close() {
    reports.close();
    desired.close();
    db.close();
  }

  @Test
  void aDeviceIsReleasedOnlyOnceItReportsEveryArtifactOfTheNewRevisionHeld() {
    fleet(2);
    String first = start("v1", "");
    // The first revision is staged too: nobody is released before holding its image.
    assertThat(document(devices.get(0)).stage()).containsExactly(IMAGE_V1);
    tick(T0.plusSeconds(1));
    assertThat(deviceStates(first)).containsOnly(RolloutEngine.DeviceState.STAGING);
    holds(devices.get(0), IMAGE_V1);
    holds(devices.get(1), IMAGE_V1);
    tick(T0.plusSeconds(2));
    reportAll("v1");
    tick(T0.plusSeconds(3));
    assertThat(view(first).state()).isEqualTo(RolloutEngine.State.SUCCEEDED);
    DesiredState running = document(devices.get(0));
    assertThat(running.stage()).isEmpty();
    assertThat(running.apps().getFirst().artifacts()).containsExactly(IMAGE_V1);
    assertThat(running.apps().getFirst().runtime()).isEqualTo(DeviceFacts.RUNTIME_CONTAINER);

    String id = start("v2", "");
    String a = devices.get(0);
    String b = devices.get(1);
    // Held back, each device keeps v1 and its image, and is told to stage v2's artifacts.
    DesiredState held = document(a);
    assertThat(held.apps().getFirst().revision()).isEqualTo("v1");
    assertThat(held.apps().getFirst().artifacts()).containsExactly(IMAGE_V1);
    assertThat(held.stage()).containsExactly(IMAGE_V2, DISK_V2);
    assertFingerprintsFitTheirColumn();
    tick(T0.plusSeconds(10));
    assertThat(desiredRevisions()).containsOnly(Map.entry(a, "v1"), Map.entry(b, "v1"));
    RolloutEngine.View staging = view(id);
    assertThat(deviceStates(id)).containsOnly(RolloutEngine.DeviceState.STAGING);
    assertThat(staging.counts().staging()).isEqualTo(2);
    assertThat(staging.counts().failed()).isZero();
    assertThat(staging.reason()).contains("2 staging");

    // A holds one of two and fetches the other; it says why it waits.
    reports.report(
        a,
        new AgentMessage.ArtifactReport(
            List.of(IMAGE_V1.digest(), IMAGE_V2.digest()),
            List.of(new AgentMessage.ArtifactProgress(DISK_V2.digest(), DISK_V2.size(), 10 << 20)),
            "outside the download windows (22:00-06:00 Europe/Berlin)"));
    tick(T0.plusSeconds(11));
    assertThat(desiredRevisions()).containsEntry(a, "v1");
    RolloutEngine.DeviceView av = deviceView(id, a);
    assertThat(av.state()).isEqualTo(RolloutEngine.DeviceState.STAGING);
    assertThat(av.reason())
        .isEqualTo(
            "staging 70 MiB of 100 MiB (1 of 2 artifacts held): outside the download windows"
                + " (22:00-06:00 Europe/Berlin)");
    assertThat(status.byApp(APP))
        .filteredOn(d -> d.deviceId().equals(a))
        .singleElement()
        .satisfies(d -> assertThat(d.staging()).isEqualTo("v2 " + av.reason()));

    // Once A holds both it is released; B, still staging, is not.
    holds(a, IMAGE_V1, IMAGE_V2, DISK_V2);
    tick(T0.plusSeconds(12));
    assertThat(desiredRevisions()).containsEntry(a, "v2").containsEntry(b, "v1");
    DesiredState released = document(a);
    assertThat(released.stage()).isEmpty();
    assertThat(released.apps().getFirst().artifacts()).containsExactly(IMAGE_V2, DISK_V2);
    assertThat(document(b).stage()).containsExactly(IMAGE_V2, DISK_V2);
    report(a, "v2");
    tick(T0.plusSeconds(13));
    assertThat(view(id).state()).isEqualTo(RolloutEngine.State.PROGRESSING);

    holds(b, IMAGE_V2, DISK_V2);
    tick(T0.plusSeconds(14));
    assertThat(desiredRevisions()).containsEntry(b, "v2");
    report(b, "v2");
    tick(T0.plusSeconds(15));
    assertThat(view(id).state()).isEqualTo(RolloutEngine.State.SUCCEEDED);
  }

  @Test
  void aDeviceStillStagingPastTheTimeoutIsPendingTheWaveGoesOnAndItIsReleasedOnceItHoldsThem() {
    fleet(3);
    converge();
    String id = start("v2", "canary: 2\nwaves: [100%]\nstagingTimeout: 1h\n");
    String a = devices.get(0);
    String b = devices.get(1);
    String c = devices.get(2);
    holds(a, IMAGE_V2, DISK_V2);
    holds(c, IMAGE_V2, DISK_V2);
    tick(T0.plusSeconds(10));
    assertThat(desiredRevisions()).containsEntry(a, "v2").containsEntry(b, "v1");
    report(a, "v2");
    tick(T0.plusSeconds(20));
    // The canary waits for B, within the staging timeout: neither failed nor done.
    assertThat(view(id).batches().getFirst().state()).isEqualTo(RolloutEngine.BatchState.UPDATING);
    assertThat(deviceView(id, b).state()).isEqualTo(RolloutEngine.DeviceState.STAGING);

    Instant later = T0.plusSeconds(10).plus(java.time.Duration.ofMinutes(61));
    tick(later);
    RolloutEngine.DeviceView bv = deviceView(id, b);
    assertThat(bv.state()).isEqualTo(RolloutEngine.DeviceState.PENDING_STAGING);
    assertThat(bv.reason())
        .startsWith("staging did not finish within 1h (staging 0 B of 100 MiB")
        .endsWith("released once its artifacts are on it");
    RolloutEngine.View afterTimeout = view(id);
    assertThat(afterTimeout.batches().getFirst().state())
        .isEqualTo(RolloutEngine.BatchState.SUCCEEDED);
    assertThat(afterTimeout.batches().getFirst().reason())
        .contains("went on without 1 device(s) still staging");
    assertThat(afterTimeout.counts().failed()).isZero();
    // The wave: C holds its artifacts and is released.
    tick(later.plusSeconds(1));
    assertThat(desiredRevisions()).containsEntry(c, "v2").containsEntry(b, "v1");
    report(c, "v2");
    tick(later.plusSeconds(2));
    RolloutEngine.View waiting = view(id);
    assertThat(waiting.state()).isEqualTo(RolloutEngine.State.PROGRESSING);
    assertThat(waiting.reason()).contains("1 device(s) still staging");

    // B gets there at last: released, and the rollout is done.
    holds(b, IMAGE_V2, DISK_V2);
    tick(later.plusSeconds(3));
    assertThat(desiredRevisions()).containsEntry(b, "v2");
    assertThat(view(id).state()).isEqualTo(RolloutEngine.State.SUCCEEDED);
  }

  @Test
  void aRevisionWithoutArtifactsIsNotStagedAndReleasesAsBefore() {
    fleet(1);
    converge();
    String id = start("v3", "");
    assertThat(document(devices.getFirst()).stage()).isEmpty();
    tick(T0.plusSeconds(10));
    assertThat(desiredRevisions()).containsEntry(devices.getFirst(), "v3");
    assertThat(deviceStates(id)).containsOnly(RolloutEngine.DeviceState.UPDATING);
  }

  @Test
  void theApplyingDownloadPolicyIsInEachDevicesDocumentAndAChangeReissuesOnlyTheDevicesItAffects() {
    devices.add(device("dev-ship", Map.of("link", "satellite")));
    devices.add(device("dev-shop", Map.of("link", "fiber")));
    devices.forEach(this::recompute);
    long ship = desired.generation("dev-ship");
    long shop = desired.generation("dev-shop");
    assertThat(document("dev-ship").downloads()).isNull();

    policies.put(
        "satellite",
        new DownloadPolicies.Request(
            "link=satellite", 200L << 20, List.of("22:00-06:00"), "Europe/Berlin", 10, null),
        "alice");
    assertThat(document("dev-ship").downloads())
        .isEqualTo(
            new DesiredState.DownloadPolicy(200L << 20, List.of("22:00-06:00"), "Europe/Berlin"));
    assertThat(desired.generation("dev-ship")).isEqualTo(ship + 1);
    assertThat(desired.generation("dev-shop")).isEqualTo(shop);
    assertThat(document("dev-shop").downloads()).isNull();
    assertFingerprintsFitTheirColumn();

    policies.delete("satellite", "alice");
    assertThat(document("dev-ship").downloads()).isNull();
    assertThat(desired.generation("dev-shop")).isEqualTo(shop);
  }

  // ------------------------------------------------------------------ helpers

  /**
   * Every stored document fingerprint fits {@code device_desired.fingerprint} (80 characters),
   * which PostgreSQL enforces and SQLite does not: staging and download sections must not make it
   * longer.
   */
  private void assertFingerprintsFitTheirColumn() {
    List<String> fingerprints =
        db.jdbi()
            .withHandle(
                h ->
                    h.createQuery("SELECT fingerprint FROM device_desired")
                        .mapTo(String.class)
                        .list());
    assertThat(fingerprints)
        .isNotEmpty()
        .allSatisfy(f -> assertThat(f).hasSizeLessThanOrEqualTo(80));
  }

  /** Moves the controller's clock to {@code now} and ticks there, as the controller does. */
  private void tick(Instant now) {
    clock.set(now);
    rollouts.tick(now);
  }

  private void recompute(String id) {
    desired.recompute(id);
  }

  private void converge() {
    devices.forEach(d -> holds(d, IMAGE_V1));
    String id = start("v1", "");
    tick(T0.plusSeconds(1));
    reportAll("v1");
    tick(T0.plusSeconds(2));
    assertThat(view(id).state()).isEqualTo(RolloutEngine.State.SUCCEEDED);
  }

  private void holds(String device, ArtifactRef... held) {
    List<String> digests = new ArrayList<>();
    for (ArtifactRef a : held) {
      digests.add(a.digest());
    }
    reports.report(device, new AgentMessage.ArtifactReport(digests, List.of(), null));
  }

  private String start(String rev, String policy) {
    revision.set(rev);
    String id =
        rollouts.transaction(
            h ->
                rollouts.start(
                    h,
                    new RolloutEngine.Start(
                        "catalog/" + APP,
                        APP,
                        "catalog",
                        Optional.empty(),
                        rev,
                        RolloutPolicy.parse(policy),
                        tags -> true,
                        "test")));
    devices.forEach(this::recompute);
    return id;
  }

  private RolloutEngine.View view(String id) {
    return rollouts.view(id, true);
  }

  private List<RolloutEngine.DeviceState> deviceStates(String id) {
    return view(id).devices().stream().map(RolloutEngine.DeviceView::state).toList();
  }

  private RolloutEngine.DeviceView deviceView(String id, String device) {
    return view(id).devices().stream()
        .filter(d -> d.deviceId().equals(device))
        .findFirst()
        .orElseThrow();
  }

  private void reportAll(String rev) {
    devices.forEach(d -> report(d, rev));
  }

  private void report(String device, String rev) {
    status.report(
        device,
        new AgentMessage.AppReport(1, List.of(new AppState(APP, rev, AppState.Phase.READY, null))));
  }

  private DesiredState document(String device) {
    String payload = desired.newerThan(device, 0).orElseThrow().payload();
    try {
      return Json.mapper().readValue(Base64.getDecoder().decode(payload), DesiredState.class);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private Map<String, String> desiredRevisions() {
    Map<String, String> out = new LinkedHashMap<>();
    db.jdbi()
        .useHandle(
            h ->
                h.createQuery(
                        "SELECT device_id, desired_revision FROM device_apps WHERE app = :a ORDER"
                            + " BY device_id")
                    .bind("a", APP)
                    .map((rs, c) -> Map.entry(rs.getString(1), rs.getString(2)))
                    .forEach(e -> out.put(e.getKey(), e.getValue())));
    return out;
  }

  private void fleet(int n) {
    for (int i = 0; i < n; i++) {
      devices.add(device(String.format("dev-%02d", devices.size()), Map.of()));
    }
  }

  /**
   * A device with Kubernetes and a container engine: the app's revisions are Kubernetes objects or
   * containers.
   */
  private String device(String id, Map<String, String> tags) {
    DeviceFacts facts =
        new DeviceFacts("h", null, List.of(), "amd64", 1, 1, 1, "Linux", "6", "t", false, false)
            .withRuntimes(List.of(DeviceFacts.RUNTIME_KUBERNETES, DeviceFacts.RUNTIME_CONTAINER));
    db.jdbi()
        .useHandle(
            h ->
                new DeviceStore()
                    .insert(h, TestDevices.active(id, tags, facts, T0), T0.toEpochMilli()));
    return id;
  }

  private static ArtifactRef artifact(String name, long size) {
    return new ArtifactRef(Fingerprints.sha256(name.getBytes(StandardCharsets.UTF_8)), size);
  }
}
