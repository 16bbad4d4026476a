package io.edgefleet.controller.desired;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.devices.DeviceRecord;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.TestDevices;
import io.edgefleet.controller.pki.SigningKeys;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Gzip;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SignedDesiredState;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Signatures;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The engine against a real SQLite database and a catalog defined by the test. */
class DesiredStateEngineTest {
  @TempDir Path dir;
  Database db;
  DesiredStateEngine engine;
  SigningKeys signingKeys;
  java.security.PublicKey signing;
  final List<AppCatalog.App> apps = new CopyOnWriteArrayList<>();
  final List<String> nudges = new CopyOnWriteArrayList<>();
  final List<ControllerMessage.Nudge> sent = new CopyOnWriteArrayList<>();
  final DeviceStore devices = new DeviceStore();
  String failRenderFor;
  boolean hugeRender;

  /** Rendered content by app name, for apps whose content must not depend on the revision. */
  final Map<String, String> content = new java.util.concurrent.ConcurrentHashMap<>();

  final AppCatalog catalog =
      new AppCatalog() {
        @Override
        public List<App> apps() {
          return List.copyOf(apps);
        }

        @Override
        public Rendered render(App app, Map<String, String> tags, String kubeVersion) {
          if (app.name().equals(failRenderFor)) {
            throw new IllegalArgumentException("tag 'site' is missing");
          }
          String fixed = content.get(app.name());
          if (fixed != null) {
            return new Rendered(fixed, Fingerprints.sha256(fixed.getBytes(StandardCharsets.UTF_8)));
          }
          String yaml =
              "# "
                  + app.name()
                  + "@"
                  + app.revision()
                  + " for "
                  + tags.getOrDefault("site", "-")
                  + (kubeVersion == null ? "" : " on " + kubeVersion)
                  + "\n"
                  + (hugeRender ? randomComment(64 * 1024) : "");
          return new Rendered(yaml, Fingerprints.sha256(yaml.getBytes(StandardCharsets.UTF_8)));
        }
      };

  @BeforeEach
  void open() throws Exception {
    db = Database.open(Database.sqliteUrl(dir), null, null);
    signingKeys = SigningKeys.open(dir.resolve("pki"), Clock.systemUTC());
    signing = signingKeys.ring().current().publicKey();
    engine =
        new DesiredStateEngine(
            db.jdbi(),
            Clock.systemUTC(),
            devices,
            new BundleStore(db.jdbi(), Clock.systemUTC()),
            signingKeys,
            catalog,
            ReleaseGate.OPEN,
            (id, nudge) -> {
              nudges.add(id + "@" + nudge.generation());
              sent.add(nudge);
            });
    device("dev-1", Map.of("site", "store-17", "role", "pos"));
  }

  /** Incompressible text: its gzip is larger than an inline bundle may be. */
  static String randomComment(int bytes) {
    byte[] raw = new byte[bytes];
    new java.util.Random(7).nextBytes(raw);
    return "# " + Base64.getEncoder().encodeToString(raw) + "\n";
  }

  @AfterEach
  void close() {
    engine.close();
    db.close();
  }

  @Test
  void generationMovesOnlyWhenWhatTheDeviceShouldRunChanges() {
    apps.add(app("web", "r1", "role", "pos"));
    assertThat(engine.recompute("dev-1")).isEqualTo(1);
    assertThat(engine.recompute("dev-1")).as("nothing changed").isEqualTo(1);
    apps.set(0, app("web", "r2", "role", "pos"));
    assertThat(engine.recompute("dev-1")).isEqualTo(2);
    assertThat(nudges).containsExactly("dev-1@1", "dev-1@2");

    DesiredState state = decode(engine.newerThan("dev-1", 0).orElseThrow());
    assertThat(state.generation()).isEqualTo(2);
    assertThat(state.apps())
        .singleElement()
        .satisfies(a -> assertThat(a.revision()).isEqualTo("r2"));
    assertThat(engine.newerThan("dev-1", 2)).as("device is up to date").isEmpty();
  }

