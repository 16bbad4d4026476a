package io.edgefleet.e2e.clusters;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.runtime.kubernetes.TlsAccess;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.ControllerProcess;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.k3s.NodeNetwork;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.StreamSupport;

/**
 * A site for cluster tests: a controller process on the host, reachable from a {@link NodeNetwork},
 * and devices that each run {@code edgefleet agent} as a process inside their own network
 * namespace, so the K3s nodes they start bind the fixed K3s ports on their own address.
 */
final class ClusterSite implements AutoCloseable {
  final NodeNetwork net;
  final ControllerProcess controller;
  final Path dir;
  private final TestAgents agents;
  private final Map<String, Process> devices = new LinkedHashMap<>();
  private String onboardingToken;

  ClusterSite(Path dir) {
    this.dir = dir;
    this.net = NodeNetwork.create();
    String host = net.hostIp();
    this.controller =
        new ControllerProcess(
            dir.resolve("controller"),
            List.of(
                "--heartbeat",
                "2s",
                "--tls-san",
                host,
                "--advertise-url",
                "https://" + host + ":{port}"),
            "0.0.0.0");
    this.agents = new TestAgents(dir.resolve("agents"));
  }

  ClusterSite start() {
    controller.start();
    return this;
  }

  String controllerUrl() {
    return "https://" + net.hostIp() + ":" + controller.port();
  }

  AdminClient admin() {
    return controller.admin();
  }

  /** Pushes a K3s binary as an artifact; its digest. */
  String push(Path k3s, String version) throws IOException {
    try (AdminClient a = admin()) {
      AdminClient.Answer r =
          a.raw(
              "POST",
              "/api/v1/artifacts?kind=k3s&arch=amd64&version="
                  + URLEncoder.encode(version, StandardCharsets.UTF_8),
              Files.readAllBytes(k3s),
              controller.adminToken(),
              "application/octet-stream");
      if (r.status() / 100 != 2) {
        throw new IllegalStateException("artifact push refused: " + r.status() + " " + r.body());
      }
      return r.body().path("digest").asText();
    }
  }

