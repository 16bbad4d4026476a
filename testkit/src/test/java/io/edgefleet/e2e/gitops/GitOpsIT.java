package io.edgefleet.e2e.gitops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.runtime.kubernetes.KubernetesRuntime;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.GitRepo;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import io.edgefleet.testkit.kube.KubeCluster;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A commit to a real Git repository becomes signed desired state and reaches the real Kubernetes
 * API of every tag-selected device, including devices that were offline and devices that lost the
 * controller.
 */
class GitOpsIT {
  static final KubeCluster KUBE = KubeCluster.shared();

  @TempDir Path dir;
  TestController controller;
  TestAgents agents;
  AdminClient admin;
  GitRepo repo;
  String app;

  @BeforeEach
  void start() throws Exception {
    app = "web-" + UUID.randomUUID().toString().substring(0, 8);
    repo = GitRepo.init(dir.resolve("repo"));
    commit(
        Map.of("apps/" + app + "/app.yaml", deployment(1) + "---\n" + configMap("settings")),
        "add " + app);
    controller = TestController.start(dir.resolve("controller"));
    admin = controller.admin();
    agents = new TestAgents(dir);
  }

  @AfterEach
  void stop() {
    agents.close();
    if (controller != null) {
      controller.close();
    }
    repo.close();
    KUBE.client().namespaces().withName(app).delete();
  }

  @Test
  void commitReachesTaggedDevicesAndTagChangesPrune() throws Exception {
    addRepo("site=store-17");
    Agent agent = startAgent("a1", Map.of("site", "store-17"));
    String sha1 = repo.head();

    Deployment d = awaitDeployment();
    assertThat(d.getMetadata().getLabels())
        .containsEntry("app.kubernetes.io/managed-by", "edgefleet")
        .containsEntry("edgefleet.io/app", app);
    assertThat(KUBE.client().configMaps().inNamespace(app).withName("settings").get()).isNotNull();
    String id = agent.status().deviceId().orElseThrow();
    awaitAppState(id, sha1, KUBE.local() ? "READY" : null);

    // A new commit: two replicas, the ConfigMap is gone.
    commit(Map.of("apps/" + app + "/app.yaml", deployment(2)), "scale " + app);
    String sha2 = repo.head();
    assertThat(admin.post("/api/v1/repos/fleet/sync", Map.of()).body().path("changed").asBoolean())
        .isTrue();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                replicas() == 2
                    && KUBE.client().configMaps().inNamespace(app).withName("settings").get()
                        == null);
    awaitAppState(id, sha2, KUBE.local() ? "READY" : null);
    JsonNode diff = admin.get("/api/v1/repos/fleet/commits/" + sha2).body();
    assertThat(diff.toString()).contains(app).contains("settings");
    assertThat(items("/api/v1/repos/fleet/history")).hasSize(2);

