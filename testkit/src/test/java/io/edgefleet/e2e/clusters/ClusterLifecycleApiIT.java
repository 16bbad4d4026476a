package io.edgefleet.e2e.clusters;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.IdentityStore;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ClusterSpec;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.SealedBox;
import io.edgefleet.protocol.tls.SoftwareKeyAgreement;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.DeviceHttp;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The controller side of K3s clusters over the real HTTPS API with real enrolled agents: the
 * agents' K3s is played by the test, which reads each device's signed desired state over mutual TLS
 * and answers with the cluster-node reports a real member would send. Three tagged devices form a
 * cluster one server at a time, a fourth joins as an agent, an untagged member is removed through
 * the operator server, and the join token reaches members only.
 */
class ClusterLifecycleApiIT {
  private static final String V1 = "v1.20.2+k3s1";
  private static final String IMPORT =
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cattle-system\n";

  @TempDir Path dir;

  private record Device(
      String name, String id, Agent agent, Path stateDir, DeviceHttp http, NodeReports node) {}

  /**
   * The controller's configuration: SQLite here, PostgreSQL in {@code ClusterLifecyclePostgresIT}.
   */
  ControllerConfig config(Path dataDir) {
    return TestController.config(dataDir);
  }

  @Test
  void formsGrowsShrinksAndHandsTheTokenToMembersOnly() throws Exception {
    HttpServer manager = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    manager.createContext(
        "/v3/import/store1.yaml",
        ex -> {
          byte[] body = IMPORT.getBytes(StandardCharsets.UTF_8);
          ex.sendResponseHeaders(200, body.length);
          try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
          }
        });
    manager.start();
    String importUrl =
        "http://127.0.0.1:" + manager.getAddress().getPort() + "/v3/import/store1.yaml";
    try (TestController controller = TestController.start(config(dir.resolve("c")));
        TestAgents agents = new TestAgents(dir)) {
      AdminClient admin = controller.admin();
      byte[] k3s = "#!/bin/sh\necho k3s version v1.20.2+k3s1\n".getBytes(StandardCharsets.UTF_8);
      AdminClient.Answer pushed =
          admin.postBytes(
              "/api/v1/artifacts?kind=k3s&version=" + URLEncoder.encode(V1, StandardCharsets.UTF_8),
              k3s,
              "application/octet-stream",
              Map.of());
      assertThat(pushed.status()).as(pushed.body().toString()).isEqualTo(201);
      String digest = pushed.body().path("digest").asText();

      List<Device> devices = new ArrayList<>();
      for (String name : List.of("n1", "n2", "n3", "n4", "other")) {
        devices.add(enroll(controller, agents, name));
      }
      Device n1 = devices.get(0);
      Device n4 = devices.get(3);
      Device other = devices.get(4);
      for (Device d : devices.subList(0, 3)) {
        tag(admin, d, Map.of("pool", "store1"));
      }

      // Shape refused with a reason, reserved tags refused to operators.
      AdminClient.Answer even =
          admin.post("/api/v1/clusters", cluster("store1", Map.of("min", 2, "max", 4)));
      assertThat(even.code()).isEqualTo("CLUSTER_SHAPE_INVALID");
      assertThat(even.body().path("message").asText()).contains("odd").contains("etcd");
      AdminClient.Answer reserved =
          admin.patch(
              "/api/v1/devices/" + n1.id + "/tags",
              Map.of("set", Map.of("cluster.edgefleet.io/name", "x"), "remove", List.of()));
      assertThat(reserved.code()).isEqualTo("VALIDATION_FAILED");

      Map<String, Object> definition =
          new LinkedHashMap<>(cluster("store1", Map.of("min", 3, "max", 3)));
      definition.put("importManifestUrl", importUrl);
      AdminClient.Answer created = admin.post("/api/v1/clusters", definition);
      assertThat(created.status()).as(created.body().toString()).isEqualTo(201);
      assertThat(
              admin.post("/api/v1/clusters", cluster("store1", Map.of("min", 1, "max", 1))).code())
          .isEqualTo("CLUSTER_EXISTS");

      // Formation: one server at a time, the first initialises; never two joining at once.
      List<String> joinOrder = new ArrayList<>();
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () -> {
                Map<String, ClusterSpec> sections = actAsK3s(devices, Set.of());
                long joining =
                    sections.keySet().stream().filter(id -> !joinOrder.contains(id)).count();
                assertThat(joining).isLessThanOrEqualTo(1);
                sections.keySet().stream()
                    .filter(id -> !joinOrder.contains(id))
                    .forEach(joinOrder::add);
                return "READY".equals(state(admin));
              });
      assertThat(joinOrder)
          .containsExactly(devices.get(0).id, devices.get(1).id, devices.get(2).id);
      ClusterSpec first = desired(n1).cluster();
      assertThat(first.init()).isTrue();
      assertThat(first.role()).isEqualTo("server");
      assertThat(first.k3s().digest()).isEqualTo(digest);
      assertThat(first.kubernetesVersion()).isEqualTo(V1);
      ClusterSpec third = desired(devices.get(2)).cluster();
      assertThat(third.init()).isFalse();
      assertThat(third.servers()).hasSize(2);
      JsonNode view = admin.get("/api/v1/clusters/store1").body();
      assertThat(view.path("members")).hasSize(3);
      assertThat(view.path("etcd").path("voters").asInt()).isEqualTo(3);
      assertThat(view.path("etcd").path("quorumAtRisk").asBoolean()).isFalse();
      assertThat(view.path("applier").asText()).isEqualTo(n1.id);

