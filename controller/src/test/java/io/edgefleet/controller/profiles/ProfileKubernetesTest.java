package io.edgefleet.controller.profiles;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.clusters.ProfileSource;
import io.edgefleet.controller.desired.AppStatusService;
import io.edgefleet.controller.desired.ReleaseGate;
import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AppState;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Profiles as the clusters feature sees them: which profile a cluster follows, the Kubernetes layer
 * and the revisions it should run (as the gate decides for its applier), and the revision its
 * applier reports ready.
 */
class ProfileKubernetesTest {
  private static final String V1 = "v1.20.2+k3s1";
  private static final String V2 = "v1.21.1+k3s1";

  @TempDir Path dir;
  private Database db;
  private Jdbi jdbi;

  /** The gate's decision for app {@code edge}, by device id; devices not listed follow. */
  private final Map<String, ReleaseGate.Decision> decisions = new ConcurrentHashMap<>();

  private ProfileKubernetes source;

  @BeforeEach
  void open() {
    db = Database.open(Database.sqliteUrl(dir), null, null);
    jdbi = db.jdbi();
    source =
        new ProfileKubernetes(
            jdbi,
            (h, device, apps) -> {
              ReleaseGate.Decision d = decisions.get(device);
              return d == null ? Map.of() : Map.of("edge", d);
            });
    jdbi.useTransaction(
        h -> {
          ProfileStore.insertProfile(
              h, new ProfileStore.ProfileRow("edge", "site=sjc", "", "t", 1));
          ProfileStore.insertProfile(
              h, new ProfileStore.ProfileRow("all", "name in (store9, store1)", "", "t", 1));
          ProfileStore.insertProfile(h, new ProfileStore.ProfileRow("zz", "*", "", "t", 1));
          ProfileStore.insertVersion(h, version("edge", 1, V1));
          ProfileStore.insertVersion(h, version("edge", 2, V2));
        });
  }

  @AfterEach
  void close() {
    db.close();
  }

  @Test
  void aClusterFollowsTheProfileItNamesElseTheFirstByNameWhoseSelectorMatches() {
    assertThat(source.profileOf("store2", Map.of("site", "sjc"), "other@3")).contains("other@3");
    assertThat(source.profileOf("store2", Map.of("site", "sjc"), " edge ")).contains("edge");
    assertThat(source.profileOf("store2", Map.of("site", "sjc"), null)).contains("edge");
    // the selector sees the cluster's name as key 'name'; 'all' sorts before 'edge'
    assertThat(source.profileOf("store1", Map.of("site", "sjc"), "")).contains("all");
    assertThat(source.profileOf("store3", Map.of("site", "nyc"), null)).contains("zz");
    jdbi.useHandle(h -> h.execute("DELETE FROM profiles WHERE name = 'zz'"));
    assertThat(source.profileOf("store3", Map.of("site", "nyc"), null)).isEmpty();
    assertThat(ProfileSource.NONE.profileOf("store3", Map.of(), null)).isEmpty();
    assertThat(ProfileSource.NONE.profileOf("store3", Map.of(), "edge")).contains("edge");
  }