  @Test
  void theNudgeCarriesTheSignedDocumentAndOnlyNewSmallBundles() throws Exception {
    apps.add(app("web", "r1", "role", "pos"));
    apps.add(app("db", "r1", "role", "pos"));
    engine.recompute("dev-1");
    var first = sent.getLast();
    assertThat(first.desired()).isEqualTo(engine.newerThan("dev-1", 0).orElseThrow());
    DesiredState state = decode(first.desired());
    assertThat(first.bundles().keySet())
        .containsExactlyInAnyOrderElementsOf(
            state.apps().stream().map(DesiredState.DesiredApp::bundle).toList());
    for (var e : first.bundles().entrySet()) {
      byte[] content = Gzip.inflate(Base64.getDecoder().decode(e.getValue()), 1 << 20);
      assertThat(Fingerprints.sha256(content)).isEqualTo(e.getKey());
    }

    apps.set(0, app("web", "r2", "role", "pos"));
    engine.recompute("dev-1");
    var second = sent.getLast();
    String web =
        decode(second.desired()).apps().stream()
            .filter(a -> a.name().equals("web"))
            .findFirst()
            .orElseThrow()
            .bundle();
    assertThat(second.bundles().keySet()).as("only the changed app's bundle").containsExactly(web);
    assertThat(
            Signatures.verify(
                signing,
                Base64.getDecoder().decode(second.desired().payload()),
                second.desired().signature()))
        .isTrue();
  }

  @Test
  void bundlesTooLargeToGoInlineAreLeftForTheDeviceToFetch() {
    hugeRender = true;
    apps.add(app("web", "r1", "role", "pos"));
    engine.recompute("dev-1");
    assertThat(sent.getLast().desired()).isNotNull();
    assertThat(sent.getLast().bundles()).isEmpty();
  }

  @Test
  void appsAreRenderedForTheKubernetesVersionTheDeviceReports() throws Exception {
    apps.add(app("web", "r1", "role", "pos"));
    engine.recompute("dev-1");
    assertThat(bundleOf("web")).doesNotContain(" on v");

    // The device's cluster is reported (and later upgraded): the same app renders anew for it.
    db.jdbi()
        .useHandle(
            h -> {
              var facts = devices.byId(h, "dev-1").orElseThrow().facts();
              devices.setFacts(h, "dev-1", facts.withKubernetes("v1.28.3", List.of("v1")), 0);
            });
    assertThat(engine.recompute("dev-1")).isEqualTo(2);
    assertThat(bundleOf("web")).isEqualTo("# web@r1 for store-17 on v1.28.3\n");
  }

  private String bundleOf(String app) throws IOException {
    String digest =
        decode(engine.newerThan("dev-1", 0).orElseThrow()).apps().stream()
            .filter(a -> a.name().equals(app))
            .findFirst()
            .orElseThrow()
            .bundle();
    return new String(
        Gzip.inflate(Base64.getDecoder().decode(sent.getLast().bundles().get(digest)), 1 << 20),
        StandardCharsets.UTF_8);
  }

  @Test
  void aRecomputationThatChangesNothingWritesNothing() {
    apps.add(app("web", "r1", "role", "pos"));
    apps.add(app("db", "r1", "role", "pos"));
    failRenderFor = "db";
    engine.recompute("dev-1");
    long before = rowsChanged();
    engine.recompute("dev-1");
    engine.recompute("dev-1");
    assertThat(rowsChanged()).as("the periodic recomputation writes no row").isEqualTo(before);

    failRenderFor = null;
    engine.recompute("dev-1");
    assertThat(rowsChanged()).as("a real change is written").isGreaterThan(before);
    assertThat(decode(engine.newerThan("dev-1", 0).orElseThrow()).apps()).hasSize(2);
  }

  /** Rows inserted, updated or deleted on SQLite's one connection since it opened. */
  long rowsChanged() {
    return db.jdbi()
        .withHandle(h -> h.createQuery("SELECT total_changes()").mapTo(Long.class).one());
  }

  @Test
  void aRequestForEveryDeviceReachesEachOnceAcrossTransactionsOfManyDevices() {
    int n = 150; // more than two transactions' worth
    for (int i = 2; i <= n; i++) {
      device("dev-" + i, Map.of("site", "store-" + i, "role", "pos"));
    }
    device("dev-kiosk", Map.of("site", "store-0", "role", "kiosk"));
    apps.add(app("web", "r1", "role", "pos"));
    engine.requestAll();
    org.awaitility.Awaitility.await()
        .atMost(java.time.Duration.ofSeconds(30))
        .until(() -> nudges.size() >= n + 1);
    assertThat(nudges).doesNotHaveDuplicates().hasSize(n + 1);
    for (int i = 1; i <= n; i++) {
      DesiredState state = decode(engine.newerThan("dev-" + i, 0).orElseThrow());
      assertThat(state.apps())
          .singleElement()
          .satisfies(a -> assertThat(a.revision()).isEqualTo("r1"));
    }
    assertThat(decode(engine.newerThan("dev-kiosk", 0).orElseThrow()).apps()).isEmpty();
    // Each device's own bundle (its site is in it) was stored once and is served.
    for (var nudge : sent) {
      DesiredState state = decode(nudge.desired());
      state
          .apps()
          .forEach(a -> assertThat(engine.references(state.deviceId(), a.bundle())).isTrue());
    }
  }

