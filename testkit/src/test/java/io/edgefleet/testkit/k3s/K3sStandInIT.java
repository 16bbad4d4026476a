package io.edgefleet.testkit.k3s;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeCondition;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The {@code k3s} executable of the tests (the stand-in, or a real K3s named by {@code
 * EDGEFLEET_IT_K3S}) forming, growing and healing a cluster with real etcd consensus, every node in
 * its own network namespace.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class K3sStandInIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration UP = Duration.ofSeconds(150);

  private Path root;
  private NodeNetwork net;
  private Path k3s;
  private final String token = "standin-" + Long.toHexString(System.nanoTime());
  private final Map<String, Process> nodes = new LinkedHashMap<>();

  @BeforeAll
  void network() throws IOException {
    // Under target/ so that the logs of every node stay for a look after a failure.
    root =
        Files.createTempDirectory(Files.createDirectories(Path.of("target", "k3s-it")), "run-")
            .toAbsolutePath();
    net = NodeNetwork.create();
    k3s = K3sBinaries.k3s();
  }

  @AfterAll
  void teardown() {
    for (Process p : nodes.values()) {
      p.destroy();
    }
    for (Process p : nodes.values()) {
      try {
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (net != null) {
      net.close();
    }
  }

  @Test
  @Order(1)
  void threeServersFormOneEtcdClusterAndRegisterReadyNodes() throws Exception {
    for (String n : List.of("s1", "s2", "s3")) {
      net.add(n);
    }
    start("s1", "server", Map.of("cluster-init", true, "node-label", List.of("pool=store-1")));
    awaitKubeconfig("s1");
    start("s2", "server", Map.of("server", apiUrl("s1")));
    awaitNodeReady("s2");
    start("s3", "server", Map.of("server", apiUrl("s1")));
    awaitNodeReady("s3");

    assertThat(etcdMembers("s1"))
        .hasSize(3)
        .allSatisfy(m -> assertThat(m.path("isLearner").asBoolean(false)).isFalse())
        .extracting(m -> m.path("name").asText())
        .anySatisfy(n -> assertThat(n).matches("s1-[0-9a-f]{8}"))
        .anySatisfy(n -> assertThat(n).matches("s2-[0-9a-f]{8}"))
        .anySatisfy(n -> assertThat(n).matches("s3-[0-9a-f]{8}"));

    try (KubernetesClient kube = kube("s2")) {
      List<Node> list = kube.nodes().list().getItems();
      assertThat(list)
          .extracting(n -> n.getMetadata().getName())
          .containsExactlyInAnyOrder("s1", "s2", "s3");
      for (Node n : list) {
        assertThat(ready(n)).as("node %s ready", n.getMetadata().getName()).isTrue();
        assertThat(n.getMetadata().getLabels())
            .containsEntry("node-role.kubernetes.io/master", "true")
            .containsEntry("node-role.kubernetes.io/control-plane", "true");
        assertThat(n.getStatus().getNodeInfo().getKubeletVersion())
            .isEqualTo(K3sBinaries.DEFAULT_VERSION);
      }
      assertThat(kube.nodes().withName("s1").get().getMetadata().getLabels())
          .containsEntry("pool", "store-1");
    }
    if (K3sBinaries.isReal()) {
      return; // the effective configuration file is the stand-in's
    }
    JsonNode effective = JSON.readTree(dataDir("s1").resolve("effective-config.json").toFile());
    assertThat(effective.path("config").path("disable").get(0).asText()).isEqualTo("traefik");
    assertThat(effective.path("role").asText()).isEqualTo("server");
  }

  @Test
  @Order(2)
  void anAgentJoinsWithItsLabelsAndTaintsAndStopsOnSigterm() throws Exception {
    net.add("a1");
    start(
        "a1",
        "agent",
        Map.of(
            "server", apiUrl("s1"),
            "node-label", List.of("role=edge"),
            "node-taint", List.of("dedicated=edge:NoSchedule")));
    awaitNodeReady("a1");
    try (KubernetesClient kube = kube("s1")) {
      Node a1 = kube.nodes().withName("a1").get();
      assertThat(a1.getMetadata().getLabels())
          .containsEntry("role", "edge")
          .doesNotContainKey("node-role.kubernetes.io/master");
      assertThat(a1.getSpec().getTaints())
          .anySatisfy(
              t -> {
                assertThat(t.getKey()).isEqualTo("dedicated");
                assertThat(t.getValue()).isEqualTo("edge");
                assertThat(t.getEffect()).isEqualTo("NoSchedule");
              });
      assertThat(kube.nodes().list().getItems()).hasSize(4);

      // A deleted Node stays deleted: the node stops posting its status (heartbeat every 5 s).
      kube.nodes().withName("a1").delete();
      await("a1 stays deleted")
          .during(Duration.ofSeconds(NodeRegistrar.HEARTBEAT_SECONDS + 2))
          .atMost(Duration.ofSeconds(30))
          .until(() -> kube.nodes().withName("a1").get() == null);
    }
    Process agent = nodes.get("a1");
    long t0 = System.nanoTime();
    agent.destroy(); // SIGTERM
    assertThat(agent.waitFor(10, TimeUnit.SECONDS))
        .as("agent exits within 10 s of SIGTERM")
        .isTrue();
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(10));
    if (!K3sBinaries.isReal()) {
      assertThat(agent.exitValue()).as("exit code after SIGTERM").isZero();
    }
  }

  @Test
  @Order(3)
  void aWrongTokenIsRefused() throws Exception {
    net.add("bad");
    Map<String, Object> extra = new LinkedHashMap<>();
    extra.put("server", apiUrl("s1"));
    extra.put("token", "not-the-token");
    Process p = start("bad", "server", extra);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("refused join exits").isTrue();
    assertThat(p.exitValue()).isNotZero();
    if (!K3sBinaries.isReal()) {
      assertThat(Files.readString(root.resolve("bad/k3s.log"))).contains("token is not valid");
    }
    assertThat(etcdMembers("s1")).hasSize(3);
  }

  @Test
  @Order(4)
  void aKilledServerIsRemovedAndReplacedWhileTheClusterStaysWritable() throws Exception {
    Process s3 = nodes.get("s3");
    s3.destroyForcibly(); // kill -9: no chance to stop etcd and kube-apiserver itself
    net.cut("s3");
    assertThat(s3.waitFor(10, TimeUnit.SECONDS)).isTrue();
    // Its etcd and kube-apiserver die with it (parent-death signal), no orphans.
    await("children of the killed stand-in gone")
        .atMost(Duration.ofSeconds(20))
        .until(() -> net.pids("s3").isEmpty());

    try (KubernetesClient kube = kube("s1")) {
      await("cluster writable with 2 of 3")
          .atMost(Duration.ofSeconds(60))
          .ignoreExceptions()
          .untilAsserted(
              () ->
                  kube.configMaps()
                      .inNamespace("default")
                      .resource(
                          new ConfigMapBuilder()
                              .withNewMetadata()
                              .withName("after-loss")
                              .endMetadata()
                              .addToData("k", "v")
                              .build())
                      .createOr(c -> c.update()));
      assertThat(kube.configMaps().inNamespace("default").withName("after-loss").get().getData())
          .containsEntry("k", "v");
    }

    JsonNode dead =
        etcdMembers("s1").stream()
            .filter(m -> m.path("name").asText().startsWith("s3-"))
            .findFirst()
            .orElseThrow();
    etcdCall("s1", "/v3/cluster/member/remove", "{\"ID\":\"" + dead.path("ID").asText() + "\"}");
    assertThat(etcdMembers("s1"))
        .extracting(m -> m.path("name").asText())
        .noneMatch(n -> n.startsWith("s3-"))
        .hasSize(2);
    try (KubernetesClient kube = kube("s1")) {
      kube.nodes().withName("s3").delete();
    }

    net.add("s4");
    start("s4", "server", Map.of("server", apiUrl("s2")));
    awaitNodeReady("s4");
    assertThat(etcdMembers("s1"))
        .hasSize(3)
        .extracting(m -> m.path("name").asText())
        .anySatisfy(n -> assertThat(n).startsWith("s4-"));
    try (KubernetesClient kube = kube("s4")) {
      // The replacement serves what was written while it was not there.
      assertThat(kube.configMaps().inNamespace("default").withName("after-loss").get().getData())
          .containsEntry("k", "v");
      assertThat(kube.nodes().list().getItems())
          .extracting(n -> n.getMetadata().getName())
          .contains("s1", "s2", "s4")
          .doesNotContain("s3");
    }
  }

  @Test
  @Order(5)
  void aServerRestartedWithAnotherVersionKeepsItsEtcdMemberAndReportsTheNewVersion()
      throws Exception {
    Path newer = K3sBinaries.real().orElseGet(() -> K3sBinaries.standIn("v1.20.4+k3s1"));
    String wanted = K3sBinaries.isReal() ? null : "v1.20.4+k3s1";
    String memberBefore =
        etcdMembers("s2").stream()
            .map(m -> m.path("name").asText())
            .filter(n -> n.startsWith("s1-"))
            .findFirst()
            .orElseThrow();
    Process s1 = nodes.get("s1");
    s1.destroy(); // SIGTERM, as the agent stops K3s before an upgrade
    assertThat(s1.waitFor(10, TimeUnit.SECONDS)).as("s1 exits within 10 s").isTrue();

    start("s1", "server", Map.of("cluster-init", true), newer);
    try (KubernetesClient kube = kube("s2")) {
      await("s1 back at the new version")
          .atMost(UP)
          .pollInterval(Duration.ofMillis(500))
          .ignoreExceptions()
          .failFast("s1 exited", () -> exited("s1"))
          .until(
              () -> {
                Node n = kube.nodes().withName("s1").get();
                return ready(n)
                    && (wanted == null
                        || wanted.equals(n.getStatus().getNodeInfo().getKubeletVersion()));
              });
    }
    // The same etcd member, with its data: no new member, three voters.
    assertThat(etcdMembers("s1"))
        .hasSize(3)
        .extracting(m -> m.path("name").asText())
        .contains(memberBefore);
    try (KubernetesClient kube = kube("s1")) {
      assertThat(kube.configMaps().inNamespace("default").withName("after-loss").get()).isNotNull();
    }
  }

  // ---- helpers ----

  private Process start(String node, String role, Map<String, Object> extra) throws IOException {
    return start(node, role, extra, k3s);
  }

  private Process start(String node, String role, Map<String, Object> extra, Path binary)
      throws IOException {
    Path dir = Files.createDirectories(root.resolve(node));
    Map<String, Object> config = new LinkedHashMap<>();
    config.put("token", token);
    config.put("data-dir", dir.resolve("data").toString());
    config.put("node-name", node);
    config.put("node-ip", net.node(node).ip());
    config.put("write-kubeconfig", dir.resolve("kubeconfig.yaml").toString());
    config.put("write-kubeconfig-mode", "0600");
    config.put("disable", List.of("traefik")); // a profile key the stand-in only records
    config.putAll(extra);
    Path file = dir.resolve("config.yaml");
    Files.writeString(
        file, new com.fasterxml.jackson.dataformat.yaml.YAMLMapper().writeValueAsString(config));
    List<String> cmd =
        new ArrayList<>(List.of(binary.toString(), role, "--config", file.toString()));
    Process p =
        net.command(node, cmd)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("k3s.log").toFile()))
            .start();
    nodes.put(node, p);
    return p;
  }

  private Path dataDir(String node) {
    return root.resolve(node).resolve("data");
  }

  private String apiUrl(String node) {
    return "https://" + net.node(node).ip() + ":6443";
  }

  private void awaitKubeconfig(String node) {
    Path kc = root.resolve(node).resolve("kubeconfig.yaml");
    await(node + " kubeconfig")
        .atMost(UP)
        .pollInterval(Duration.ofMillis(500))
        .failFast(node + " exited", () -> exited(node))
        .until(() -> Files.exists(kc));
  }

  /** Whether the node's k3s exited; if so, prints its log to make the failure readable. */
  private boolean exited(String node) throws IOException {
    Process p = nodes.get(node);
    if (p.isAlive()) {
      return false;
    }
    System.err.println(
        node
            + " exited with "
            + p.exitValue()
            + ":\n"
            + Files.readString(root.resolve(node).resolve("k3s.log")));
    return true;
  }

  private void awaitNodeReady(String node) {
    awaitKubeconfig("s1");
    try (KubernetesClient kube = kube("s1")) {
      await(node + " Ready")
          .atMost(UP)
          .pollInterval(Duration.ofMillis(500))
          .ignoreExceptions()
          .failFast(node + " exited", () -> exited(node))
          .until(() -> ready(kube.nodes().withName(node).get()));
    }
  }

  private static boolean ready(Node n) {
    if (n == null || n.getStatus() == null || n.getStatus().getConditions() == null) {
      return false;
    }
    for (NodeCondition c : n.getStatus().getConditions()) {
      if (c.getType().equals("Ready")) {
        return c.getStatus().equals("True");
      }
    }
    return false;
  }

  private KubernetesClient kube(String node) {
    try {
      Config cfg =
          Config.fromKubeconfig(Files.readString(root.resolve(node).resolve("kubeconfig.yaml")));
      cfg.setMasterUrl(apiUrl(node));
      cfg.setRequestTimeout(10_000);
      return new KubernetesClientBuilder().withConfig(cfg).build();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private List<JsonNode> etcdMembers(String node) throws Exception {
    List<JsonNode> out = new ArrayList<>();
    etcdCall(node, "/v3/cluster/member/list", "{}").path("members").forEach(out::add);
    return out;
  }

  private JsonNode etcdCall(String node, String path, String body) throws Exception {
    Path etcd = dataDir(node).resolve("server/tls/etcd");
    HttpClient http =
        HttpClient.newBuilder()
            .sslContext(
                Pki.tls(
                    etcd.resolve("server-ca.crt"),
                    etcd.resolve("client.crt"),
                    etcd.resolve("client.key")))
            .build();
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(URI.create("https://" + net.node(node).ip() + ":2379" + path))
                .timeout(Duration.ofSeconds(10))
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as("etcd %s: %s", path, r.body()).isEqualTo(200);
    return JSON.readTree(r.body());
  }
}
