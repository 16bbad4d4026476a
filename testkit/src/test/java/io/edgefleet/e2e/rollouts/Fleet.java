package io.edgefleet.e2e.rollouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.runtime.kubernetes.KubernetesRuntime;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.RecordingRuntime;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.kube.KubeCluster;
import io.edgefleet.testkit.kube.KubeletStandIn;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Predicate;
import java.util.stream.StreamSupport;

/**
 * A fleet for rollout tests: agents on one real API server, each applying the app into its own
 * namespace (the chart's namespace comes from the device tag {@code ns} at render time), each with
 * its own inventory, every runtime recording the revisions it went through.
 */
final class Fleet implements AutoCloseable {
  static final KubeCluster KUBE = KubeCluster.shared();

  final String suffix = UUID.randomUUID().toString().substring(0, 6);
  final String app = "pos-" + suffix;
  private final Path dir;
  private final TestAgents agents;
  private final String url;
  private final String caFingerprint;
  private AdminClient admin;
  private List<String> moreUrls = List.of();
  final Map<String, Device> devices = new LinkedHashMap<>();

  /** One agent and what it applied. */
  record Device(String name, String id, Agent agent, RecordingRuntime runtime) {}

  Fleet(Path dir, String url, String caFingerprint, AdminClient admin) {
    this.dir = dir;
    this.agents = new TestAgents(dir);
    this.url = url;
    this.caFingerprint = caFingerprint;
    this.admin = admin;
  }

  void moreUrls(List<String> urls) {
    moreUrls = List.copyOf(urls);
  }

  void use(AdminClient other) {
    admin = other;
  }