  @Test
  void documentsAreSignedByTheControllerKey() {
    apps.add(app("web", "r1", "role", "pos"));
    engine.recompute("dev-1");
    SignedDesiredState doc = engine.newerThan("dev-1", 0).orElseThrow();
    byte[] payload = Base64.getDecoder().decode(doc.payload());
    assertThat(Signatures.verify(signing, payload, doc.signature())).isTrue();
    assertThat(engine.references("dev-1", decode(doc).apps().getFirst().bundle())).isTrue();
  }

  @Test
  void onlyMatchingAppsAreDesiredAndTagChangesAddAndPrune() {
    apps.add(app("web", "r1", "role", "pos"));
    apps.add(app("kiosk", "r1", "role", "kiosk"));
    engine.recompute("dev-1");
    assertThat(decode(engine.newerThan("dev-1", 0).orElseThrow()).apps())
        .extracting(DesiredState.DesiredApp::name)
        .containsExactly("web");

    retag("dev-1", Map.of("site", "store-17", "role", "kiosk"));
    engine.recompute("dev-1");
    assertThat(decode(engine.newerThan("dev-1", 0).orElseThrow()).apps())
        .extracting(DesiredState.DesiredApp::name)
        .containsExactly("kiosk");
  }

  @Test
  void anAppThatCannotBeRenderedKeepsItsLastGoodBundle() {
    apps.add(app("web", "r1", "role", "pos"));
    engine.recompute("dev-1");
    String before = decode(engine.newerThan("dev-1", 0).orElseThrow()).apps().getFirst().bundle();

    apps.set(0, app("web", "r2", "role", "pos"));
    failRenderFor = "web";
    engine.recompute("dev-1");
    DesiredState.DesiredApp after =
        decode(engine.newerThan("dev-1", 0).orElseThrow()).apps().getFirst();
    assertThat(after.bundle()).isEqualTo(before);
    assertThat(after.revision()).isEqualTo("r1");
    String error =
        db.jdbi()
            .withHandle(
                h ->
                    h.createQuery("SELECT render_error FROM device_apps WHERE device_id = 'dev-1'")
                        .mapTo(String.class)
                        .one());
    assertThat(error).contains("tag 'site' is missing");
  }

  @Test
  void aDeviceAheadOfARestoredControllerGetsTheContentAboveItsGeneration() {
    apps.add(app("web", "r1", "role", "pos"));
    engine.recompute("dev-1");
    DesiredState reissued = decode(engine.newerThan("dev-1", 41).orElseThrow());
    assertThat(reissued.generation()).isEqualTo(42);
    assertThat(reissued.apps()).extracting(DesiredState.DesiredApp::name).containsExactly("web");
    assertThat(engine.generation("dev-1")).isEqualTo(42);
  }

  @Test
  void aClaimedGenerationBeyondWhatCanBeIssuedIsRefusedAndNothingWraps() {
    apps.add(app("web", "r1", "role", "pos"));
    engine.recompute("dev-1");

    for (long claim : new long[] {Long.MAX_VALUE, DesiredState.MAX_GENERATION + 1}) {
      assertThatThrownBy(() -> engine.newerThan("dev-1", claim))
          .isInstanceOf(ControllerException.class)
          .satisfies(
              e ->
                  assertThat(((ControllerException) e).code())
                      .isEqualTo(ErrorCode.GENERATION_OUT_OF_RANGE))
          .hasMessageContaining(Long.toString(claim));
      assertThat(engine.generation("dev-1")).as("nothing was signed").isEqualTo(1);
    }

    // Up to the largest generation a device is served; beyond it the engine refuses to sign.
    DesiredState top = decode(engine.newerThan("dev-1", DesiredState.MAX_GENERATION - 1).get());
    assertThat(top.generation()).isEqualTo(DesiredState.MAX_GENERATION);
    assertThat(engine.newerThan("dev-1", DesiredState.MAX_GENERATION)).isEmpty();
    apps.add(app("db", "r1", "role", "pos"));
    assertThatThrownBy(() -> engine.recompute("dev-1"))
        .isInstanceOf(ControllerException.class)
        .hasMessageContaining("largest generation");
    assertThat(engine.generation("dev-1")).isEqualTo(DesiredState.MAX_GENERATION);
  }

