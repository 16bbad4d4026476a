package io.edgefleet.e2e.profiles;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.e2e.clusters.NodeReports;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ClusterSpec;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.Json;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.DeviceHttp;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Devices enrolled as real agents whose K3s the test plays: each round reads every device's signed
 * desired state over mutual TLS and answers with the cluster-node report a member would send,
 * RUNNING at the Kubernetes version its section asks for. Members of one cluster see each other as
 * etcd members and nodes. Thread-safe.
 */
final class ClusterMembers {
  record Device(String name, String id, Agent agent, DeviceHttp http, NodeReports node) {}

  private final TestController controller;
  private final TestAgents agents;
  private final List<Device> devices = new CopyOnWriteArrayList<>();

  ClusterMembers(TestController controller, TestAgents agents) {
    this.controller = controller;
    this.agents = agents;
  }

  /** Pushes a K3s artifact of this version (a tiny script: the test plays K3s). */
  static void pushK3s(AdminClient admin, String version) {
    byte[] k3s = ("#!/bin/sh\necho k3s version " + version + "\n").getBytes(StandardCharsets.UTF_8);
    AdminClient.Answer pushed =
        admin.postBytes(
            "/api/v1/artifacts?kind=k3s&version="
                + URLEncoder.encode(version, StandardCharsets.UTF_8),
            k3s,
            "application/octet-stream",
            Map.of());
    assertThat(pushed.status()).as(pushed.body().toString()).isEqualTo(201);
  }

  /** Enrolls a device with these (operator) tags, named {@code name}, running {@code runtime}. */
  Device enroll(String name, Map<String, String> tags, WorkloadRuntime runtime) {
    String token = controller.token(tags, null, false);
    Path bootstrap = agents.bootstrap(name, controller.url(), controller.caFingerprint(), token);
    AgentOptions options = agents.options(name, bootstrap);
    NodeReports node = new NodeReports();
    Agent agent = agents.start(options, Clock.systemUTC(), runtime, List.of(a -> node));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> agent.status().state() == Agent.State.CONNECTED && node.connected());
    String id = agent.status().deviceId().orElseThrow();
    AdminClient.Answer renamed =
        controller.admin().patch("/api/v1/devices/" + id, Map.of("name", name));
    assertThat(renamed.status()).as(renamed.body().toString()).isEqualTo(200);
    Device d =
        new Device(name, id, agent, new DeviceHttp(controller.url(), options.stateDir()), node);
    devices.add(d);
    return d;
  }

  /**
   * Plays every device's K3s for one round. Returns the sections by device id.
   *
   * @throws IOException if a desired state cannot be read
   */
  Map<String, ClusterSpec> round() throws IOException {
    Map<String, ClusterSpec> sections = new LinkedHashMap<>();
    for (Device d : devices) {
      ClusterSpec s = desired(d).cluster();
      if (s != null) {
        sections.put(d.id(), s);
      }
    }
    for (Device d : devices) {
      ClusterSpec s = sections.get(d.id());
      if (s == null) {
        continue;
      }
      boolean server = s.role().equals(ClusterSpec.ROLE_SERVER);
      List<AgentMessage.EtcdMember> etcd = new ArrayList<>();
      List<AgentMessage.KubeNode> nodes = new ArrayList<>();
      for (Device o : devices) {
        ClusterSpec os = sections.get(o.id());
        if (os == null || !os.name().equals(s.name())) {
          continue;
        }
        boolean oServer = os.role().equals(ClusterSpec.ROLE_SERVER);
        if (oServer) {
          etcd.add(new AgentMessage.EtcdMember("1", o.name() + "-0a1b2c3d", List.of(), false));
        }
        nodes.add(
            new AgentMessage.KubeNode(o.name(), true, os.kubernetesVersion(), oServer, false));
      }
      d.node()
          .send(
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
                  d.agent().generation()));
    }
    return sections;
  }

  /** The device's current signed desired state, read as the device reads it. */
  static DesiredState desired(Device d) throws IOException {
    DeviceHttp.Answer a = d.http().get(DeviceApi.DESIRED + "?known=0");
    if (a.status() == 204) {
      return new DesiredState(d.id(), 0, null, List.of());
    }
    byte[] payload = Base64.getDecoder().decode(a.body().path("payload").asText());
    return Json.mapper().readValue(payload, DesiredState.class);
  }

  /** A {@code .tar.gz} of these files under directory {@code top}, made with {@code tar}. */
  static byte[] tarGz(Path dir, String top, Map<String, String> files)
      throws IOException, InterruptedException {
    Path root = java.nio.file.Files.createTempDirectory(dir, "archive-");
    for (var f : files.entrySet()) {
      Path file = root.resolve(top).resolve(f.getKey());
      java.nio.file.Files.createDirectories(file.getParent());
      java.nio.file.Files.writeString(file, f.getValue());
    }
    Path archive = root.resolve(top + ".tgz");
    Process tar =
        new ProcessBuilder("tar", "-czf", archive.toString(), "-C", root.toString(), top)
            .redirectErrorStream(true)
            .start();
    String output = new String(tar.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(tar.waitFor()).as(output).isZero();
    return java.nio.file.Files.readAllBytes(archive);
  }

  /**
   * A cluster of {@code servers} servers and up to one agent over devices {@code selector} picks.
   */
  static Map<String, Object> cluster(
      String name, String selector, int servers, Map<String, String> labels, String kubernetes) {
    Map<String, Object> c = new LinkedHashMap<>();
    c.put("name", name);
    c.put("selector", selector);
    c.put("servers", Map.of("min", servers, "max", servers));
    c.put("agents", Map.of("min", 0, "max", 1));
    c.put("kubernetesVersion", kubernetes);
    c.put("labels", labels);
    return c;
  }
}
