package io.edgefleet.e2e.gitops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.runtime.kubernetes.KubernetesRuntime;
import io.edgefleet.agent.telemetry.TelemetryFeature;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.Json;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.GitRepo;
import io.edgefleet.testkit.RecordingRuntime;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import io.edgefleet.testkit.kube.KubeCluster;
import io.fabric8.kubernetes.api.model.ConfigMap;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Git app's revision is a digest of its content: a commit that changes one of two apps makes the
 * device re-apply that one only. The other keeps its revision; its objects in the real
 * kube-apiserver are not written again; neither the device nor the controller records an event for
 * it; and the commit shows as the provenance of the changed app's revision.
 */
class ContentRevisionIT {
  static final KubeCluster KUBE = KubeCluster.shared();

  @TempDir Path dir;
  TestController controller;
  TestAgents agents;
  GitRepo repo;
  final String web = "web-" + UUID.randomUUID().toString().substring(0, 8);
  final String notes = "notes-" + UUID.randomUUID().toString().substring(0, 8);

  @AfterEach
  void stop() {
    if (agents != null) {
      agents.close();
    }
    if (controller != null) {
      controller.close();
    }
    if (repo != null) {
      repo.close();
    }
    KUBE.client().namespaces().withName(web).delete();
    KUBE.client().namespaces().withName(notes).delete();
  }

  /** A device event as the controller stored it from the device's outbox. */
  record Event(long seq, String kind, String app, String message) {}

  @Test
  void aCommitThatChangesOneOfTwoAppsReappliesAndReportsOnlyThatOne() throws Exception {
    repo = GitRepo.init(dir.resolve("repo"));
    repo.write(file(web), GitRepo.configMap("settings", "greeting", "hello"))
        .write(file(notes), GitRepo.configMap("notes", "text", "one"))
        .commit("two apps");
    String first = repo.head();
    controller =
        TestController.start(
            TestController.config(dir.resolve("controller"))
                .withTelemetryInterval(Duration.ofSeconds(1)));
    AdminClient admin = controller.admin();
    AdminClient.Answer added =
        admin.post(
            "/api/v1/repos",
            Map.of("name", "fleet", "url", repo.url(), "target", "site=quay-2", "interval", "1h"));
    assertThat(added.status()).as(added.body().toString()).isEqualTo(201);

    agents = new TestAgents(dir);
    RecordingRuntime runtime = new RecordingRuntime(new KubernetesRuntime(KUBE.kubeconfig()));
    TestAgents.WithTelemetry started =
        agents.startWithTelemetry(
            agents
                .options(
                    "quay",
                    agents.bootstrap(
                        "q",
                        controller.url(),
                        controller.caFingerprint(),
                        controller.token(Map.of("site", "quay-2"), null, false)))
                .withReconcileInterval(Duration.ofSeconds(1)),
            Clock.systemUTC(),
            runtime,
            Map::of,
            TelemetryFeature.Options.defaults().withSampleEvery(Duration.ofMillis(200)));
    Agent agent = started.agent();
    TelemetryFeature telemetry = started.telemetry();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> agent.status().state() == Agent.State.CONNECTED);
    String id = agent.status().deviceId().orElseThrow();
    Map<String, String> before =
        Map.of(web, awaitReady(admin, id, web, null), notes, awaitReady(admin, id, notes, null));
    awaitDrained(telemetry);

    Jdbi db = controller.controller().database().jdbi();
    long seqBefore = events(db, id, -1).stream().mapToLong(Event::seq).max().orElse(-1);
    Map<String, String> fleetEventsBefore = fleetEvents(db, id);
    long eventsBefore = telemetry.stats().events();
    long generation = agent.generation();
    ConfigMap untouched = configMap(notes, "notes");
    ConfigMap untouchedInventory = inventory(notes);

