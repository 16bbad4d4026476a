package io.edgefleet.e2e.profiles;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.runtime.kubernetes.KubernetesRuntime;
import io.edgefleet.controller.clusters.ProfileSource;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.RecordingRuntime;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import io.edgefleet.testkit.kube.KubeCluster;
import io.edgefleet.testkit.kube.KubeletStandIn;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Predicate;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Profile bumps end to end: a real controller, agents over mutual TLS standing for the members of
 * three K3s clusters, each applying what it is told into a real API server where the kubelet
 * stand-in makes pods ready (or never ready). The cluster tags are put on the devices when they
 * enroll, as the clusters feature keeps them.
 */
class ProfileRolloutIT {
  private static final KubeCluster KUBE = KubeCluster.shared();
  private static final String APPLIER = "cluster.edgefleet.io/applier";
  private static final String PROFILE = "cluster.edgefleet.io/profile";
  private static final String CLUSTER = "cluster.edgefleet.io/name";

  @TempDir Path dir;
  private final String suffix = UUID.randomUUID().toString().substring(0, 6);
  private final String chart = "stack-" + suffix;
  private final String profile = "edge-" + suffix;
  private TestController controller;
  private TestAgents agents;
  private final Map<String, Device> devices = new LinkedHashMap<>();

  record Device(String name, String id, Agent agent, RecordingRuntime runtime) {}

  @AfterEach
  void stop() {
    if (agents != null) {
      agents.close();
    }
    for (String name : devices.keySet()) {
      KUBE.client().namespaces().withName(namespace(name)).delete();
      KUBE.client().namespaces().withName("inv-" + namespace(name)).delete();
    }
    if (controller != null) {
      controller.close();
    }
  }