      // Once up, the cluster manager's import manifest is fetched by the controller and goes to
      // the applier only, as one app.
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () -> desired(n1).apps().stream().anyMatch(a -> a.name().equals("cluster-import")));
      JsonNode imported = admin.get("/api/v1/clusters/store1").body().path("importStatus");
      assertThat(imported.path("state").asText()).isEqualTo("FETCHED");
      assertThat(imported.path("url").asText()).isEqualTo(importUrl);
      assertThat(
              desired(n1).apps().stream()
                  .filter(a -> a.name().equals("cluster-import"))
                  .findFirst()
                  .orElseThrow()
                  .revision())
          .isEqualTo(imported.path("digest").asText())
          .isEqualTo(sha256(IMPORT.getBytes(StandardCharsets.UTF_8)));
      assertThat(desired(devices.get(1)).apps()).noneMatch(a -> a.name().equals("cluster-import"));
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  "true"
                      .equals(
                          admin
                              .get("/api/v1/devices/" + n1.id)
                              .body()
                              .path("tags")
                              .path("cluster.edgefleet.io/applier")
                              .asText()));
      assertThat(
              admin
                  .get("/api/v1/devices/" + n1.id)
                  .body()
                  .path("tags")
                  .path("cluster.edgefleet.io/role")
                  .asText())
          .isEqualTo("server");

      // The token: sealed to each member, refused to a non-member.
      String token = token(n1, 1);
      assertThat(token).isNotBlank().doesNotStartWith("K10");
      assertThat(token(devices.get(1), 1)).isEqualTo(token);
      assertThat(other.http.get(DeviceApi.CLUSTERS + "store1/token?version=1").code())
          .isEqualTo("CLUSTER_NOT_MEMBER");
      assertThat(other.http.get(DeviceApi.CLUSTERS + "store1/token?version=1").status())
          .isEqualTo(403);

      // A fourth device tagged later joins as an agent.
      tag(admin, n4, Map.of("pool", "store1"));
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () -> {
                Map<String, ClusterSpec> sections = actAsK3s(devices, Set.of());
                return sections.containsKey(n4.id)
                    && "agent".equals(sections.get(n4.id).role())
                    && memberPhase(admin, n4.id).equals("RUNNING");
              });
      assertThat(desired(n4).cluster().servers()).hasSize(3);
      assertThat(token(n4, 1)).isEqualTo(token);

      // Untagged: its section goes, the operator server is told to remove it, then it is gone.
      admin.patch(
          "/api/v1/devices/" + n4.id + "/tags", Map.of("set", Map.of(), "remove", List.of("pool")));
      AtomicReference<List<ClusterSpec.Removal>> removals = new AtomicReference<>(List.of());
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () -> {
                Map<String, ClusterSpec> sections = actAsK3s(devices, Set.of(n4.id));
                sections.values().stream()
                    .filter(s -> !s.removals().isEmpty())
                    .findFirst()
                    .ifPresent(s -> removals.set(s.removals()));
                return !sections.containsKey(n4.id)
                    && admin.get("/api/v1/clusters/store1").body().path("members").size() == 3;
              });
      assertThat(removals.get()).containsExactly(new ClusterSpec.Removal("n4", false));
      assertThat(desired(n4).cluster()).isNull();
      assertThat(n4.http.get(DeviceApi.CLUSTERS + "store1/token?version=1").code())
          .isEqualTo("CLUSTER_NOT_MEMBER");
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  admin
                      .get("/api/v1/devices/" + n4.id)
                      .body()
                      .path("tags")
                      .path("cluster.edgefleet.io/name")
                      .isMissingNode());

      // Rotation: a new version in every member's section; the old one is gone.
      assertThat(admin.post("/api/v1/clusters/store1/rotate-token", Map.of()).status())
          .isEqualTo(200);
      await().atMost(Duration.ofSeconds(20)).until(() -> desired(n1).cluster().tokenVersion() == 2);
      assertThat(token(n1, 2)).isNotEqualTo(token);
      assertThat(n1.http.get(DeviceApi.CLUSTERS + "store1/token?version=1").status())
          .isEqualTo(409);

      // The artifact in use cannot be deleted.
      assertThat(admin.delete("/api/v1/artifacts/" + digest).status()).isEqualTo(409);

      // Listing, events, deactivation.
      JsonNode list = admin.get("/api/v1/clusters").body().path("items");
      assertThat(list).hasSize(1);
      assertThat(list.get(0).path("servers").asInt()).isEqualTo(3);
      assertThat(admin.get("/api/v1/audit?limit=200").body().toString())
          .contains("cluster.create")
          .contains("cluster.change");
      // The state shown comes from the engine's plan, which is committed with its event right
      // after: wait for the entry.
      await()
          .atMost(Duration.ofSeconds(20))
          .untilAsserted(
              () -> {
                JsonNode clusterEvents = admin.get("/api/v1/events?limit=500").body().path("items");
                List<String> stateEvents = new ArrayList<>();
                clusterEvents.forEach(
                    e -> {
                      if (e.path("source").asText().equals("cluster")) {
                        stateEvents.add(
                            e.path("kind").asText() + ": " + e.path("message").asText());
                      }
                    });
                assertThat(stateEvents)
                    .contains("cluster.ready: cluster store1 is READY (was FORMING)");
              });
      assertThat(admin.post("/api/v1/clusters/store1/deactivate", Map.of()).status())
          .isEqualTo(200);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> desired(n1).cluster() == null && "DEACTIVATED".equals(state(admin)));
      assertThat(admin.delete("/api/v1/clusters/store1").status()).isEqualTo(204);
      assertThat(admin.get("/api/v1/clusters/store1").status()).isEqualTo(404);
    } finally {
      manager.stop(0);
    }
  }

  /**
   * Plays every device's K3s for one round: a device with a section reports it RUNNING at the
   * section's version; servers list every server with a section as voting etcd members and every
   * node, except what their section tells them to remove. Returns the sections by device id.
   */
  private Map<String, ClusterSpec> actAsK3s(List<Device> devices, Set<String> gone)
      throws IOException {
    Map<String, ClusterSpec> sections = new LinkedHashMap<>();
    for (Device d : devices) {
      ClusterSpec s = desired(d).cluster();
      if (s != null) {
        sections.put(d.id, s);
      }
    }
    for (Device d : devices) {
      ClusterSpec s = sections.get(d.id);
      if (s == null) {
        continue;
      }
      boolean server = s.role().equals(ClusterSpec.ROLE_SERVER);
      Set<String> removed =
          new java.util.HashSet<>(
              s.removals().stream().map(ClusterSpec.Removal::nodeName).toList());
      List<AgentMessage.EtcdMember> etcd = new ArrayList<>();
      List<AgentMessage.KubeNode> nodes = new ArrayList<>();
      for (Device o : devices) {
        ClusterSpec os = sections.get(o.id);
        boolean member = os != null || (gone.contains(o.id) && !removed.contains(o.name));
        if (!member) {
          continue;
        }
        String role = os == null ? "agent" : os.role();
        if (role.equals(ClusterSpec.ROLE_SERVER)) {
          etcd.add(new AgentMessage.EtcdMember("1", o.name + "-0a1b2c3d", List.of(), false));
        }
        nodes.add(new AgentMessage.KubeNode(o.name, true, V1, role.equals("server"), false));
      }
      d.node.send(
          new AgentMessage.ClusterNode(
              s.name(),
              s.role(),
              AgentMessage.ClusterNode.PHASE_RUNNING,
              s.nodeName(),
              "10.0.0." + (devices.indexOf(d) + 1),
              server ? Boolean.TRUE : null,
              s.kubernetesVersion(),
              server ? etcd : List.of(),
              server ? nodes : List.of(),
              null,
              d.agent.generation()));
    }
    return sections;
  }

  private static Map<String, Object> cluster(String name, Map<String, Integer> servers) {
    return Map.of(
        "name",
        name,
        "selector",
        "pool=store1",
        "servers",
        servers,
        "agents",
        Map.of("min", 0, "max", 2),
        "kubernetesVersion",
        V1,
        "labels",
        Map.of("site", "sjc"));
  }

  private static String state(AdminClient admin) {
    return admin.get("/api/v1/clusters/store1").body().path("state").asText();
  }

  private static String memberPhase(AdminClient admin, String deviceId) {
    for (JsonNode m : admin.get("/api/v1/clusters/store1").body().path("members")) {
      if (m.path("deviceId").asText().equals(deviceId)) {
        return m.path("phase").asText();
      }
    }
    return "";
  }

  private static void tag(AdminClient admin, Device d, Map<String, String> tags) {
    AdminClient.Answer a =
        admin.patch("/api/v1/devices/" + d.id + "/tags", Map.of("set", tags, "remove", List.of()));
    assertThat(a.status()).as(a.body().toString()).isEqualTo(200);
  }

  private Device enroll(TestController controller, TestAgents agents, String name) {
    String token = controller.token(Map.of("site", "sjc"), null, false);
    Path bootstrap = agents.bootstrap(name, controller.url(), controller.caFingerprint(), token);
    AgentOptions options = agents.options(name, bootstrap);
    NodeReports node = new NodeReports();
    Agent agent =
        agents.start(
            options,
            Clock.systemUTC(),
            new io.edgefleet.agent.runtime.NoRuntime("no workloads in this test"),
            List.of(a -> node));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> agent.status().state() == Agent.State.CONNECTED && node.connected());
    String id = agent.status().deviceId().orElseThrow();
    AdminClient.Answer renamed =
        controller.admin().patch("/api/v1/devices/" + id, Map.of("name", name));
    assertThat(renamed.status()).as(renamed.body().toString()).isEqualTo(200);
    return new Device(
        name,
        id,
        agent,
        options.stateDir(),
        new DeviceHttp(controller.url(), options.stateDir()),
        node);
  }

  private static DesiredState desired(Device d) throws IOException {
    DeviceHttp.Answer a = d.http.get(DeviceApi.DESIRED + "?known=0");
    if (a.status() == 204) {
      return new DesiredState(d.id, 0, null, List.of());
    }
    byte[] payload = Base64.getDecoder().decode(a.body().path("payload").asText());
    return Json.mapper().readValue(payload, DesiredState.class);
  }

  private static String token(Device d, long version) throws Exception {
    DeviceHttp.Answer a = d.http.get(DeviceApi.CLUSTERS + "store1/token?version=" + version);
    assertThat(a.status()).as(a.body().toString()).isEqualTo(200);
    byte[] sealed = Base64.getDecoder().decode(a.body().path("sealed").asText());
    IdentityStore.Identity id = new IdentityStore(d.stateDir).load().orElseThrow();
    byte[] plain =
        SealedBox.open(
            new SoftwareKeyAgreement(id.key().getPrivate()),
            sealed,
            SealedBox.secretAad(d.id, "store1", version));
    String b64 = Json.mapper().readTree(plain).path("token").asText();
    return new String(Base64.getDecoder().decode(b64), StandardCharsets.UTF_8);
  }

  static String sha256(byte[] b) throws Exception {
    return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }
}