  @Test
  void aRotationIsAnnouncedWithTheOldKeyAndTheNewKeySignsOnceTheDeviceTrustsIt() {
    apps.add(app("web", "r1", "role", "pos"));
    engine.handOut("dev-1"); // as at enrollment
    engine.recompute("dev-1");
    String k0 = signingKeys.ring().current().id();
    assertThat(signedWith(engine.newerThan("dev-1", 0).orElseThrow())).isEqualTo(k0);

    String k1 = signingKeys.startRotation().id();
    assertThat(engine.recompute("dev-1")).as("the announcement is a new document").isEqualTo(2);
    SignedDesiredState announcing = engine.newerThan("dev-1", 0).orElseThrow();
    assertThat(signedWith(announcing)).isEqualTo(k0);
    assertThat(decode(announcing).signingKeys())
        .extracting(DesiredState.SigningKey::id)
        .containsExactly(k1);
    assertThat(decode(announcing).apps()).extracting(DesiredState.DesiredApp::name).contains("web");

    signingKeys.finishRotation();
    assertThat(engine.recompute("dev-1"))
        .as("the device has not said it trusts k1: nothing changes for it")
        .isEqualTo(2);
    assertThat(engine.keyUse(5).get(k0).dependOn()).isEqualTo(1);
    assertThat(engine.keyUse(5).get(k0).examples()).containsExactly("dev-1");

    engine.trusts("dev-1", List.of(k0, k1, "not-a-key-of-ours"));
    assertThat(engine.recompute("dev-1")).isEqualTo(3);
    SignedDesiredState moved = engine.newerThan("dev-1", 0).orElseThrow();
    assertThat(signedWith(moved)).isEqualTo(k1);
    assertThat(moved.keyId()).isEqualTo(k1);
    assertThat(decode(moved).signingKeys()).isEmpty();
    assertThat(engine.keyUse(5).get(k0).dependOn()).as("nobody depends on k0 any more").isZero();
    assertThat(engine.keyUse(5).get(k1).signs()).isEqualTo(1);

    engine.trusts("dev-1", List.of(k1));
    assertThat(engine.recompute("dev-1")).as("nothing to re-sign").isEqualTo(3);
    assertThat(engine.keyUse(5).get(k0)).as("k0 is unused").isNull();
  }

  @Test
  void aDeviceEnrolledBeforeRotationIsSignedForWithTheKeyOfThatTimeUntilItReports() {
    apps.add(app("web", "r1", "role", "pos"));
    db.jdbi()
        .useHandle(
            h ->
                h.execute(
                    "INSERT INTO device_signing_keys (device_id, key_ids, updated_at)"
                        + " VALUES ('dev-1', '*', 0)"));
    String k0 = signingKeys.ring().current().id();
    signingKeys.startRotation();
    signingKeys.finishRotation();
    engine.recompute("dev-1");
    assertThat(signedWith(engine.newerThan("dev-1", 0).orElseThrow())).isEqualTo(k0);

    // A device enrolled now is handed the current key.
    device("dev-2", Map.of("role", "pos"));
    assertThat(engine.handOut("dev-2").id()).isEqualTo(signingKeys.ring().current().id());
    engine.recompute("dev-2");
    assertThat(signedWith(engine.newerThan("dev-2", 0).orElseThrow()))
        .isEqualTo(signingKeys.ring().current().id());
  }

  /** The id of the key whose signature verifies, checked against every key of the ring. */
  private String signedWith(SignedDesiredState doc) {
    byte[] payload = Base64.getDecoder().decode(doc.payload());
    return signingKeys.ring().keys().stream()
        .filter(k -> Signatures.verify(k.publicKey(), payload, doc.signature()))
        .map(SigningKeys.Key::id)
        .findFirst()
        .orElseThrow();
  }

  @Test
  void aRetiredDeviceLeavesTheAppStatus() {
    apps.add(app("web", "r1", "role", "pos"));
    engine.recompute("dev-1");
    assertThat(rows("dev-1")).isEqualTo(1);
    db.jdbi()
        .useHandle(
            h ->
                devices.setLifecycle(
                    h, "dev-1", DeviceRecord.Lifecycle.DECOMMISSIONED, System.currentTimeMillis()));
    engine.recompute("dev-1");
    assertThat(rows("dev-1")).isZero();
  }