  @Test
  void theKubernetesLayerAndTheWantedRevisionAreWhatTheGateGivesTheApplier() {
    // Before the cluster has an applier: the newest version.
    assertThat(source.kubernetesFor("store1", "edge", null))
        .hasValueSatisfying(l -> assertThat(l.kubernetesVersion()).isEqualTo(V2));
    assertThat(source.revisions("store1", "edge", null).wanted()).isEqualTo("edge@2");
    // Released: follows the newest.
    assertThat(source.revisions("store1", "edge", "dev-a").wanted()).isEqualTo("edge@2");
    // Rolled back: the pinned revision, and its Kubernetes version.
    decisions.put("dev-a", new ReleaseGate.Pin("edge@1", "b", null));
    assertThat(source.kubernetesFor("store1", "edge", "dev-a"))
        .hasValueSatisfying(
            l -> {
              assertThat(l.kubernetesVersion()).isEqualTo(V1);
              assertThat(l.version()).isEqualTo(1);
              assertThat(l.config()).containsEntry("disable", List.of("traefik"));
            });
    assertThat(source.revisions("store1", "edge", "dev-a").wanted()).isEqualTo("edge@1");
    // Not released yet: what the applier was told before, nothing before it was told anything.
    decisions.put("dev-a", ReleaseGate.KEEP);
    assertThat(source.revisions("store1", "edge", "dev-a").wanted()).isNull();
    assertThat(source.kubernetesFor("store1", "edge", "dev-a")).isEmpty();
    told("dev-a", "edge", "edge@1");
    assertThat(source.revisions("store1", "edge", "dev-a").wanted()).isEqualTo("edge@1");
    assertThat(source.kubernetesFor("store1", "edge", "dev-a"))
        .hasValueSatisfying(l -> assertThat(l.kubernetesVersion()).isEqualTo(V1));
    // Pinned by the cluster: that version whatever the gate says.
    assertThat(source.revisions("store1", "edge@2", "dev-a").wanted()).isEqualTo("edge@2");
    assertThat(source.kubernetesFor("store1", "edge@2", "dev-a"))
        .hasValueSatisfying(l -> assertThat(l.kubernetesVersion()).isEqualTo(V2));
    // A profile without versions, and none at all.
    assertThat(source.kubernetesFor("store1", "zz", "dev-a")).isEmpty();
    assertThat(source.revisions("store1", null, "dev-a"))
        .isEqualTo(new ProfileSource.Revisions(null, null));
  }

  @Test
  void runningIsTheRevisionTheApplierLastReportedReady() {
    AppStatusService status =
        new AppStatusService(jdbi, Clock.systemUTC(), id -> DeviceStatus.ONLINE);
    told("dev-a", "edge", "edge@1");
    assertThat(source.revisions("store1", "edge", "dev-a").running()).isNull();
    report(status, "dev-a", "edge", "edge@1", AppState.Phase.PROGRESSING);
    assertThat(source.revisions("store1", "edge", "dev-a").running()).isNull();
    report(status, "dev-a", "edge", "edge@1", AppState.Phase.READY);
    assertThat(source.revisions("store1", "edge", "dev-a").running()).isEqualTo("edge@1");
    // A newer revision failing leaves the ready one running.
    told("dev-a", "edge", "edge@2");
    report(status, "dev-a", "edge", "edge@2", AppState.Phase.FAILED);
    assertThat(source.revisions("store1", "edge", "dev-a").running()).isEqualTo("edge@1");
    // A pinned cluster runs the pinned app, NAME-vN.
    told("dev-b", "edge-v1", "edge@1");
    report(status, "dev-b", "edge-v1", "edge@1", AppState.Phase.READY);
    assertThat(source.revisions("store2", "edge@1", "dev-b"))
        .isEqualTo(new ProfileSource.Revisions("edge@1", "edge@1"));
    assertThat(source.revisions("store2", "edge", "dev-b").running()).isNull();
  }

  /** What the desired-state engine records when it tells a device a revision of an app. */
  private void told(String device, String app, String revision) {
    jdbi.useHandle(
        h -> {
          int n =
              h.createUpdate(
                      "UPDATE device_apps SET desired_revision = :r WHERE device_id = :d AND app ="
                          + " :a")
                  .bind("d", device)
                  .bind("a", app)
                  .bind("r", revision)
                  .execute();
          if (n == 0) {
            h.createUpdate(
                    "INSERT INTO device_apps (device_id, app, source, desired_revision,"
                        + " desired_bundle, desired_since) VALUES (:d, :a, 'profile', :r, 'b', 1)")
                .bind("d", device)
                .bind("a", app)
                .bind("r", revision)
                .execute();
          }
        });
  }

  private static void report(
      AppStatusService status, String device, String app, String revision, AppState.Phase phase) {
    status.report(
        device, new AgentMessage.AppReport(1, List.of(new AppState(app, revision, phase, null))));
  }

  private static ProfileStore.VersionRow version(String profile, int version, String k3s) {
    Layer kube = Layer.kubernetes("k3s", k3s, Map.of("disable", List.of("traefik")));
    return new ProfileStore.VersionRow(profile, version, List.of(kube), "canary: 1\n", "t", 1);
  }
}
