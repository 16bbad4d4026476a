package io.edgefleet.e2e.gitops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.runtime.kubernetes.KubernetesRuntime;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.GitRepo;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import io.edgefleet.testkit.kube.KubeCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three devices on one real API server, each agent with its own inventory: a commit of an app that
 * targets {@code site=a} is applied by exactly the two matching devices (within 5 s of the webhook,
 * within 20 s by polling), and deleting the app directory prunes it. Bad content in a commit keeps
 * the last good revision running.
 */
class FleetTargetingIT {
  static final KubeCluster KUBE = KubeCluster.shared();

  @TempDir Path dir;
  TestController controller;
  TestAgents agents;
  AdminClient admin;
  GitRepo repo;
  String app;
  String suffix;

  @BeforeEach
  void start() throws Exception {
    suffix = UUID.randomUUID().toString().substring(0, 6);
    app = "pos-" + suffix;
    repo = GitRepo.init(dir.resolve("repo"));
    repo.write("apps/" + app + "/app.yaml", deployment(1) + "---\n" + configMap("v1"));
    repo.commit("add " + app);
    controller = TestController.start(dir.resolve("controller"));
    admin = controller.admin();
    agents = new TestAgents(dir);
  }

  @AfterEach
  void stop() {
    agents.close();
    controller.close();
    repo.close();
    KUBE.client().namespaces().withName(app).delete();
    for (String n : List.of("a1", "a2", "b")) {
      KUBE.client().namespaces().withName(inventory(n)).delete();
    }
  }