  /** Starts agents {@code prefix-00 …} with these tags plus {@code fleet} and {@code ns}. */
  List<Device> start(String prefix, int count, Map<String, String> tags) {
    List<Device> started = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      String name = prefix + "-" + String.format("%02d", i);
      Map<String, String> t = new LinkedHashMap<>(tags);
      t.put("fleet", suffix);
      t.put("ns", namespace(name));
      AdminClient.Answer token =
          admin.post("/api/v1/onboarding-tokens", Map.of("tags", t, "maxUses", 1));
      assertThat(token.status()).as(token.body().toString()).isEqualTo(201);
      Path bootstrap = dir.resolve("bootstrap-" + name + ".json");
      SecureFiles.writeSecret(
          bootstrap,
          Json.pretty(
              Bootstrap.of(url, caFingerprint, token.body().path("token").asText())
                  .withMoreUrls(moreUrls)));
      started.add(launch(name, bootstrap));
    }
    for (Device d : started) {
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> d.agent().status().state() == Agent.State.CONNECTED);
    }
    List<Device> out = new ArrayList<>();
    for (Device d : started) {
      Device withId =
          new Device(d.name(), d.agent().status().deviceId().orElseThrow(), d.agent(), d.runtime());
      devices.put(d.name(), withId);
      out.add(withId);
    }
    return out;
  }

  private Device launch(String name, Path bootstrap) {
    RecordingRuntime runtime =
        new RecordingRuntime(
            new KubernetesRuntime(
                KubernetesRuntime.Options.of(KUBE.kubeconfig())
                    .withInventoryNamespace("inv-" + namespace(name))));
    Agent agent = agents.start(agents.options(name, bootstrap), Clock.systemUTC(), runtime);
    return new Device(name, null, agent, runtime);
  }

  /** Stops a device's agent: it goes silent as if its link were cut. */
  void stop(String name) {
    devices.get(name).agent().close();
  }

  /** Starts the device's agent again from its saved identity; what it applied so far is kept. */
  Device restart(String name) {
    Device old = devices.get(name);
    Path bootstrap = dir.resolve("bootstrap-" + name + ".json");
    Device fresh = launch(name, bootstrap);
    Device merged = new Device(name, old.id(), fresh.agent(), fresh.runtime());
    devices.put(name, merged);
    return merged;
  }

  String namespace(String device) {
    return "rt-" + suffix + "-" + device;
  }

  /**
   * The test chart: one Deployment whose namespace and image come from the values, so that each
   * device can run it in its own namespace ({@code namespace: ${tag:ns}}).
   */
  static Map<String, String> chart(String name, String version, String namespace, String image) {
    Map<String, String> files = new LinkedHashMap<>();
    files.put("Chart.yaml", "apiVersion: v2\nname: " + name + "\nversion: " + version + "\n");
    files.put(
        "values.yaml",
        "namespace: \"" + namespace + "\"\nimage: registry.example/edgefleet/pos:" + image + "\n");
    files.put(
        "templates/deployment.yaml",
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: pos
          namespace: {{ .Values.namespace }}
        spec:
          replicas: 1
          selector: {matchLabels: {app: pos}}
          template:
            metadata: {labels: {app: pos}}
            spec:
              containers:
              - name: pos
                image: {{ .Values.image }}
        """);
    return files;
  }

  /** Pushes the test chart as version {@code version} whose pods run the given image tag. */
  void push(String version, String imageTag) throws IOException, InterruptedException {
    Path chart = dir.resolve("chart-" + version).resolve(app);
    for (var f : chart(app, version, "default", imageTag).entrySet()) {
      Files.createDirectories(chart.resolve(f.getKey()).getParent());
      Files.writeString(chart.resolve(f.getKey()), f.getValue());
    }
    Path archive = dir.resolve(app + "-" + version + ".tgz");
    Process tar =
        new ProcessBuilder(
                "tar", "-czf", archive.toString(), "-C", chart.getParent().toString(), app)
            .redirectErrorStream(true)
            .start();
    assertThat(tar.waitFor()).as(new String(tar.getInputStream().readAllBytes())).isZero();
    AdminClient.Answer pushed =
        admin.post(
            "/api/v1/catalog/apps/" + app + "/versions",
            Map.of(
                "version",
                version,
                "kind",
                "chart",
                "archive",
                Base64.getEncoder().encodeToString(Files.readAllBytes(archive))));
    assertThat(pushed.status()).as(pushed.body().toString()).isEqualTo(201);
  }

  /** Deploys a version to the whole fleet with an optional rollout policy; returns the rollout. */
  String deploy(String version, String policy) {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("app", app);
    body.put("version", version);
    body.put("target", "fleet=" + suffix);
    body.put("values", Map.of("namespace", "${tag:ns}"));
    if (policy != null) {
      body.put("rollout", policy);
    }
    AdminClient.Answer a = admin.post("/api/v1/deployments", body);
    assertThat(a.status()).as(a.body().toString()).isEqualTo(201);
    return a.body().path("latestRollout").path("id").asText();
  }

  /** Upgrades the deployment to a version with a rollout policy; returns the new rollout. */
  String upgrade(String version, String policy) {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("version", version);
    if (policy != null) {
      body.put("rollout", policy);
    }
    AdminClient.Answer a = admin.post("/api/v1/deployments/" + app + "/upgrade", body);
    assertThat(a.status()).as(a.body().toString()).isEqualTo(200);
    return a.body().path("latestRollout").path("id").asText();
  }

  String revision() {
    return admin.get("/api/v1/deployments/" + app).body().path("revision").asText();
  }

  JsonNode rollout(String id) {
    AdminClient.Answer a = admin.get("/api/v1/rollouts/" + id + "?devices=true");
    assertThat(a.status()).as(a.body().toString()).isEqualTo(200);
    return a.body();
  }

  JsonNode awaitRollout(String id, Duration within, Predicate<JsonNode> condition) {
    JsonNode[] last = {null};
    await()
        .atMost(within)
        .pollInterval(Duration.ofMillis(200))
        .alias("rollout " + id)
        .until(
            () -> {
              last[0] = rollout(id);
              return condition.test(last[0]);
            });
    return last[0];
  }

  static Predicate<JsonNode> state(String state) {
    return r -> r.path("state").asText().equals(state);
  }

  /** Per device id, the revision it reports running and its state, from the app status. */
  Map<String, String[]> running() {
    Map<String, String[]> out = new LinkedHashMap<>();
    AdminClient.Answer a = admin.get("/api/v1/apps/" + app + "/status");
    if (a.status() != 200) {
      return out;
    }
    for (JsonNode d : a.body().path("devices")) {
      out.put(
          d.path("deviceId").asText(),
          new String[] {d.path("runningRevision").asText(""), d.path("state").asText()});
    }
    return out;
  }

  /** Waits until these devices report running the revision READY. */
  void awaitReady(Duration within, String revision, List<Device> which) {
    await()
        .atMost(within)
        .pollInterval(Duration.ofMillis(250))
        .alias(which.size() + " device(s) READY on " + revision)
        .until(
            () -> {
              Map<String, String[]> r = running();
              return which.stream()
                  .allMatch(
                      d -> {
                        String[] s = r.get(d.id());
                        return s != null && s[0].equals(revision) && s[1].equals("READY");
                      });
            });
  }

  static List<JsonNode> list(JsonNode array) {
    return StreamSupport.stream(array.spliterator(), false).toList();
  }

  static final String NEVER_READY = KubeletStandIn.TAG_NEVER_READY;

  @Override
  public void close() {
    agents.close();
    for (String name : devices.keySet()) {
      KUBE.client().namespaces().withName(namespace(name)).delete();
      KUBE.client().namespaces().withName("inv-" + namespace(name)).delete();
    }
  }
}