  private int rows(String id) {
    return db.jdbi()
        .withHandle(
            h ->
                h.createQuery("SELECT COUNT(*) FROM device_apps WHERE device_id = :d")
                    .bind("d", id)
                    .mapTo(Integer.class)
                    .one());
  }

  @Test
  void aGitAppUnchangedByACommitKeepsItsEntryAndTheCommitTravelsAsProvenance() {
    String c1 = "1".repeat(40);
    String c2 = "2".repeat(40);
    apps.add(gitApp("web", "sha256:aaaaaaaaaaaa", c1, false));
    apps.add(gitApp("db", "sha256:bbbbbbbbbbbb", c1, false));
    assertThat(engine.recompute("dev-1")).isEqualTo(1);
    DesiredState first = decode(engine.newerThan("dev-1", 0).orElseThrow());

    // The next commit changes db only: web keeps revision, bundle and provenance.
    apps.set(1, gitApp("db", "sha256:cccccccccccc", c2, false));
    assertThat(engine.recompute("dev-1")).isEqualTo(2);
    DesiredState second = decode(engine.newerThan("dev-1", 1).orElseThrow());
    assertThat(entry(second, "web")).isEqualTo(entry(first, "web"));
    assertThat(entry(second, "web").commit()).isEqualTo(c1);
    assertThat(entry(second, "db").revision()).isEqualTo("sha256:cccccccccccc");
    assertThat(entry(second, "db").commit()).isEqualTo(c2);
    assertThat(sent.getLast().bundles()).containsOnlyKeys(entry(second, "db").bundle());
    assertThat(new AppStatusService(db.jdbi(), Clock.systemUTC(), id -> null).byDevice("dev-1"))
        .extracting(AppStatusService.DeviceApp::app, AppStatusService.DeviceApp::desiredCommit)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("db", c2),
            org.assertj.core.groups.Tuple.tuple("web", c1));