  @Test
  void onlyMatchingDevicesApplyAndADeletedAppIsPruned() throws Exception {
    AdminClient.Answer added =
        admin.post("/api/v1/repos", Map.of("name", "fleet", "url", repo.url(), "target", "site=a"));
    assertThat(added.status()).as(added.body().toString()).isEqualTo(201);
    String secret = added.body().path("webhookSecret").asText();
    String a1 = startAgent("a1", "a");
    String a2 = startAgent("a2", "a");
    String b = startAgent("b", "b");
    awaitRunning(Duration.ofSeconds(60), repo.head(), a1, a2);

    // Webhook: both site=a devices apply within 5 s; the site=b device never gets the app.
    repo.write("apps/" + app + "/app.yaml", deployment(2) + "---\n" + configMap("v2"));
    repo.commit("v2");
    webhook(secret);
    awaitRunning(Duration.ofSeconds(5), repo.head(), a1, a2);
    assertThat(
            KUBE.client()
                .apps()
                .deployments()
                .inNamespace(app)
                .withName("web")
                .get()
                .getSpec()
                .getReplicas())
        .isEqualTo(2);
    assertThat(appDevices())
        .extracting(d -> d.path("deviceId").asText())
        .containsExactlyInAnyOrder(a1, a2);
    assertThat(inventoryExists("a1")).isTrue();
    assertThat(inventoryExists("a2")).isTrue();
    assertThat(inventoryExists("b")).isFalse();
    assertThat(admin.get("/api/v1/devices/" + b + "/apps").body().path("items")).isEmpty();

    // Polling (default interval 15 s): within 20 s without any webhook.
    repo.write("apps/" + app + "/app.yaml", deployment(3) + "---\n" + configMap("v3"));
    repo.commit("v3");
    awaitRunning(Duration.ofSeconds(20), repo.head(), a1, a2);

    // The app directory leaves Git: its resources are pruned from the cluster.
    repo.delete("apps/" + app);
    repo.write("apps/other-" + suffix + "/app.yaml", configMap("other"));
    repo.commit("remove " + app);
    webhook(secret);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                KUBE.client().apps().deployments().inNamespace(app).withName("web").get() == null
                    && !inventoryExists("a1")
                    && !inventoryExists("a2"));
  }

  @Test
  void badContentIsRefusedPerCommitOrPerAppAndTheLastGoodRevisionKeepsRunning() throws Exception {
    String good = repo.head();
    admin.post("/api/v1/repos", Map.of("name", "fleet", "url", repo.url(), "target", "site=a"));
    String a1 = startAgent("a1", "a");
    awaitRunning(Duration.ofSeconds(60), good, a1);
    String goodRevision = revisionAt(app, good);

    // Invalid YAML: the commit is refused with a reason, the devices keep the last good revision.
    repo.write(
        "apps/" + app + "/app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n");
    repo.commit("broken yaml");
    String broken = repo.head();
    admin.post("/api/v1/repos/fleet/sync", Map.of());
    JsonNode commit = admin.get("/api/v1/repos/fleet/commits/" + broken).body();
    assertThat(commit.path("status").asText()).isEqualTo("FAILED");
    assertThat(commit.path("error").asText()).isNotBlank();
    assertThat(admin.get("/api/v1/repos/fleet").body().path("lastCommit").path("sha").asText())
        .isEqualTo(good);
    assertThat(appDevices())
        .singleElement()
        .satisfies(d -> assertThat(d.path("runningRevision").asText()).isEqualTo(goodRevision));

    // An unknown kind passes Git but not the API server: that app fails on the device, with the
    // server's reason, while another app of the same commit runs.
    repo.write(
        "apps/" + app + "/app.yaml",
        deployment(1) + "---\napiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n");
    repo.write("apps/ok-" + suffix + "/app.yaml", configMap("ok"));
    repo.commit("unknown kind");
    String next = repo.head();
    admin.post("/api/v1/repos/fleet/sync", Map.of());
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> admin.get("/api/v1/devices/" + a1 + "/apps").body().path("items"),
            items -> {
              boolean failed = false;
              boolean ok = false;
              for (JsonNode i : items) {
                if (i.path("app").asText().equals(app)) {
                  failed =
                      i.path("state").asText().equals("FAILED")
                          && i.path("reason").asText().contains("Gadget");
                }
                if (i.path("app").asText().equals("ok-" + suffix)) {
                  ok =
                      i.path("runningRevision").asText().equals(revisionAt("ok-" + suffix, next))
                          && !i.path("state").asText().equals("FAILED");
                }
              }
              return failed && ok;
            });
    assertThat(KUBE.client().configMaps().inNamespace("ok-" + suffix).withName("settings").get())
        .isNotNull();
    KUBE.client().namespaces().withName("ok-" + suffix).delete();
  }

  // ------------------------------------------------------------------ helpers

  private String startAgent(String name, String site) {
    String token = controller.token(Map.of("site", site), null, false);
    Path bootstrap = agents.bootstrap(name, controller.url(), controller.caFingerprint(), token);
    Agent agent =
        agents.start(
            agents.options(name, bootstrap),
            Clock.systemUTC(),
            new KubernetesRuntime(
                KubernetesRuntime.Options.of(KUBE.kubeconfig())
                    .withInventoryNamespace(inventory(name))));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> agent.status().state() == Agent.State.CONNECTED);
    return agent.status().deviceId().orElseThrow();
  }

  private String inventory(String agent) {
    return "inv-" + agent + "-" + suffix;
  }

  private boolean inventoryExists(String agent) {
    return KUBE.client()
            .configMaps()
            .inNamespace(inventory(agent))
            .withName("edgefleet-inventory-" + app)
            .get()
        != null;
  }

  /** Waits until the commit is in effect and these devices run the app's revision at it. */
  private void awaitRunning(Duration within, String sha, String... deviceIds) {
    await()
        .atMost(within)
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              String revision = revisionAt(app, sha);
              return revision != null
                  && appDevices().stream()
                          .filter(d -> d.path("runningRevision").asText().equals(revision))
                          .count()
                      == deviceIds.length;
            });
  }

  /** The content revision of {@code name} once commit {@code sha} is in effect; null before. */
  private String revisionAt(String name, String sha) {
    JsonNode source = admin.get("/api/v1/repos/fleet").body();
    if (!source.path("lastCommit").path("sha").asText().equals(sha)) {
      return null;
    }
    for (JsonNode r : source.path("revisions")) {
      if (r.path("app").asText().equals(name)) {
        return r.path("revision").asText();
      }
    }
    return null;
  }

  private List<JsonNode> appDevices() {
    AdminClient.Answer a = admin.get("/api/v1/apps/" + app + "/status");
    if (a.status() != 200) {
      return List.of();
    }
    return java.util.stream.StreamSupport.stream(a.body().path("devices").spliterator(), false)
        .toList();
  }

  private void webhook(String secret) throws Exception {
    byte[] body =
        ("{\"ref\":\"refs/heads/main\",\"after\":\"" + repo.head() + "\"}")
            .getBytes(StandardCharsets.UTF_8);
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
    String signature = "sha256=" + HexFormat.of().formatHex(mac.doFinal(body));
    AdminClient.Answer wrong =
        admin.raw("POST", "/api/v1/hooks/git/fleet", body, null, "application/json");
    assertThat(wrong.status()).as("unsigned webhook").isEqualTo(401);
    try (var client =
        java.net.http.HttpClient.newBuilder()
            .sslContext(
                io.edgefleet.protocol.tls.TlsContexts.pinned(
                    new io.edgefleet.protocol.tls.PinnedCaTrustManager(controller.caFingerprint())))
            .build()) {
      var response =
          client.send(
              java.net.http.HttpRequest.newBuilder(
                      java.net.URI.create(controller.url() + "/api/v1/hooks/git/fleet"))
                  .header("Content-Type", "application/json")
                  .header("X-GitHub-Event", "push")
                  .header("X-Hub-Signature-256", signature)
                  .POST(java.net.http.HttpRequest.BodyPublishers.ofByteArray(body))
                  .build(),
              java.net.http.HttpResponse.BodyHandlers.ofString());
      assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    }
  }

  private static String deployment(int replicas) {
    return GitRepo.deployment("web", replicas);
  }

  private static String configMap(String value) {
    return GitRepo.configMap("settings", "version", value);
  }
}