  @Test
  void aProfileBumpReachesOnlyAppliersCanaryFirstAndAFailingLayerRollsBack() throws Exception {
    controller = TestController.start(dir.resolve("controller"));
    agents = new TestAgents(dir);
    AdminClient admin = controller.admin();
    // Three clusters following the profile: an applier server and an agent each; a fourth
    // cluster's applier follows another profile.
    List<Device> appliers = new ArrayList<>();
    List<Device> others = new ArrayList<>();
    for (int c = 1; c <= 3; c++) {
      appliers.add(
          start("c" + c + "-s", Map.of(CLUSTER, "c" + c, APPLIER, "true", PROFILE, profile)));
      others.add(start("c" + c + "-a", Map.of(CLUSTER, "c" + c, PROFILE, profile)));
    }
    others.add(start("c4-s", Map.of(CLUSTER, "c4", APPLIER, "true", PROFILE, "other")));
    push("1.0.0", "1.0");
    push("2.0.0", KubeletStandIn.TAG_NEVER_READY);
    push("2.1.0", "2.1");

    AdminClient.Answer created =
        admin.post(
            "/api/v1/profiles",
            Map.of("name", profile, "selector", "*", "layers", layers("v1.20.2+k3s1", "1.0.0")));
    assertThat(created.status()).as(created.body().toString()).isEqualTo(201);
    String first = created.body().path("latestRollout").path("id").asText();
    awaitRollout(first, Duration.ofSeconds(120), state("SUCCEEDED"));
    String v1 = profile + "@1";
    awaitReady(Duration.ofSeconds(120), v1, appliers);

    // The diff says what a bump to the failing version changes before it starts.
    AdminClient.Answer failing =
        admin.post(
            "/api/v1/profiles/" + profile + "/versions",
            Map.of(
                "layers",
                layers("v1.21.1+k3s1", "2.0.0"),
                "rollout",
                "canary: 1\nwaves: [100%]\nprogressDeadline: 8s\nonFailure: rollback\n"));
    assertThat(failing.status()).as(failing.body().toString()).isEqualTo(201);
    JsonNode diff = admin.get("/api/v1/profiles/" + profile + "/diff?from=1&to=2").body();
    assertThat(diff.path("nodesRestart").asBoolean()).isTrue();
    assertThat(diff.path("layers").get(1).path("details").toString())
        .contains("version 1.0.0 -> 2.0.0");
    String bad = latestRollout(admin);
    JsonNode rolledBack = awaitRollout(bad, Duration.ofSeconds(150), state("ROLLED_BACK"));
    assertThat(rolledBack.path("reason").asText()).contains("not READY within 8s");
    assertThat(rolledBack.path("batches").get(0).path("name").asText()).isEqualTo("canary");
    assertThat(rolledBack.path("batches").get(0).path("counts").path("targeted").asInt())
        .isEqualTo(1);
    Set<String> canary = devicesOfBatch(rolledBack, 0);
    awaitReady(Duration.ofSeconds(90), v1, appliers);
    for (Device d : appliers) {
      if (canary.contains(d.id())) {
        assertThat(d.runtime().revisions(profile))
            .as(d.name())
            .containsExactly(v1, profile + "@2", v1);
      } else {
        assertThat(d.runtime().revisions(profile)).as(d.name()).containsExactly(v1);
      }
    }
    // The rolled-back canary cluster's Kubernetes layer is v1's again; the others never left.
    ProfileSource source = controller.controller().profileSource();
    for (Device d : appliers) {
      assertThat(source.kubernetesFor(d.name(), profile, d.id()))
          .as(d.name())
          .hasValueSatisfying(l -> assertThat(l.kubernetesVersion()).isEqualTo("v1.20.2+k3s1"));
    }

    // A good bump: the canary cluster first, then the rest; every applier ends on v3.
    AdminClient.Answer good =
        admin.post(
            "/api/v1/profiles/" + profile + "/versions",
            Map.of(
                "layers",
                layers("v1.21.1+k3s1", "2.1.0"),
                "rollout",
                "canary: 1\nwaves: [100%]\nprogressDeadline: 2m\n"));
    assertThat(good.status()).as(good.body().toString()).isEqualTo(201);
    String v3 = profile + "@3";
    JsonNode done = awaitRollout(latestRollout(admin), Duration.ofSeconds(180), state("SUCCEEDED"));
    awaitReady(Duration.ofSeconds(60), v3, appliers);
    assertThat(list(done.path("batches")))
        .extracting(b -> b.path("name").asText() + ":" + b.path("counts").path("targeted").asInt())
        .containsExactly("canary:1", "wave-1:2");
    long canaryDone = -1;
    for (JsonNode e : list(done.path("events"))) {
      if (e.path("kind").asText().equals("BATCH_SUCCEEDED") && e.path("batch").asInt() == 0) {
        canaryDone = e.path("seq").asLong();
      }
    }
    for (JsonNode e : list(done.path("events"))) {
      if (e.path("kind").asText().equals("RELEASED") && e.path("batch").asInt() == 1) {
        assertThat(e.path("seq").asLong()).isGreaterThan(canaryDone);
      }
    }
    for (Device d : appliers) {
      assertThat(source.kubernetesFor(d.name(), profile, d.id()))
          .hasValueSatisfying(l -> assertThat(l.kubernetesVersion()).isEqualTo("v1.21.1+k3s1"));
    }
    // Members that do not apply their cluster's apps, and another profile's applier, never got it.
    for (Device d : others) {
      assertThat(d.runtime().revisions(profile)).as(d.name()).isEmpty();
    }
  }

  private List<Map<String, Object>> layers(String kubernetes, String stackVersion) {
    Map<String, Object> k3s = new LinkedHashMap<>();
    k3s.put("name", "k3s");
    k3s.put("kind", "kubernetes");
    k3s.put("kubernetesVersion", kubernetes);
    k3s.put("config", Map.of("disable", List.of("traefik")));
    Map<String, Object> stack = new LinkedHashMap<>();
    stack.put("name", "stack");
    stack.put("kind", "addon");
    stack.put("app", chart);
    stack.put("version", stackVersion);
    stack.put("values", Map.of("namespace", "${tag:ns}"));
    return List.of(k3s, stack);
  }

  private String latestRollout(AdminClient admin) {
    return admin
        .get("/api/v1/profiles/" + profile)
        .body()
        .path("latestRollout")
        .path("id")
        .asText();
  }