  /** Starts a device tagged {@code tags} in a namespace of its own; it enrolls at once. */
  void device(String name, Map<String, String> tags) {
    NodeNetwork.Node node = net.add(name);
    String token;
    try (AdminClient a = admin()) {
      AdminClient.Answer created =
          a.post("/api/v1/onboarding-tokens", Map.of("tags", tags, "requireApproval", false));
      if (created.status() != 201) {
        throw new IllegalStateException("onboarding token refused: " + created.body());
      }
      token = created.body().path("token").asText();
    }
    Path bootstrap = agents.bootstrap(name, controllerUrl(), controller.caFingerprint(), token);
    Path home = dir.resolve("devices").resolve(name);
    List<String> cmd =
        List.of(
            ProcessHandle.current().info().command().orElse("java"),
            "-cp",
            System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")),
            "-Xmx160m",
            "-XX:TieredStopAtLevel=1",
            AgentMain.class.getName(),
            "--bootstrap",
            bootstrap.toString(),
            "--state",
            home.resolve("state").toString(),
            "--name",
            name,
            "--no-qr",
            "--no-tpm",
            "--runtime",
            "auto",
            "--max-backoff",
            "5s",
            "--k3s-data-dir",
            home.resolve("k3s").toAbsolutePath().toString(),
            "--kubeconfig",
            kubeconfig(name).toString());
    try {
      Files.createDirectories(home);
      Process p =
          net.command(name, cmd)
              .redirectErrorStream(true)
              .redirectOutput(home.resolve("agent.log").toFile())
              .start();
      devices.put(name, p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    node.ip();
  }

  Path kubeconfig(String name) {
    return dir.resolve("devices").resolve(name).resolve("k3s.yaml").toAbsolutePath();
  }

  /** Kills a device as a power cut would: its agent and everything in its namespace. */
  void kill(String name) {
    Process p = devices.remove(name);
    if (p != null) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      try {
        p.waitFor(20, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    net.killAll(name);
    net.cut(name);
  }

  JsonNode cluster(String name) {
    try (AdminClient a = admin()) {
      return a.get("/api/v1/clusters/" + name).body();
    }
  }

  List<JsonNode> devices() {
    try (AdminClient a = admin()) {
      return StreamSupport.stream(
              a.get("/api/v1/devices").body().path("items").spliterator(), false)
          .toList();
    }
  }

  void awaitOnline(int n) {
    await()
        .atMost(Duration.ofMinutes(3))
        .pollInterval(Duration.ofSeconds(1))
        .until(
            () ->
                devices().stream().filter(d -> d.path("status").asText().equals("ONLINE")).count(),
            c -> c >= n);
  }

  /**
   * Writes a ConfigMap through the API server of {@code node} (its admin kubeconfig, at its node
   * address): the cluster is writable if this succeeds, which takes an etcd quorum.
   */
  boolean write(String node, String key) {
    try {
      TlsAccess.Api api = TlsAccess.kubeconfig(kubeconfig(node));
      HttpClient c =
          HttpClient.newBuilder()
              .sslContext(api.ssl())
              .connectTimeout(Duration.ofSeconds(3))
              .build();
      String server = "https://" + net.node(node).ip() + ":6443";
      String body =
          "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"probe-"
              + key
              + "\"},\"data\":{\"at\":\""
              + System.currentTimeMillis()
              + "\"}}";
      HttpRequest.Builder b =
          HttpRequest.newBuilder(URI.create(server + "/api/v1/namespaces/default/configmaps"))
              .timeout(Duration.ofSeconds(5))
              .header("Content-Type", "application/json")
              .POST(HttpRequest.BodyPublishers.ofString(body));
      api.token().ifPresent(t -> b.header("Authorization", "Bearer " + t));
      HttpResponse<String> r = c.send(b.build(), HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 201;
    } catch (IOException | RuntimeException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** GETs {@code path} from the API server of {@code node}; the status, or -1 if unreachable. */
  int read(String node, String path) {
    return get(node, path).map(r -> r.statusCode()).orElse(-1);
  }

  /** The object at {@code path} on the API server of {@code node}, if it answers 200. */
  Optional<JsonNode> object(String node, String path) {
    return get(node, path)
        .filter(r -> r.statusCode() == 200)
        .map(
            r -> {
              try {
                return io.edgefleet.protocol.Json.mapper().readTree(r.body());
              } catch (IOException e) {
                throw new UncheckedIOException(e);
              }
            });
  }

  private Optional<HttpResponse<String>> get(String node, String path) {
    try {
      TlsAccess.Api api = TlsAccess.kubeconfig(kubeconfig(node));
      HttpClient c =
          HttpClient.newBuilder()
              .sslContext(api.ssl())
              .connectTimeout(Duration.ofSeconds(3))
              .build();
      HttpRequest.Builder b =
          HttpRequest.newBuilder(URI.create("https://" + net.node(node).ip() + ":6443" + path))
              .timeout(Duration.ofSeconds(5))
              .GET();
      api.token().ifPresent(t -> b.header("Authorization", "Bearer " + t));
      return Optional.of(c.send(b.build(), HttpResponse.BodyHandlers.ofString()));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
  }

  /** Pushes a catalog app of plain manifests: {@code files} by name, tarred. */
  void pushManifests(String app, String version, Map<String, String> files) throws Exception {
    Path root = dir.resolve("apps").resolve(app + "-" + version);
    for (Map.Entry<String, String> f : files.entrySet()) {
      Files.createDirectories(root.resolve(app));
      Files.writeString(root.resolve(app).resolve(f.getKey()), f.getValue());
    }
    Path archive = root.resolve(app + ".tgz");
    Process tar =
        new ProcessBuilder("tar", "-czf", archive.toString(), "-C", root.toString(), app)
            .redirectErrorStream(true)
            .start();
    String out = new String(tar.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (tar.waitFor() != 0) {
      throw new IllegalStateException("tar failed: " + out);
    }
    try (AdminClient a = admin()) {
      AdminClient.Answer pushed =
          a.post(
              "/api/v1/catalog/apps/" + app + "/versions",
              Map.of(
                  "version",
                  version,
                  "kind",
                  "manifests",
                  "archive",
                  java.util.Base64.getEncoder().encodeToString(Files.readAllBytes(archive))));
      if (pushed.status() != 201) {
        throw new IllegalStateException("catalog push refused: " + pushed.body());
      }
    }
  }

  /** The devices an app is desired on, by the app status. */
  List<JsonNode> appDevices(String app) {
    try (AdminClient a = admin()) {
      AdminClient.Answer r = a.get("/api/v1/apps/" + app + "/status");
      if (r.status() != 200) {
        return List.of();
      }
      return StreamSupport.stream(r.body().path("devices").spliterator(), false).toList();
    }
  }

  /** The node name of the member that is device {@code deviceId}. */
  Optional<String> nodeOf(JsonNode cluster, String deviceId) {
    for (JsonNode m : cluster.path("members")) {
      if (m.path("deviceId").asText().equals(deviceId)) {
        return Optional.of(m.path("nodeName").asText());
      }
    }
    return Optional.empty();
  }

  Optional<JsonNode> member(JsonNode cluster, String node) {
    for (JsonNode m : cluster.path("members")) {
      if (m.path("nodeName").asText().equals(node)) {
        return Optional.of(m);
      }
    }
    return Optional.empty();
  }

  List<String> members(JsonNode cluster, String role) {
    List<String> out = new ArrayList<>();
    for (JsonNode m : cluster.path("members")) {
      if (m.path("role").asText().equals(role) && !m.path("removing").asBoolean()) {
        out.add(m.path("nodeName").asText());
      }
    }
    return out;
  }

  String log(String name) {
    try {
      return Files.readString(dir.resolve("devices").resolve(name).resolve("agent.log"));
    } catch (IOException e) {
      return "";
    }
  }

  @Override
  public void close() {
    for (String name : List.copyOf(devices.keySet())) {
      Process p = devices.remove(name);
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
    }
    agents.close();
    controller.close();
    net.close();
  }
}
