package io.edgefleet.controller.rollouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import io.edgefleet.controller.artifacts.ArtifactUsers;
import io.edgefleet.controller.artifacts.Artifacts;
import io.edgefleet.controller.artifacts.DirectoryBlobStore;
import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.catalog.Catalog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.gitops.GitOps;
import io.edgefleet.controller.rollouts.Preflight.Action;
import io.edgefleet.controller.secrets.SecretBox;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.controller.store.Database;
import io.edgefleet.controller.workloads.WorkloadResolver;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.jdbi.v3.core.Handle;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The preflight of deployments against a real database and real Helm: every targeted device is
 * checked without starting anything, devices with equal values share one render, and what cannot
 * work is refused with the devices it concerns.
 */
class PreflightIT {
  static final String CHART =
      """
      apiVersion: v2
      name: pos
      version: 1.0.0
      """;
  static final String VALUES =
      """
      host: "${tag:site}.shops.example.com"
      """;
  static final String CONFIG_MAP =
      """
      {{- if eq .Values.host "closed.shops.example.com" }}{{ fail "this shop is closed" }}{{ end -}}
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: {{ .Release.Name }}
      data:
        host: {{ .Values.host | quote }}
      """;

  @TempDir Path tmp;
  Database db;
  GitOps gitops;
  Catalog catalog;
  Preflight preflight;

  @BeforeEach
  void setUp() throws Exception {
    Path data = Files.createDirectories(tmp.resolve("data"));
    db = Database.open(Database.sqliteUrl(data), null, null);
    AuditLog audit = new AuditLog(db.jdbi(), Clock.systemUTC());
    gitops =
        new GitOps(
            db.jdbi(),
            Clock.systemUTC(),
            audit,
            data.resolve("gitops"),
            new SecretBox(data.resolve("secret.key")),
            name -> {});
    catalog = new Catalog(db.jdbi(), Clock.systemUTC(), audit, gitops.rendering());
    catalog.push(
        "pos",
        new Catalog.PushRequest(
            "1.0.0",
            "chart",
            "point of sale",
            Base64.getEncoder()
                .encodeToString(
                    tgz(
                        Map.of(
                            "pos/Chart.yaml", CHART,
                            "pos/values.yaml", VALUES,
                            "pos/templates/cm.yaml", CONFIG_MAP)))),
        "alice");
    preflight = new Preflight(db.jdbi(), catalog);
  }

  @AfterEach
  void tearDown() {
    gitops.close();
    db.close();
  }

