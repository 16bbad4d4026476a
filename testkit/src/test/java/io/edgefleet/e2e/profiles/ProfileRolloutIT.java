package io.edgefleet.e2e.profiles;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.runtime.kubernetes.KubernetesRuntime;
import io.edgefleet.protocol.ClusterSpec;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.RecordingRuntime;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import io.edgefleet.testkit.kube.KubeCluster;
import io.edgefleet.testkit.kube.KubeletStandIn;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Profile bumps end to end: a real controller, agents over mutual TLS standing for the members of
 * four K3s clusters formed through the clusters API (their K3s played by the test, which answers
 * each member's section with the report a running node would send), each applier applying what it
 * is told into a real API server where the kubelet stand-in makes pods ready (or never ready).
 * Three clusters follow the profile by their labels, a fourth follows another. A bump reaches the
 * canary cluster first, then the others; a failing layer rolls back by itself, and the canary
 * cluster's Kubernetes version follows the rollback.
 */
class ProfileRolloutIT {
  private static final KubeCluster KUBE = KubeCluster.shared();
  private static final String V1 = "v1.20.2+k3s1";
  private static final String V2 = "v1.21.1+k3s1";
  private static final String PROFILE_TAG = "cluster.edgefleet.io/profile";
  private static final String APPLIER_TAG = "cluster.edgefleet.io/applier";

  @TempDir Path dir;
  private final String suffix = UUID.randomUUID().toString().substring(0, 6);
  private final String chart = "stack-" + suffix;
  private final String profile = "edge-" + suffix;
  private TestController controller;
  private TestAgents agents;
  private ClusterMembers members;
  private ScheduledExecutorService k3s;
  private final Map<String, Device> devices = new LinkedHashMap<>();

  /** Every Kubernetes version each device's section asked for, in order, without repeats. */
  private final Map<String, List<String>> versions = new ConcurrentHashMap<>();

  record Device(
      String name, String cluster, ClusterMembers.Device member, RecordingRuntime runtime) {
    String id() {
      return member.id();
    }
  }

  @AfterEach
  void stop() {
    if (k3s != null) {
      k3s.shutdownNow();
    }
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
  void aProfileBumpReachesThreeClustersCanaryFirstAndAFailingLayerRollsBack() throws Exception {
    controller = TestController.start(dir.resolve("controller"));
    agents = new TestAgents(dir);
    members = new ClusterMembers(controller, agents);
    AdminClient admin = controller.admin();
    ClusterMembers.pushK3s(admin, V1);
    ClusterMembers.pushK3s(admin, V2);
    // Four clusters of a server and an agent; c1..c3 are labelled for the profile, c4 is not.
    List<Device> appliers = new ArrayList<>();
    List<Device> others = new ArrayList<>();
    for (int c = 1; c <= 4; c++) {
      String cluster = "c" + c;
      Device server = start(cluster + "-s", cluster);
      Device agent = start(cluster + "-a", cluster);
      (c <= 3 ? appliers : others).add(server);
      others.add(agent);
      AdminClient.Answer created =
          admin.post(
              "/api/v1/clusters",
              ClusterMembers.cluster(
                  cluster, "pool=" + cluster, 1, Map.of("fleet", c <= 3 ? suffix : "other"), V1));
      assertThat(created.status()).as(created.body().toString()).isEqualTo(201);
    }
    k3s = Executors.newSingleThreadScheduledExecutor();
    k3s.scheduleWithFixedDelay(this::playK3s, 0, 300, TimeUnit.MILLISECONDS);
    await()
        .atMost(Duration.ofSeconds(90))
        .alias("four clusters READY")
        .until(
            () ->
                List.of("c1", "c2", "c3", "c4").stream()
                    .allMatch(
                        c ->
                            "READY"
                                .equals(
                                    admin
                                        .get("/api/v1/clusters/" + c)
                                        .body()
                                        .path("state")
                                        .asText())));

    // The profiles: this one for the clusters labelled with the suffix, another for c4.
    AdminClient.Answer created =
        admin.post("/api/v1/profiles", Map.of("name", profile, "selector", "fleet=" + suffix));
    assertThat(created.status()).as(created.body().toString()).isEqualTo(201);
    assertThat(
            admin
                .post(
                    "/api/v1/profiles",
                    Map.of("name", "other-" + suffix, "selector", "fleet=other"))
                .status())
        .isEqualTo(201);
    // The appliers of c1..c3 (and only they) are now what the profile's app targets.
    await()
        .atMost(Duration.ofSeconds(30))
        .alias("profile tags on the members")
        .until(
            () ->
                appliers.stream()
                        .allMatch(
                            d ->
                                profile.equals(tag(d, PROFILE_TAG))
                                    && "true".equals(tag(d, APPLIER_TAG)))
                    && others.stream()
                        .allMatch(
                            d ->
                                (d.cluster().equals("c4") ? "other-" + suffix : profile)
                                    .equals(tag(d, PROFILE_TAG))));
    // Agents carry their cluster's profile tag but do not apply.
    for (Device d : others) {
      if (d.name().endsWith("-a")) {
        assertThat(tag(d, APPLIER_TAG)).as(d.name()).isNull();
      }
    }

    push("1.0.0", "1.0");
    push("2.0.0", KubeletStandIn.TAG_NEVER_READY);
    push("2.1.0", "2.1");
    String v1 = profile + "@1";
    publish(layers(V1, "1.0.0"), "canary: 1\nwaves: [100%]\nprogressDeadline: 1m\n");
    awaitRollout(latestRollout(admin), Duration.ofSeconds(90), state("SUCCEEDED"));
    awaitReady(Duration.ofSeconds(60), v1, appliers);

    // The failing version bumps Kubernetes too; its diff says so before it starts.
    publish(
        layers(V2, "2.0.0"),
        "canary: 1\nwaves: [100%]\nprogressDeadline: 8s\nonFailure: rollback\n");
    JsonNode diff =
        admin.get("/api/v1/profiles/" + profile + "/diff?from=1&to=2&cluster=c1").body();
    assertThat(diff.path("nodesRestart").asBoolean()).as(diff.toString()).isTrue();
    assertThat(diff.path("layers").get(1).path("details").toString())
        .contains("version 1.0.0 -> 2.0.0");
    assertThat(diff.path("manifest").toString())
        .contains("stack:1.0")
        .contains("stack:never-ready");
    String bad = latestRollout(admin);
    JsonNode rolledBack = awaitRollout(bad, Duration.ofSeconds(90), state("ROLLED_BACK"));
    assertThat(rolledBack.path("reason").asText()).contains("not READY within 8s");
    assertThat(rolledBack.path("batches").get(0).path("name").asText()).isEqualTo("canary");
    assertThat(rolledBack.path("batches").get(0).path("counts").path("targeted").asInt())
        .isEqualTo(1);
    Set<String> canary = devicesOfBatch(rolledBack, 0);
    assertThat(canary).hasSize(1);
    awaitReady(Duration.ofSeconds(60), v1, appliers);
    // Every member of every cluster is told v1's Kubernetes version again; only the canary
    // cluster's members were ever told another.
    awaitVersion(Duration.ofSeconds(60), V1);
    for (Device d : appliers) {
      boolean isCanary = canary.contains(d.id());
      if (isCanary) {
        assertThat(d.runtime().revisions(profile))
            .as(d.name())
            .containsExactly(v1, profile + "@2", v1);
      } else {
        assertThat(d.runtime().revisions(profile)).as(d.name()).containsExactly(v1);
      }
      // The server upgrades first, so it went to V2 and back; the agent follows it, unless the
      // rollback came first.
      assertThat(versions.get(d.id()))
          .as(d.name())
          .isEqualTo(isCanary ? List.of(V1, V2, V1) : List.of(V1));
      for (Device m : devices.values()) {
        if (m.cluster().equals(d.cluster()) && m != d) {
          assertThat(versions.get(m.id()))
              .as(m.name())
              .isIn(isCanary ? List.of(List.of(V1, V2, V1), List.of(V1)) : List.of(List.of(V1)));
        }
      }
    }

    // A good bump: the canary cluster first, then the rest; every cluster ends on v3 and V2.
    publish(layers(V2, "2.1.0"), "canary: 1\nwaves: [100%]\nprogressDeadline: 1m\n");
    String v3 = profile + "@3";
    JsonNode done = awaitRollout(latestRollout(admin), Duration.ofSeconds(120), state("SUCCEEDED"));
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
    assertThat(canaryDone).isPositive();
    for (JsonNode e : list(done.path("events"))) {
      if (e.path("kind").asText().equals("RELEASED") && e.path("batch").asInt() == 1) {
        assertThat(e.path("seq").asLong()).isGreaterThan(canaryDone);
      }
    }
    awaitVersionOf(Duration.ofSeconds(60), V2, appliers);
    // Which cluster runs which version: the profile, its version 3 and each cluster view say it.
    await()
        .atMost(Duration.ofSeconds(30))
        .alias("profile views show v3 running")
        .until(
            () -> {
              JsonNode p = admin.get("/api/v1/profiles/" + profile).body();
              Map<String, String> running = new LinkedHashMap<>();
              p.path("clusterVersions")
                  .forEach(
                      c ->
                          running.put(
                              c.path("cluster").asText(),
                              c.path("wanted").asText("") + " " + c.path("running").asText("")));
              return running.equals(
                  Map.of("c1", v3 + " " + v3, "c2", v3 + " " + v3, "c3", v3 + " " + v3));
            });
    JsonNode version3 = admin.get("/api/v1/profiles/" + profile + "/versions/3").body();
    assertThat(list(version3.path("running")))
        .extracting(JsonNode::asText)
        .containsExactly("c1", "c2", "c3");
    JsonNode c1 = admin.get("/api/v1/clusters/c1").body();
    assertThat(c1.path("profileVersions").path("wanted").asText()).isEqualTo(v3);
    assertThat(list(c1.path("profileVersions").path("running")))
        .extracting(JsonNode::asText)
        .containsExactly(v3);
    // Members that do not apply their cluster's apps, and another profile's applier, never got it;
    // c4 never left its own Kubernetes version.
    for (Device d : others) {
      assertThat(d.runtime().revisions(profile)).as(d.name()).isEmpty();
      if (d.cluster().equals("c4")) {
        assertThat(versions.get(d.id())).as(d.name()).containsExactly(V1);
      }
    }
  }

  /** One round of every member's K3s; what each section asked for is recorded. */
  private void playK3s() {
    try {
      Map<String, ClusterSpec> sections = members.round();
      sections.forEach(
          (id, s) -> {
            List<String> seen = versions.computeIfAbsent(id, k -> new CopyOnWriteArrayList<>());
            if (seen.isEmpty() || !seen.getLast().equals(s.kubernetesVersion())) {
              seen.add(s.kubernetesVersion());
            }
          });
    } catch (Exception | AssertionError e) {
      // the next round tries again (a controller restart, a connection being replaced)
    }
  }

  /** Waits until every member of every cluster is told this Kubernetes version. */
  private void awaitVersion(Duration within, String version) {
    awaitVersionOf(within, version, List.copyOf(devices.values()));
  }

  /** Waits until every member of the clusters of these devices is told this Kubernetes version. */
  private void awaitVersionOf(Duration within, String version, List<Device> of) {
    Set<String> clusters = new HashSet<>();
    of.forEach(d -> clusters.add(d.cluster()));
    await()
        .atMost(within)
        .pollInterval(Duration.ofMillis(250))
        .alias("members of " + clusters + " told " + version)
        .until(
            () ->
                devices.values().stream()
                    .filter(d -> clusters.contains(d.cluster()))
                    .allMatch(
                        d -> {
                          List<String> seen = versions.get(d.id());
                          return seen != null && seen.getLast().equals(version);
                        }));
  }

  private void publish(List<Map<String, Object>> layers, String rollout) {
    AdminClient.Answer published =
        controller
            .admin()
            .post(
                "/api/v1/profiles/" + profile + "/versions",
                Map.of("layers", layers, "rollout", rollout));
    assertThat(published.status()).as(published.body().toString()).isEqualTo(201);
  }

  private String tag(Device d, String key) {
    return controller
        .admin()
        .get("/api/v1/devices/" + d.id())
        .body()
        .path("tags")
        .path(key)
        .asText(null);
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

  /** Enrolls a device tagged for a cluster's selector; its applies go to the real API server. */
  private Device start(String name, String cluster) {
    RecordingRuntime runtime =
        new RecordingRuntime(
            new KubernetesRuntime(
                KubernetesRuntime.Options.of(KUBE.kubeconfig())
                    .withInventoryNamespace("inv-" + namespace(name))));
    ClusterMembers.Device member =
        members.enroll(name, Map.of("pool", cluster, "ns", namespace(name)), runtime);
    Device d = new Device(name, cluster, member, runtime);
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