    // The device stops matching: the app is pruned from its cluster.
    admin.patch("/api/v1/devices/" + id + "/tags", Map.of("remove", List.of("site")));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                KUBE.client().apps().deployments().inNamespace(app).withName("web").get() == null);
    assertThat(items("/api/v1/devices/" + id + "/apps")).isEmpty();
  }

  @Test
  void offlineDeviceIsPendingOfflineAndConvergesWhenItReturns() throws Exception {
    addRepo("site=ship-3");
    Agent agent = startAgent("a1", Map.of("site", "ship-3"));
    String id = agent.status().deviceId().orElseThrow();
    awaitAppState(id, repo.head(), null);
    AgentOptions options =
        agents
            .options("a1", bootstrapFor(Map.of("site", "ship-3")))
            .withReconcileInterval(Duration.ofSeconds(1));
    agent.close();
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                admin
                    .get("/api/v1/devices/" + id)
                    .body()
                    .path("status")
                    .asText()
                    .equals("OFFLINE"));

    commit(Map.of("apps/" + app + "/app.yaml", deployment(3)), "scale to 3");
    String sha = repo.head();
    admin.post("/api/v1/repos/fleet/sync", Map.of());
    JsonNode row =
        await()
            .atMost(Duration.ofSeconds(20))
            .until(
                () -> appRow(id),
                r -> r != null && r.path("desiredRevision").asText().equals(revisionAt(sha)));
    assertThat(row.path("state").asText()).isEqualTo("PENDING_OFFLINE");

    Agent back = startAgent(options);
    await().atMost(Duration.ofSeconds(30)).until(() -> replicas() == 3);
    awaitAppState(id, sha, null);
    assertThat(back.generation()).isGreaterThanOrEqualTo(2);
  }

  @Test
  void deviceKeepsReconcilingAndRestartsFromItsLocalStoreWithoutTheController() throws Exception {
    addRepo("site=rig-4");
    Map<String, String> tags = Map.of("site", "rig-4");
    Agent agent = startAgent("a1", tags);
    String id = agent.status().deviceId().orElseThrow();
    awaitAppState(id, repo.head(), null);
    AgentOptions options =
        agents.options("a1", bootstrapFor(tags)).withReconcileInterval(Duration.ofSeconds(1));

    int port = controller.controller().port();
    controller.close();
    controller = null;
    KUBE.client().apps().deployments().inNamespace(app).withName("web").delete();
    await().atMost(Duration.ofSeconds(30)).until(() -> deploymentExists());

    // Restarted while the controller is unreachable: it re-applies from its own store.
    agent.close();
    KUBE.client().apps().deployments().inNamespace(app).withName("web").delete();
    await().atMost(Duration.ofSeconds(10)).until(() -> !deploymentExists());
    Agent restarted = startAgent(options);
    await().atMost(Duration.ofSeconds(30)).until(() -> deploymentExists());
    assertThat(restarted.status().state()).isNotEqualTo(Agent.State.CONNECTED);
    assertThat(restarted.generation()).isEqualTo(1);

    // A commit made during the outage arrives once the controller is back.
    commit(Map.of("apps/" + app + "/app.yaml", deployment(2)), "scale during the outage");
    String sha = repo.head();
    controller =
        TestController.start(
            TestController.config(dir.resolve("controller")).withListen("127.0.0.1", port));
    admin = controller.admin();
    await().atMost(Duration.ofSeconds(60)).until(() -> replicas() == 2);
    awaitAppState(id, sha, null);
    assertThat(restarted.generation()).isEqualTo(2);
  }

  @Test
  void flippedByteAndReplayedOlderGenerationAreRefusedAndReported() throws Exception {
    addRepo("site=store-9");
    Agent agent = startAgent("a1", Map.of("site", "store-9"));
    String id = agent.status().deviceId().orElseThrow();
    awaitAppState(id, repo.head(), null);
    String[] first = storedDocument(id);

    commit(Map.of("apps/" + app + "/app.yaml", deployment(2)), "scale");
    admin.post("/api/v1/repos/fleet/sync", Map.of());
    await().atMost(Duration.ofSeconds(30)).until(() -> agent.generation() == 2);

    // Someone with write access to the database, but not to the signing key, flips one byte.
    String[] current = storedDocument(id);
    byte[] payload = java.util.Base64.getDecoder().decode(current[0]);
    int at =
        new String(payload, java.nio.charset.StandardCharsets.UTF_8).indexOf("\"generation\":2")
            + 13;
    payload[at] = (byte) '7';
    forge(id, 99, java.util.Base64.getEncoder().encodeToString(payload), current[1]);
    awaitEvent(id, "desired-state-bad-signature");
    assertThat(agent.generation()).isEqualTo(2);

    // A genuine but older document served again is a replay.
    forge(id, 100, first[0], first[1]);
    awaitEvent(id, "desired-state-replayed");
    assertThat(agent.generation()).isEqualTo(2);
    assertThat(replicas()).as("the last good state keeps running").isEqualTo(2);
  }

  @Test
  void aChangeArrivesWithItsNudgeAndForgedPushesAreRefused() throws Exception {
    addRepo("site=store-7");
    Agent agent = startAgent("a1", Map.of("site", "store-7"));
    String id = agent.status().deviceId().orElseThrow();
    awaitAppState(id, repo.head(), null);
    long generation = agent.generation();
    double fetches = deviceFetches();

    commit(Map.of("apps/" + app + "/app.yaml", deployment(2)), "scale");
    admin.post("/api/v1/repos/fleet/sync", Map.of());
    await().atMost(Duration.ofSeconds(30)).until(() -> agent.generation() > generation);
    await().atMost(Duration.ofSeconds(60)).until(() -> replicas() == 2);
    awaitAppState(id, repo.head(), null);
    assertThat(deviceFetches())
        .as("the signed document and the bundle came with the nudge: nothing was fetched")
        .isEqualTo(fetches);

    // A pushed document is checked like a fetched one: one flipped byte breaks the signature.
    long now = agent.generation();
    String[] current = storedDocument(id);
    byte[] payload = java.util.Base64.getDecoder().decode(current[0]);
    String text = new String(payload, java.nio.charset.StandardCharsets.UTF_8);
    payload[text.indexOf("\"generation\":" + now) + 13] = (byte) '9';
    push(id, now + 90, java.util.Base64.getEncoder().encodeToString(payload), current[1], Map.of());
    awaitEvent(id, "desired-state-bad-signature");

    // A genuine document with an inline bundle whose content is not what its digest says.
    DesiredState state =
        io.edgefleet.protocol.Json.mapper()
            .readValue(java.util.Base64.getDecoder().decode(current[0]), DesiredState.class);
    byte[] real = "kind: ConfigMap\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    String digest = io.edgefleet.protocol.tls.Fingerprints.sha256(real);
    DesiredState.DesiredApp first = state.apps().getFirst();
    DesiredState forged =
        new DesiredState(
            id,
            now + 1,
            state.issuedAt(),
            List.of(
                new DesiredState.DesiredApp(
                    first.name(), first.source(), "forged", digest, real.length)));
    byte[] bytes = io.edgefleet.protocol.Json.writeBytes(forged);
    byte[] other = "kind: Secret\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    push(
        id,
        now + 1,
        java.util.Base64.getEncoder().encodeToString(bytes),
        io.edgefleet.protocol.tls.Signatures.sign(
            controller
                .controller()
                .pki()
                .signingKeys()
                .ring()
                .privateKey(controller.controller().pki().signingKeys().ring().current().id()),
            bytes),
        Map.of(
            digest,
            java.util.Base64.getEncoder()
                .encodeToString(io.edgefleet.protocol.Gzip.deflate(other))));
    awaitEvent(id, "bundle-digest-mismatch");
    assertThat(agent.generation()).as("the last good state stays in effect").isEqualTo(now);
    assertThat(replicas()).isEqualTo(2);
  }

  @Test
  void helmChartIsRenderedPerDeviceWithOverridesAndTagValues() throws Exception {
    String chart = app;
    commit(
        Map.of(
            "apps/" + chart + "/Chart.yaml",
            "apiVersion: v2\nname: " + chart + "\nversion: 0.1.0\n",
            "apps/" + chart + "/values.yaml",
            "replicaCount: 1\nsite: \"${tag:site}\"\n",
            "apps/" + chart + "/edgefleet-overrides.yaml",
            "- selector: site-size=large\n  values: {replicaCount: 3}\n",
            "apps/" + chart + "/templates/deployment.yaml",
            deployment(1).replace("replicas: 1", "replicas: {{ .Values.replicaCount }}"),
            "apps/" + chart + "/templates/site.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: site\ndata:\n  site: {{ .Values.site | quote }}\n"),
        "helm chart");
    addRepo("role=pos");
    Agent agent = startAgent("a1", Map.of("role", "pos", "site", "store-42", "site-size", "large"));
    String id = agent.status().deviceId().orElseThrow();

    await().atMost(Duration.ofSeconds(60)).until(() -> replicas() == 3);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> KUBE.client().configMaps().inNamespace(app).withName("site").get(),
            cm -> cm != null && "store-42".equals(cm.getData().get("site")));
    awaitAppState(id, repo.head(), null);
  }

  @Test
  void aChartIsRenderedForTheKubernetesVersionTheAgentReports() throws Exception {
    String gitVersion = KUBE.client().getKubernetesVersion().getGitVersion();
    String version = gitVersion.replaceFirst("\\+.*", "");
    // Helm's default (v1.20.0) is below this constraint; every cluster the tests run on meets it.
    commit(
        Map.of(
            "apps/" + app + "/Chart.yaml",
            "apiVersion: v2\nname: " + app + "\nversion: 0.1.0\nkubeVersion: \">=1.20.1-0\"\n",
            "apps/" + app + "/templates/kube.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kube\n"
                + "data:\n  version: {{ .Capabilities.KubeVersion.Version | quote }}\n"),
        "a chart for newer clusters");
    addRepo("role=edge");
    Agent agent = startAgent("a1", Map.of("role", "edge"));
    String id = agent.status().deviceId().orElseThrow();

    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> KUBE.client().configMaps().inNamespace(app).withName("kube").get(),
            cm -> cm != null && version.equals(cm.getData().get("version")));
    assertThat(
            admin
                .get("/api/v1/devices/" + id)
                .body()
                .path("facts")
                .path("kubernetesVersion")
                .asText())
        .isEqualTo(gitVersion);
    awaitAppState(id, repo.head(), null);
  }

  // ------------------------------------------------------------------ helpers

  /** Sends a nudge that carries a document (and inline bundles) straight to the device. */
  private void push(
      String deviceId, long generation, String payload, String signature, Map<String, String> b) {
    assertThat(
            controller
                .controller()
                .connections()
                .send(
                    deviceId,
                    new io.edgefleet.protocol.ControllerMessage.Nudge(
                        generation,
                        new io.edgefleet.protocol.SignedDesiredState(payload, signature),
                        b)))
        .isTrue();
  }

  /** Requests devices made for desired states and bundles, from the controller's /metrics. */
  private double deviceFetches() {
    String text = admin.get("/metrics").body().asText();
    double n = 0;
    for (String line : text.split("\n")) {
      if (line.startsWith("edgefleet_http_requests_total{")
          && (line.contains("route=\"" + io.edgefleet.protocol.DeviceApi.DESIRED)
              || line.contains("route=\"" + io.edgefleet.protocol.DeviceApi.BUNDLES))) {
        n += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return n;
  }

  private String[] storedDocument(String deviceId) {
    return controller
        .controller()
        .database()
        .jdbi()
        .withHandle(
            h ->
                h.createQuery("SELECT payload, signature FROM device_desired WHERE device_id = :d")
                    .bind("d", deviceId)
                    .map((rs, ctx) -> new String[] {rs.getString(1), rs.getString(2)})
                    .one());
  }

  private void forge(String deviceId, long generation, String payload, String signature) {
    controller
        .controller()
        .database()
        .jdbi()
        .useHandle(
            h ->
                h.createUpdate(
                        "UPDATE device_desired SET generation = :g, payload = :p, signature = :s"
                            + " WHERE device_id = :d")
                    .bind("g", generation)
                    .bind("p", payload)
                    .bind("s", signature)
                    .bind("d", deviceId)
                    .execute());
    controller.controller().connections().nudge(deviceId, generation);
  }

  private void awaitEvent(String deviceId, String kind) {
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                items("/api/v1/devices/" + deviceId + "/events").stream()
                    .anyMatch(e -> e.path("kind").asText().equals(kind)));
  }

  private void addRepo(String target) {
    AdminClient.Answer a =
        admin.post(
            "/api/v1/repos",
            Map.of("name", "fleet", "url", repo.url(), "target", target, "interval", "5s"));
    assertThat(a.status()).as(a.body().toString()).isEqualTo(201);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                admin
                    .get("/api/v1/repos/fleet")
                    .body()
                    .path("lastCommit")
                    .path("sha")
                    .asText()
                    .equals(repo.head()));
  }

  private Path bootstrapFor(Map<String, String> tags) {
    return agents.bootstrap(
        "b-" + String.join("-", tags.values()),
        controller.url(),
        controller.caFingerprint(),
        controller.token(tags, null, false));
  }

  private Agent startAgent(String name, Map<String, String> tags) {
    Agent agent =
        startAgent(
            agents.options(name, bootstrapFor(tags)).withReconcileInterval(Duration.ofSeconds(1)));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> agent.status().state() == Agent.State.CONNECTED);
    return agent;
  }

  private Agent startAgent(AgentOptions options) {
    return agents.start(options, Clock.systemUTC(), new KubernetesRuntime(KUBE.kubeconfig()));
  }

  /** Waits until commit {@code sha} is in effect and the device runs the app's revision at it. */
  private void awaitAppState(String deviceId, String sha, String state) {
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> {
              String revision = revisionAt(sha);
              JsonNode r = appRow(deviceId);
              return revision != null
                  && r != null
                  && r.path("runningRevision").asText().equals(revision)
                  && (state == null || r.path("state").asText().equals(state));
            });
  }

  /** The app's content revision once commit {@code sha} is in effect; null before. */
  private String revisionAt(String sha) {
    JsonNode source = admin.get("/api/v1/repos/fleet").body();
    if (!source.path("lastCommit").path("sha").asText().equals(sha)) {
      return null;
    }
    for (JsonNode r : source.path("revisions")) {
      if (r.path("app").asText().equals(app)) {
        return r.path("revision").asText();
      }
    }
    return null;
  }

  private JsonNode appRow(String deviceId) {
    JsonNode status = admin.get("/api/v1/apps/" + app + "/status").body();
    for (JsonNode d : status.path("devices")) {
      if (d.path("deviceId").asText().equals(deviceId)) {
        return d;
      }
    }
    return null;
  }

  private Deployment awaitDeployment() {
    return await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> KUBE.client().apps().deployments().inNamespace(app).withName("web").get(),
            d -> d != null);
  }

  private boolean deploymentExists() {
    return KUBE.client().apps().deployments().inNamespace(app).withName("web").get() != null;
  }

  private int replicas() {
    Deployment d = KUBE.client().apps().deployments().inNamespace(app).withName("web").get();
    return d == null ? -1 : d.getSpec().getReplicas();
  }

  private List<JsonNode> items(String path) {
    return StreamSupport.stream(admin.get(path).body().path("items").spliterator(), false).toList();
  }

  /** Commits exactly these files under apps/: what is not given is removed. */
  private void commit(Map<String, String> files, String message) {
    if (java.nio.file.Files.exists(repo.work().resolve("apps"))) {
      repo.delete("apps");
    }
    files.forEach(repo::write);
    repo.commit(message);
  }

  private static String deployment(int replicas) {
    return GitRepo.deployment("web", replicas);
  }

  private static String configMap(String name) {
    return GitRepo.configMap(name, "greeting", "hello");
  }
}