  @Test
  void aPlanSaysPerDeviceWhatWouldChangeAndWhichDevicesCannotRunIt() {
    device("d1", "berlin-1", Map.of("fleet", "sim", "site", "berlin"));
    device("d2", "paris-1", Map.of("fleet", "sim", "site", "paris"));
    device("d3", "nosite-1", Map.of("fleet", "sim"));
    device("d4", "lab-1", Map.of("fleet", "lab", "site", "lab"));
    running("d1", "pos", "0.9.0");
    running("d2", "pos", "1.0.0");

    Preflight.Plan plan = preflight.plan(change("fleet=sim", "canary: 1\n"));

    assertThat(plan.activeDevices()).isEqualTo(4);
    assertThat(plan.targeted()).isEqualTo(3);
    assertThat(plan.changes())
        .containsEntry(Action.UPDATE, 1)
        .containsEntry(Action.UNCHANGED, 1)
        .containsEntry(Action.FAILS, 1)
        .containsEntry(Action.INSTALL, 0);
    assertThat(plan.devices())
        .extracting(Preflight.DeviceChange::device, Preflight.DeviceChange::action)
        .containsExactly(
            tuple("d1", Action.UPDATE), tuple("d2", Action.UNCHANGED), tuple("d3", Action.FAILS));
    assertThat(plan.devices().get(2).problem()).contains("no tag 'site'");
    assertThat(plan.batches())
        .extracting(Preflight.Batch::name, Preflight.Batch::devices)
        .containsExactly(tuple("canary", 1), tuple("rest", 2));
    assertThat(plan.configurations()).isEqualTo(2);
    assertThat(plan.rendered()).isEqualTo(2);
    assertThat(plan.problems()).hasSize(1);
    assertThat(plan.problems().get(0).examples()).containsExactly("nosite-1");
    assertThat(plan.ok()).isFalse();

    // Nothing was written: no deployment, no rollout.
    assertThat(count("deployments")).isZero();
    assertThat(count("rollouts")).isZero();

    assertThatThrownBy(() -> Preflight.require(plan))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.PREFLIGHT_FAILED);
              assertThat(e.getMessage())
                  .contains("1 of 3 targeted device(s) cannot run pos@1.0.0")
                  .contains("no tag 'site'")
                  .contains("nosite-1")
                  .contains("--dry-run")
                  .contains("--force");
            });
  }

  @Test
  void aChartFailingForSomeDevicesValuesFailsOnlyThoseDevices() {
    device("d1", "berlin-1", Map.of("site", "berlin"));
    device("d2", "closed-1", Map.of("site", "closed"));
    device("d3", "closed-2", Map.of("site", "closed"));

    Preflight.Plan plan = preflight.plan(change("", ""));

    assertThat(plan.changes()).containsEntry(Action.INSTALL, 1).containsEntry(Action.FAILS, 2);
    assertThat(plan.problems()).hasSize(1);
    Preflight.Problem p = plan.problems().get(0);
    assertThat(p.message()).contains("this shop is closed");
    assertThat(p.devices()).isEqualTo(2);
    assertThat(p.examples()).containsExactlyInAnyOrder("closed-1", "closed-2");
  }

  @Test
  void devicesWithEqualValuesShareOneRenderAndRendersAreBounded() {
    long before = gitops.rendering().helmRenders();
    for (int i = 0; i < 12; i++) {
      device("a" + i, "same-" + i, Map.of("site", "same"));
    }
    for (int i = 0; i < Preflight.MAX_RENDERS + 3; i++) {
      device("b" + i, "own-" + i, Map.of("site", "shop" + i));
    }

    Preflight.Plan plan = preflight.plan(change("", ""));

    assertThat(plan.targeted()).isEqualTo(12 + Preflight.MAX_RENDERS + 3);
    assertThat(plan.configurations()).isEqualTo(1 + Preflight.MAX_RENDERS + 3);
    assertThat(plan.rendered()).isEqualTo(Preflight.MAX_RENDERS);
    assertThat(gitops.rendering().helmRenders() - before).isEqualTo(Preflight.MAX_RENDERS);
    assertThat(plan.ok()).isTrue();
    Preflight.require(plan);
  }

  @Test
  void aTargetMatchingNoDeviceIsRefusedWithHowToCheckIt() {
    device("d1", "berlin-1", Map.of("site", "berlin"));

    Preflight.Plan plan = preflight.plan(change("site=berln", ""));

    assertThat(plan.targeted()).isZero();
    assertThat(plan.problems())
        .extracting(Preflight.Problem::code)
        .containsExactly("TARGET_MATCHES_NOTHING");
    assertThatThrownBy(() -> Preflight.require(plan))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.TARGET_MATCHES_NOTHING);
              assertThat(e.getMessage())
                  .contains("matches none of the 1 active device(s)")
                  .contains("devices list --selector 'site=berln'")
                  .contains("--force");
            });
  }

  @Test
  void listedDevicesAreBoundedButCountsCoverEveryDevice() {
    int n = Preflight.MAX_DEVICES_LISTED + 5;
    db.jdbi()
        .useTransaction(
            h -> {
              for (int i = 0; i < n; i++) {
                insert(h, String.format("dev-%05d", i), "n" + i, Map.of("site", "same"));
              }
            });

    Preflight.Plan plan = preflight.plan(change("", ""));

    assertThat(plan.targeted()).isEqualTo(n);
    assertThat(plan.devices()).hasSize(Preflight.MAX_DEVICES_LISTED);
    assertThat(plan.devicesNotListed()).isEqualTo(5);
    assertThat(plan.changes()).containsEntry(Action.INSTALL, n);
  }

  // ---------------------------------------------------------------------------------------------

  @Test
  void containerAppsAreNotPlacedOnDevicesWithoutAContainerRuntimeAndMissingImagesAreProblems()
      throws Exception {
    Artifacts artifacts =
        new Artifacts(
            db.jdbi(),
            Clock.systemUTC(),
            new AuditLog(db.jdbi(), Clock.systemUTC()),
            new DirectoryBlobStore(tmp.resolve("data/artifacts")),
            1 << 20,
            ArtifactUsers.NONE);
    byte[] archive = "a kiosk image archive".getBytes(StandardCharsets.UTF_8);
    String image =
        artifacts
            .push(
                new Artifacts.Push("oci-archive", "1.0", "amd64", "kiosk.tar", null),
                new ByteArrayInputStream(archive),
                "alice")
            .digest();
    String missing = "sha256:" + "0".repeat(64);
    for (String[] v : new String[][] {{"1.0.0", image}, {"2.0.0", missing}}) {
      catalog.push(
          "kiosk",
          new Catalog.PushRequest(
              v[0],
              "chart",
              "a kiosk",
              Base64.getEncoder()
                  .encodeToString(
                      tgz(
                          Map.of(
                              "kiosk/Chart.yaml",
                              "apiVersion: v2\nname: kiosk\nversion: " + v[0] + "\n",
                              "kiosk/values.yaml",
                              "image: \"" + v[1] + "\"\n",
                              "kiosk/templates/kiosk.yaml",
                              """
                              apiVersion: edgefleet.io/v1
                              kind: Container
                              metadata:
                                name: {{ .Release.Name }}
                              spec:
                                image: {{ .Values.image | quote }}
                              """)))),
          "alice");
    }
    Preflight workloads =
        new Preflight(db.jdbi(), catalog, new WorkloadResolver(artifacts)::resolve);
    device(
        "d1", "box-1", Map.of("fleet", "sim"), "{\"arch\":\"amd64\",\"runtimes\":[\"container\"]}");
    device(
        "d2",
        "kube-1",
        Map.of("fleet", "sim"),
        "{\"arch\":\"amd64\",\"runtimes\":[\"kubernetes\"]}");

    Preflight.Plan plan = workloads.plan(kiosk("1.0.0"));
    assertThat(plan.problems()).isEmpty();
    assertThat(plan.devices())
        .extracting(Preflight.DeviceChange::name, Preflight.DeviceChange::action)
        .containsExactlyInAnyOrder(
            tuple("box-1", Action.INSTALL), tuple("kube-1", Action.NOT_PLACED));
    assertThat(plan.devices())
        .filteredOn(d -> d.name().equals("kube-1"))
        .singleElement()
        .satisfies(
            d ->
                assertThat(d.problem())
                    .isEqualTo(
                        "not placed: this device has no container runtime (it reports:"
                            + " kubernetes)"));
    assertThat(plan.changes()).containsEntry(Action.NOT_PLACED, 1).containsEntry(Action.FAILS, 0);

    Preflight.Plan broken = workloads.plan(kiosk("2.0.0"));
    assertThat(broken.problems())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.code()).isEqualTo(ErrorCode.WORKLOAD_ARTIFACT_MISSING.name());
              assertThat(p.message()).contains(missing).contains("edgefleet artifacts push");
              assertThat(p.devices()).isEqualTo(2);
            });
    assertThatThrownBy(() -> Preflight.require(broken))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.PREFLIGHT_FAILED))
        .hasMessageContaining(missing);
  }

  private static Preflight.Change kiosk(String version) {
    return new Preflight.Change(
        "kiosk",
        "kiosk",
        null,
        version,
        null,
        version,
        Map.of(),
        Selector.parse("fleet=sim"),
        RolloutPolicy.defaults(),
        true,
        true);
  }

  private void device(String id, String name, Map<String, String> tags, String facts) {
    device(id, name, tags);
    db.jdbi()
        .useHandle(
            h ->
                h.createUpdate("UPDATE devices SET facts = :f WHERE id = :id")
                    .bind("f", facts)
                    .bind("id", id)
                    .execute());
  }

  private Preflight.Change change(String target, String policy) {
    return new Preflight.Change(
        "pos",
        "pos",
        null,
        "1.0.0",
        null,
        "1.0.0",
        Map.of(),
        Selector.parse(target),
        policy.isEmpty() ? RolloutPolicy.defaults() : RolloutPolicy.parse(policy),
        true,
        true);
  }

  private void device(String id, String name, Map<String, String> tags) {
    db.jdbi().useHandle(h -> insert(h, id, name, tags));
  }

  private static void insert(Handle h, String id, String name, Map<String, String> tags) {
    h.createUpdate(
            "INSERT INTO devices (id, name, lifecycle, enrollment_code, key_fingerprint,"
                + " public_key, tags, facts, created_at, updated_at) VALUES (:id, :name,"
                + " 'ACTIVE', :id, :id, 'pub', :tags, '{}', 1, 1)")
        .bind("id", id)
        .bind("name", name)
        .bind("tags", Json.write(new LinkedHashMap<>(tags)))
        .execute();
  }

  private void running(String device, String app, String revision) {
    db.jdbi()
        .useHandle(
            h ->
                h.createUpdate(
                        "INSERT INTO device_apps (device_id, app, source, desired_revision,"
                            + " desired_since, running_revision, phase) VALUES (:d, :a,"
                            + " 'catalog', :r, 1, :r, 'READY')")
                    .bind("d", device)
                    .bind("a", app)
                    .bind("r", revision)
                    .execute());
  }

  private long count(String table) {
    return db.jdbi()
        .withHandle(h -> h.createQuery("SELECT COUNT(*) FROM " + table).mapTo(Long.class).one());
  }

  private static byte[] tgz(Map<String, String> files) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (TarArchiveOutputStream tar =
        new TarArchiveOutputStream(new GzipCompressorOutputStream(bytes))) {
      for (var f : new TreeMap<>(files).entrySet()) {
        byte[] content = f.getValue().getBytes(StandardCharsets.UTF_8);
        TarArchiveEntry e = new TarArchiveEntry(f.getKey());
        e.setSize(content.length);
        tar.putArchiveEntry(e);
        tar.write(content);
        tar.closeArchiveEntry();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }
}