    // Only web changes.
    repo.write(file(web), GitRepo.configMap("settings", "greeting", "bonjour"))
        .commit("web says bonjour");
    String second = repo.head();
    assertThat(admin.post("/api/v1/repos/fleet/sync", Map.of()).body().path("changed").asBoolean())
        .isTrue();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> configMap(web, "settings"),
            cm -> cm != null && "bonjour".equals(cm.getData().get("greeting")));
    Map<String, String> after =
        Map.of(
            web,
            awaitReady(admin, id, web, before.get(web)),
            notes,
            awaitReady(admin, id, notes, null));
    // Every event of the passes that applied the new document has been appended by now (a pass
    // appends its events before it reports): wait until they all reached the controller.
    await().atMost(Duration.ofSeconds(30)).until(() -> telemetry.stats().events() > eventsBefore);
    awaitDrained(telemetry);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> fleetEvents(db, id).size() > fleetEventsBefore.size());

    // One new document; the device applied web's new revision and nothing of notes.
    assertThat(after.get(notes)).as("notes keeps its revision").isEqualTo(before.get(notes));
    assertThat(agent.generation()).isEqualTo(generation + 1);
    assertThat(runtime.revisions(web)).containsExactly(before.get(web), after.get(web));
    assertThat(runtime.revisions(notes)).containsExactly(before.get(notes));
    assertThat(configMap(notes, "notes").getMetadata().getResourceVersion())
        .as("notes' objects were not written again")
        .isEqualTo(untouched.getMetadata().getResourceVersion());
    assertThat(inventory(notes).getMetadata().getResourceVersion())
        .isEqualTo(untouchedInventory.getMetadata().getResourceVersion());
    assertThat(configMap(notes, "notes").getMetadata().getAnnotations())
        .containsEntry("edgefleet.io/revision", before.get(notes));

    // Device events: web's update only, naming the revision and the commit it came from.
    List<Event> news = events(db, id, seqBefore);
    assertThat(news).isNotEmpty().allSatisfy(e -> assertThat(e.app()).isEqualTo(web));
    assertThat(news)
        .as("events %s", news)
        .extracting(Event::kind)
        .containsAnyOf("app-updated", "app-ready")
        .doesNotContain("app-failed", "app-removed");
    assertThat(news.getFirst().message())
        .contains("revision " + after.get(web))
        .contains("from commit " + second.substring(0, 12));
    // Controller events: web's reported revision changed, notes' did not.
    Map<String, String> fleetNews = fleetEvents(db, id);
    fleetNews.keySet().removeAll(fleetEventsBefore.keySet());
    assertThat(fleetNews.values()).isNotEmpty().allSatisfy(app -> assertThat(app).isEqualTo(web));

    // The commit is the provenance: in the source, the app status, the document and the history.
    assertThat(after.get(web)).matches("sha256:[0-9a-f]{12}");
    Map<String, String[]> revisions = revisions(admin);
    assertThat(revisions.get(web)).containsExactly(after.get(web), second);
    assertThat(revisions.get(notes)).containsExactly(before.get(notes), first);
    assertThat(appRow(admin, id, web).path("desiredCommit").asText()).isEqualTo(second);
    assertThat(appRow(admin, id, notes).path("desiredCommit").asText()).isEqualTo(first);
    assertThat(appRow(admin, id, notes).path("runningRevision").asText())
        .isEqualTo(before.get(notes));
    DesiredState document = document(db, id);
    assertThat(document.apps())
        .extracting(DesiredState.DesiredApp::name, DesiredState.DesiredApp::commit)
        .containsExactlyInAnyOrder(
            org.assertj.core.groups.Tuple.tuple(web, second),
            org.assertj.core.groups.Tuple.tuple(notes, first));
    JsonNode commit = admin.get("/api/v1/repos/fleet/commits/" + second).body();
    assertThat(commit.path("apps")).hasSize(1);
    assertThat(commit.path("apps").get(0).path("app").asText()).isEqualTo(web);
    assertThat(commit.path("apps").get(0).path("revision").asText()).isEqualTo(after.get(web));
  }

  // ------------------------------------------------------------------ helpers

  private static String file(String app) {
    return "apps/" + app + "/app.yaml";
  }

  /** Per app at the commit in effect: its revision and the commit that introduced it. */
  private static Map<String, String[]> revisions(AdminClient admin) {
    Map<String, String[]> out = new HashMap<>();
    for (JsonNode r : admin.get("/api/v1/repos/fleet").body().path("revisions")) {
      out.put(
          r.path("app").asText(),
          new String[] {r.path("revision").asText(), r.path("commit").asText()});
    }
    return out;
  }

  /**
   * Waits until the device runs the app's desired revision (other than {@code not}) READY; returns
   * that revision.
   */
  private static String awaitReady(AdminClient admin, String id, String app, String not) {
    return await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> appRow(admin, id, app),
            r ->
                r != null
                    && r.path("runningRevision").asText().equals(r.path("desiredRevision").asText())
                    && !r.path("desiredRevision").asText().equals(not)
                    && r.path("state").asText().equals("READY"))
        .path("runningRevision")
        .asText();
  }

  /** Every event the device appended has reached the controller. */
  private static void awaitDrained(TelemetryFeature telemetry) {
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> telemetry.stats().outbox().pendingEvents() == 0);
  }

  private static JsonNode appRow(AdminClient admin, String id, String app) {
    for (JsonNode d : admin.get("/api/v1/apps/" + app + "/status").body().path("devices")) {
      if (d.path("deviceId").asText().equals(id)) {
        return d;
      }
    }
    return null;
  }

  private static ConfigMap configMap(String namespace, String name) {
    return KUBE.client().configMaps().inNamespace(namespace).withName(name).get();
  }

  private static ConfigMap inventory(String app) {
    return configMap("edgefleet-system", "edgefleet-inventory-" + app);
  }

  private static List<Event> events(Jdbi db, String id, long afterSeq) {
    return db.withHandle(
        h ->
            h.createQuery(
                    "SELECT seq, kind, app, message FROM device_events WHERE device_id = :d AND"
                        + " seq > :after AND kind LIKE 'app-%' ORDER BY seq")
                .bind("d", id)
                .bind("after", afterSeq)
                .map(
                    (rs, ctx) ->
                        new Event(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getString(4)))
                .list());
  }

  /** The controller's own app events for the device (phase or revision changes): id to app. */
  private static Map<String, String> fleetEvents(Jdbi db, String id) {
    Map<String, String> out = new HashMap<>();
    db.useHandle(
        h ->
            h.createQuery(
                    "SELECT id, app FROM fleet_events WHERE device_id = :d AND source = 'app'")
                .bind("d", id)
                .map((rs, ctx) -> Map.entry(rs.getString(1), rs.getString(2)))
                .forEach(e -> out.put(e.getKey(), e.getValue())));
    return out;
  }

  private static DesiredState document(Jdbi db, String id) throws Exception {
    String payload =
        db.withHandle(
            h ->
                h.createQuery("SELECT payload FROM device_desired WHERE device_id = :d")
                    .bind("d", id)
                    .mapTo(String.class)
                    .one());
    return Json.mapper().readValue(Base64.getDecoder().decode(payload), DesiredState.class);
  }
}