    // Another commit that changes neither: nothing to send.
    assertThat(engine.recompute("dev-1")).isEqualTo(2);
  }

  @Test
  void commitCountsComeFromWhatDevicesReport() {
    device("dev-2", Map.of("site", "store-18"));
    device("dev-3", Map.of("site", "store-19"));
    String c1 = "1".repeat(40);
    String c2 = "2".repeat(40);
    apps.add(gitApp("web", "sha256:aaaaaaaaaaaa", c1, false));
    apps.add(gitApp("db", "sha256:bbbbbbbbbbbb", c2, false));
    for (String id : List.of("dev-1", "dev-2", "dev-3")) {
      engine.recompute(id);
    }
    AppStatusService status = new AppStatusService(db.jdbi(), Clock.systemUTC(), id -> null);
    // dev-1 runs both ready; dev-2 failed db (and so still runs web's revision only); dev-3 has
    // reported nothing yet.
    status.report("dev-1", report(state("web", "sha256:aaaaaaaaaaaa", AppState.Phase.READY)));
    status.report("dev-1", report(state("db", "sha256:bbbbbbbbbbbb", AppState.Phase.READY)));
    status.report(
        "dev-2",
        report(
            state("web", "sha256:aaaaaaaaaaaa", AppState.Phase.READY),
            state("db", "sha256:bbbbbbbbbbbb", AppState.Phase.FAILED)));

    assertThat(status.byCommit("fleet"))
        .containsOnly(
            Map.entry(c1, new AppStatusService.CommitDevices(3, 2, 2, 0)),
            Map.entry(c2, new AppStatusService.CommitDevices(3, 2, 1, 1)));
    assertThat(status.byCommit("other")).isEmpty();
  }

  @Test
  void readyIsTheLastRevisionTheDeviceReportedReadyNotOneItFailed() {
    apps.add(gitApp("web", "sha256:aaaaaaaaaaaa", "1".repeat(40), false));
    engine.recompute("dev-1");
    AppStatusService status = new AppStatusService(db.jdbi(), Clock.systemUTC(), id -> null);
    status.report("dev-1", report(state("web", "sha256:aaaaaaaaaaaa", AppState.Phase.READY)));
    apps.set(0, gitApp("web", "sha256:bbbbbbbbbbbb", "2".repeat(40), false));
    engine.recompute("dev-1");
    status.report("dev-1", report(state("web", "sha256:bbbbbbbbbbbb", AppState.Phase.FAILED)));

    AppStatusService.DeviceApp web = status.byApp("web").getFirst();
    assertThat(web.state()).isEqualTo(AppStatusService.State.FAILED);
    assertThat(web.desiredRevision()).isEqualTo("sha256:bbbbbbbbbbbb");
    assertThat(web.readyRevision()).isEqualTo("sha256:aaaaaaaaaaaa");
    assertThat(web.runningRevision()).isEqualTo("sha256:bbbbbbbbbbbb");

    status.report("dev-1", report(state("web", "sha256:bbbbbbbbbbbb", AppState.Phase.READY)));
    assertThat(status.byApp("web").getFirst().readyRevision()).isEqualTo("sha256:bbbbbbbbbbbb");
  }

  private static AgentMessage.AppReport report(AppState... states) {
    return new AgentMessage.AppReport(1, List.of(states), List.of());
  }

  private static AppState state(String app, String revision, AppState.Phase phase) {
    return new AppState(app, revision, phase, phase == AppState.Phase.FAILED ? "crash loop" : null);
  }

  @Test
  void aDeviceGivenACommitAsRevisionKeepsItWhileItsContentIsTheSame() {
    String legacy = "3f2a9c1e".repeat(5);
    content.put("web", "# web, as it was\n");
    content.put("pos", "# pos, as it was\n");
    // As a controller of the previous version issued it: the commit as revision, no provenance.
    apps.add(gitApp("web", legacy, null, false));
    apps.add(gitApp("pos", legacy, null, true));
    assertThat(engine.recompute("dev-1")).isEqualTo(1);

    // The upgraded controller names the same content by its digest. The device's app that follows
    // the source at once keeps its name: no new document for it, nothing to re-apply.
    apps.set(0, gitApp("web", "sha256:aaaaaaaaaaaa", legacy, false));
    apps.set(1, gitApp("pos", "sha256:dddddddddddd", legacy, true));
    assertThat(engine.recompute("dev-1")).isEqualTo(2);
    DesiredState renamed = decode(engine.newerThan("dev-1", 1).orElseThrow());
    assertThat(entry(renamed, "web").revision()).isEqualTo(legacy);
    assertThat(entry(renamed, "web").commit()).isNull();
    // A phased app is judged by the revision devices report: it takes the new name.
    assertThat(entry(renamed, "pos").revision()).isEqualTo("sha256:dddddddddddd");
    apps.remove(1);
    assertThat(engine.recompute("dev-1")).isEqualTo(3);
    assertThat(engine.recompute("dev-1")).as("the old name stays").isEqualTo(3);
    assertThat(entry(decode(engine.newerThan("dev-1", 2).orElseThrow()), "web").revision())
        .isEqualTo(legacy);

    // New content: the new name, with its provenance.
    content.put("web", "# web, changed\n");
    String c2 = "4".repeat(40);
    apps.set(0, gitApp("web", "sha256:eeeeeeeeeeee", c2, false));
    assertThat(engine.recompute("dev-1")).isEqualTo(4);
    DesiredState changed = decode(engine.newerThan("dev-1", 3).orElseThrow());
    assertThat(entry(changed, "web").revision()).isEqualTo("sha256:eeeeeeeeeeee");
    assertThat(entry(changed, "web").commit()).isEqualTo(c2);
  }

  private static DesiredState.DesiredApp entry(DesiredState state, String app) {
    return state.apps().stream().filter(a -> a.name().equals(app)).findFirst().orElseThrow();
  }

  private static AppCatalog.App gitApp(
      String name, String revision, String commit, boolean phased) {
    return new AppCatalog.App(name, "fleet", revision, tags -> true, phased, commit);
  }

  private AppCatalog.App app(String name, String revision, String key, String value) {
    return new AppCatalog.App(name, "repo", revision, tags -> value.equals(tags.get(key)));
  }

  private void device(String id, Map<String, String> tags) {
    TestDevices.insertActive(db.jdbi(), id, tags, Instant.now());
  }

  private void retag(String id, Map<String, String> tags) {
    db.jdbi().useHandle(h -> devices.setTags(h, id, tags, System.currentTimeMillis()));
  }

  private static DesiredState decode(SignedDesiredState doc) {
    try {
      return Json.mapper().readValue(Base64.getDecoder().decode(doc.payload()), DesiredState.class);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
