package io.edgefleet.controller.desired;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.TestDevices;
import io.edgefleet.controller.pki.SigningKeys;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Fingerprints;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Targeting by runtime: a device that cannot run an app's kind of workload never gets it and its
 * status says why; a device that can gets the runtime and artifacts, per bundle, also when it
 * returns to an older revision. A real SQLite database; the catalog renders container bundles.
 */
class WorkloadPlacementTest {
  static final ArtifactRef IMAGE_1 = new ArtifactRef(digest("image one"), 10);
  static final ArtifactRef IMAGE_2 = new ArtifactRef(digest("image two"), 20);

  @TempDir Path dir;
  Database db;
  DesiredStateEngine engine;
  AppStatusService status;
  final DeviceStore devices = new DeviceStore();
  final List<AppCatalog.App> apps = new CopyOnWriteArrayList<>();

  /** The image each revision of the container app runs. */
  final Map<String, ArtifactRef> images = new ConcurrentHashMap<>(Map.of("r1", IMAGE_1));

  /** What the gate decides for the phased app; null follows the catalog. */
  final AtomicReference<ReleaseGate.Decision> decision = new AtomicReference<>();

  final AppCatalog catalog =
      new AppCatalog() {
        @Override
        public List<App> apps() {
          return List.copyOf(apps);
        }

        @Override
        public Rendered render(App app, Map<String, String> tags, String kubeVersion) {
          if (app.name().equals("config")) {
            String yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config}\n";
            return new Rendered(yaml, digest(yaml));
          }
          ArtifactRef image = images.get(app.revision());
          String yaml =
              "apiVersion: edgefleet.io/v1\nkind: Container\nmetadata: {name: web}\n"
                  + "spec: {image: \""
                  + image.digest()
                  + "\"}\n";
          return new Rendered(yaml, digest(yaml), DeviceFacts.RUNTIME_CONTAINER, List.of(image));
        }
      };

  @BeforeEach
  void open() throws Exception {
    db = Database.open(Database.sqliteUrl(dir), null, null);
    SigningKeys keys = SigningKeys.open(dir.resolve("pki"), Clock.systemUTC());
    engine =
        new DesiredStateEngine(
            db.jdbi(),
            Clock.systemUTC(),
            devices,
            new BundleStore(db.jdbi(), Clock.systemUTC()),
            keys,
            catalog,
            (h, deviceId, phased) -> {
              ReleaseGate.Decision d = decision.get();
              return d == null ? Map.of() : Map.of("web", d);
            },
            (id, nudge) -> {});
    status = new AppStatusService(db.jdbi(), Clock.systemUTC(), id -> DeviceStatus.ONLINE);
    TestDevices.insertActive(db.jdbi(), "dev-1", Map.of("site", "s1"), Instant.now());
  }

  @AfterEach
  void close() {
    engine.close();
    db.close();
  }

  @Test
  void aDeviceWithoutAContainerRuntimeIsNotGivenTheAppAndItsStatusSaysWhy() {
    runtimes(List.of(DeviceFacts.RUNTIME_KUBERNETES));
    apps.add(new AppCatalog.App("web", "repo", "r1", tags -> true));
    apps.add(new AppCatalog.App("config", "repo", "c1", tags -> true));
    engine.recompute("dev-1");

    assertThat(document().apps())
        .extracting(DesiredState.DesiredApp::name)
        .containsExactly("config");
    AppStatusService.DeviceApp web = app("web");
    assertThat(web.state()).isEqualTo(AppStatusService.State.NOT_PLACED);
    assertThat(web.reason())
        .isEqualTo("not placed: this device has no container runtime (it reports: kubernetes)");
    assertThat(status.summary())
        .filteredOn(s -> s.app().equals("web"))
        .singleElement()
        .satisfies(
            s -> {
              assertThat(s.notPlaced()).isEqualTo(1);
              assertThat(s.failed()).isZero();
              assertThat(s.pending()).isZero();
            });
    assertThat(engine.references("dev-1", renderedDigest("r1"))).isFalse();
  }

  @Test
  void aDeviceThatGainsTheRuntimeGetsTheAppWithItsArtifacts() {
    runtimes(List.of(DeviceFacts.RUNTIME_KUBERNETES));
    apps.add(new AppCatalog.App("web", "repo", "r1", tags -> true));
    long before = engine.recompute("dev-1");

    runtimes(List.of(DeviceFacts.RUNTIME_KUBERNETES, DeviceFacts.RUNTIME_CONTAINER));
    assertThat(engine.recompute("dev-1")).isGreaterThan(before);

    DesiredState.DesiredApp web = document().apps().getFirst();
    assertThat(web.runtime()).isEqualTo(DeviceFacts.RUNTIME_CONTAINER);
    assertThat(web.artifacts()).containsExactly(IMAGE_1);
    assertThat(app("web").state()).isNotEqualTo(AppStatusService.State.NOT_PLACED);
    assertThat(app("web").reason()).doesNotContain("not placed");

    // And loses it again when it no longer reports one: the app leaves its document.
    runtimes(List.of(DeviceFacts.RUNTIME_KUBERNETES));
    engine.recompute("dev-1");
    assertThat(document().apps()).isEmpty();
    assertThat(app("web").state()).isEqualTo(AppStatusService.State.NOT_PLACED);
  }

  @Test
  void aDeviceOfAnOlderAgentReportingNoRuntimesRunsKubernetesAppsOnly() {
    runtimes(List.of());
    apps.add(new AppCatalog.App("web", "repo", "r1", tags -> true));
    apps.add(new AppCatalog.App("config", "repo", "c1", tags -> true));
    engine.recompute("dev-1");

    assertThat(document().apps())
        .extracting(DesiredState.DesiredApp::name)
        .containsExactly("config");
    assertThat(app("web").reason())
        .isEqualTo(
            "not placed: this device has no container runtime (its agent reports no runtimes, so"
                + " it runs Kubernetes apps only)");
  }

  @Test
  void aRollbackToAnOlderRevisionBringsThatRevisionsArtifacts() {
    runtimes(List.of(DeviceFacts.RUNTIME_CONTAINER));
    apps.add(new AppCatalog.App("web", "repo", "r1", tags -> true, true));
    engine.recompute("dev-1");
    String firstBundle = document().apps().getFirst().bundle();
    assertThat(document().apps().getFirst().artifacts()).containsExactly(IMAGE_1);

    images.put("r2", IMAGE_2);
    apps.set(0, new AppCatalog.App("web", "repo", "r2", tags -> true, true));
    engine.recompute("dev-1");
    assertThat(document().apps().getFirst().artifacts()).containsExactly(IMAGE_2);

    // The rollout returns the device to r1: its bundle with its image, not r2's nor none.
    decision.set(new ReleaseGate.Pin("r1", firstBundle, null));
    engine.recompute("dev-1");
    DesiredState.DesiredApp back = document().apps().getFirst();
    assertThat(back.bundle()).isEqualTo(firstBundle);
    assertThat(back.runtime()).isEqualTo(DeviceFacts.RUNTIME_CONTAINER);
    assertThat(back.artifacts()).containsExactly(IMAGE_1);
  }

  private void runtimes(List<String> runtimes) {
    db.jdbi()
        .useHandle(
            h -> {
              DeviceFacts facts = devices.byId(h, "dev-1").orElseThrow().facts();
              devices.setFacts(h, "dev-1", facts.withRuntimes(runtimes), 0);
            });
  }

  private AppStatusService.DeviceApp app(String name) {
    return status.byDevice("dev-1").stream()
        .filter(a -> a.app().equals(name))
        .findFirst()
        .orElseThrow();
  }

  private String renderedDigest(String revision) {
    return catalog
        .render(new AppCatalog.App("web", "repo", revision, tags -> true), Map.of(), null)
        .digest();
  }

  private DesiredState document() {
    try {
      return Json.mapper()
          .readValue(
              Base64.getDecoder().decode(engine.newerThan("dev-1", 0).orElseThrow().payload()),
              DesiredState.class);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static String digest(String text) {
    return Fingerprints.sha256(text.getBytes(StandardCharsets.UTF_8));
  }
}