  private Device start(String name, Map<String, String> tags) {
    Map<String, String> t = new LinkedHashMap<>(tags);
    t.put("ns", namespace(name));
    AdminClient.Answer token =
        controller.admin().post("/api/v1/onboarding-tokens", Map.of("tags", t, "maxUses", 1));
    assertThat(token.status()).as(token.body().toString()).isEqualTo(201);
    Path bootstrap =
        agents.bootstrap(
            name,
            controller.url(),
            controller.caFingerprint(),
            token.body().path("token").asText());
    RecordingRuntime runtime =
        new RecordingRuntime(
            new KubernetesRuntime(
                KubernetesRuntime.Options.of(KUBE.kubeconfig())
                    .withInventoryNamespace("inv-" + namespace(name))));
    Agent agent = agents.start(agents.options(name, bootstrap), Clock.systemUTC(), runtime);
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> agent.status().state() == Agent.State.CONNECTED);
    Device d = new Device(name, agent.status().deviceId().orElseThrow(), agent, runtime);
    devices.put(name, d);
    return d;
  }

  private String namespace(String device) {
    return "pf-" + suffix + "-" + device;
  }

  /** Pushes a chart whose one Deployment runs in the values' namespace with this image tag. */
  private void push(String version, String imageTag) throws IOException, InterruptedException {
    Path root = dir.resolve("chart-" + version).resolve(chart);
    Map<String, String> files = new LinkedHashMap<>();
    files.put("Chart.yaml", "apiVersion: v2\nname: " + chart + "\nversion: " + version + "\n");
    files.put(
        "values.yaml",
        "namespace: \"default\"\nimage: registry.example/edgefleet/stack:" + imageTag + "\n");
    files.put(
        "templates/deployment.yaml",
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: stack
          namespace: {{ .Values.namespace }}
        spec:
          replicas: 1
          selector: {matchLabels: {app: stack}}
          template:
            metadata: {labels: {app: stack}}
            spec:
              containers:
              - name: stack
                image: {{ .Values.image }}
        """);
    for (var f : files.entrySet()) {
      Files.createDirectories(root.resolve(f.getKey()).getParent());
      Files.writeString(root.resolve(f.getKey()), f.getValue());
    }
    Path archive = dir.resolve(chart + "-" + version + ".tgz");
    Process tar =
        new ProcessBuilder(
                "tar", "-czf", archive.toString(), "-C", root.getParent().toString(), chart)
            .redirectErrorStream(true)
            .start();
    assertThat(tar.waitFor()).as(new String(tar.getInputStream().readAllBytes())).isZero();
    AdminClient.Answer pushed =
        controller
            .admin()
            .post(
                "/api/v1/catalog/apps/" + chart + "/versions",
                Map.of(
                    "version",
                    version,
                    "kind",
                    "chart",
                    "archive",
                    Base64.getEncoder().encodeToString(Files.readAllBytes(archive))));
    assertThat(pushed.status()).as(pushed.body().toString()).isEqualTo(201);
  }

  private JsonNode awaitRollout(String id, Duration within, Predicate<JsonNode> condition) {
    JsonNode[] last = {null};
    await()
        .atMost(within)
        .pollInterval(Duration.ofMillis(250))
        .alias("rollout " + id)
        .until(
            () -> {
              last[0] = controller.admin().get("/api/v1/rollouts/" + id + "?devices=true").body();
              return condition.test(last[0]);
            });
    return last[0];
  }

  private static Predicate<JsonNode> state(String state) {
    return r -> r.path("state").asText().equals(state);
  }

  /** Waits until these devices report running the profile's revision READY. */
  private void awaitReady(Duration within, String revision, List<Device> which) {
    await()
        .atMost(within)
        .pollInterval(Duration.ofMillis(250))
        .alias(which.size() + " applier(s) READY on " + revision)
        .until(
            () -> {
              Map<String, String> ready = new LinkedHashMap<>();
              AdminClient.Answer a = controller.admin().get("/api/v1/apps/" + profile + "/status");
              if (a.status() != 200) {
                return false;
              }
              for (JsonNode d : a.body().path("devices")) {
                ready.put(
                    d.path("deviceId").asText(),
                    d.path("runningRevision").asText("") + " " + d.path("state").asText());
              }
              return which.stream().allMatch(d -> (revision + " READY").equals(ready.get(d.id())));
            });
  }

  private static Set<String> devicesOfBatch(JsonNode rollout, int batch) {
    Set<String> out = new HashSet<>();
    for (JsonNode d : rollout.path("devices")) {
      if (d.path("batch").asInt() == batch) {
        out.add(d.path("deviceId").asText());
      }
    }
    return out;
  }

  private static List<JsonNode> list(JsonNode array) {
    return StreamSupport.stream(array.spliterator(), false).toList();
  }
}
