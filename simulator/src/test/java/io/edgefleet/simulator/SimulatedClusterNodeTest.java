package io.edgefleet.simulator;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.ClusterSpec;
import io.edgefleet.protocol.DeviceSecret;
import io.edgefleet.protocol.Json;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * Simulated K3s nodes on a hand-driven timer: the phases and their delays, the artifact check and
 * the token fetch over the device routes, the shared etcd member and node lists, restarts on a
 * version change, removals, STOPPED once, failures.
 */
class SimulatedClusterNodeTest {
  private static final ArtifactRef V1 = new ArtifactRef("sha256:" + "1".repeat(64), 1000);
  private static final ArtifactRef V2 = new ArtifactRef("sha256:" + "2".repeat(64), 2000);

  /** The sealed box the fake unsealer opens; any other fails as a wrong key would. */
  private static final String SEALED = "c2VhbGVk";

  private static final K3sBehaviour BEHAVIOUR =
      new K3sBehaviour(Duration.ofSeconds(2), Duration.ofSeconds(3), 0, Duration.ofSeconds(30));

  /** Timers run by hand: {@link #advance} runs what is due, in order. */
  static final class ManualTimers implements SimulatedClusterNode.Timers {
    private record Task(long due, long seq, Runnable run, boolean[] cancelled) {}

    private final PriorityQueue<Task> queue =
        new PriorityQueue<>(
            (a, b) -> a.due != b.due ? Long.compare(a.due, b.due) : Long.compare(a.seq, b.seq));
    private long now;
    private long seq;

    @Override
    public Runnable after(Duration delay, Runnable task) {
      boolean[] cancelled = {false};
      queue.add(new Task(now + delay.toNanos(), seq++, task, cancelled));
      return () -> cancelled[0] = true;
    }

    void advance(Duration d) {
      long until = now + d.toNanos();
      while (!queue.isEmpty() && queue.peek().due <= until) {
        Task t = queue.poll();
        now = Math.max(now, t.due);
        if (!t.cancelled[0]) {
          t.run.run();
        }
      }
      now = until;
    }
  }

  /** The controller's device routes as a map of answers; records every request. */
  static final class FakeRoutes implements SimulatedClusterNode.Http {
    final List<String> requests = new ArrayList<>();
    final Map<String, Wire.Response> answers = new HashMap<>();

    @Override
    public CompletableFuture<Wire.Response> get(String path, String headers) {
      requests.add(path + (headers.isEmpty() ? "" : " " + headers.trim()));
      Wire.Response r = answers.get(path);
      if (r == null) {
        r = new Wire.Response(404, Map.of(), "{\"code\":\"NOT_FOUND\"}".getBytes());
      }
      return CompletableFuture.completedFuture(r);
    }

    void artifact(ArtifactRef a) {
      answers.put(
          "/device/v1/artifacts/" + a.digest(),
          new Wire.Response(
              206, Map.of("content-range", "bytes 0-0/" + a.size()), new byte[] {0x7f}));
    }

    void token(String cluster, long version) {
      answers.put(
          "/device/v1/clusters/" + cluster + "/token?version=" + version,
          new Wire.Response(
              200,
              Map.of(),
              Json.writeBytes(new DeviceSecret("cluster-" + cluster, version, "", SEALED))));
    }
  }

  private final ManualTimers timers = new ManualTimers();
  private final FakeRoutes routes = new FakeRoutes();
  private final SimulatedClusters clusters = new SimulatedClusters();
  private final Simulator.Stats stats = new Simulator.Stats();

  /** One simulated device's node and what it reported. */
  final class Member {
    final List<AgentMessage.ClusterNode> reports = new ArrayList<>();
    final SimulatedClusterNode node;
    double roll = 0.5;

    Member(int index, K3sBehaviour behaviour) {
      node =
          new SimulatedClusterNode(
              this,
              behaviour,
              clusters,
              timers,
              routes,
              box -> {
                if (!box.sealed().equals(SEALED)) {
                  throw new java.security.GeneralSecurityException("Tag mismatch");
                }
                return "{\"token\":\"SzEwdG9rZW4=\"}".getBytes(StandardCharsets.UTF_8);
              },
              reports::add,
              SimulatedClusterNode.address(index),
              () -> roll,
              stats);
    }

    AgentMessage.ClusterNode last() {
      return reports.getLast();
    }

    List<String> phases() {
      List<String> p = new ArrayList<>();
      for (AgentMessage.ClusterNode r : reports) {
        if (p.isEmpty() || !p.getLast().equals(r.phase())) {
          p.add(r.phase());
        }
      }
      return p;
    }

    void desired(long generation, ClusterSpec spec) {
      synchronized (this) {
        node.desired(generation, spec);
      }
    }
  }

  private Member member(int index) {
    return new Member(index, BEHAVIOUR);
  }

  private static ClusterSpec server(
      String node, boolean init, List<String> servers, String version, ArtifactRef k3s) {
    return spec(node, ClusterSpec.ROLE_SERVER, init, servers, version, k3s, List.of());
  }

  private static ClusterSpec spec(
      String node,
      String role,
      boolean init,
      List<String> servers,
      String version,
      ArtifactRef k3s,
      List<ClusterSpec.Removal> removals) {
    return new ClusterSpec(
        "store-1",
        role,
        init,
        servers,
        1,
        node,
        Map.of("site", "sjc"),
        List.of(),
        version,
        k3s,
        Map.of(),
        removals);
  }

  private void routesFor(ArtifactRef... artifacts) {
    for (ArtifactRef a : artifacts) {
      routes.artifact(a);
    }
    routes.token("store-1", 1);
  }

  private static List<String> etcdNames(AgentMessage.ClusterNode r) {
    return r.etcd().stream().map(AgentMessage.EtcdMember::name).toList();
  }

  @Test
  void initServerDownloadsStartsAndRunsAfterTheDelaysFetchingArtifactAndTokenOverTheRoutes() {
    routesFor(V1);
    Member a = member(0);
    a.desired(5, server("a", true, List.of(), "v1.20.2+k3s1", V1));

    assertThat(a.last().phase()).isEqualTo("DOWNLOADING");
    assertThat(routes.requests)
        .containsExactly("/device/v1/artifacts/" + V1.digest() + " Range: bytes=0-0");
    timers.advance(Duration.ofMillis(1999));
    assertThat(a.last().phase()).isEqualTo("DOWNLOADING");
    timers.advance(Duration.ofMillis(1));
    assertThat(a.last().phase()).isEqualTo("STARTING");
    assertThat(routes.requests).contains("/device/v1/clusters/store-1/token?version=1");
    timers.advance(Duration.ofMillis(2999));
    assertThat(a.last().phase()).isEqualTo("STARTING");
    timers.advance(Duration.ofMillis(1));

    AgentMessage.ClusterNode r = a.last();
    assertThat(r.phase()).isEqualTo("RUNNING");
    assertThat(r.cluster()).isEqualTo("store-1");
    assertThat(r.role()).isEqualTo("server");
    assertThat(r.nodeName()).isEqualTo("a");
    assertThat(r.address()).isEqualTo("10.0.0.1");
    assertThat(r.ready()).isTrue();
    assertThat(r.kubernetesVersion()).isEqualTo("v1.20.2+k3s1");
    assertThat(r.generation()).isEqualTo(5);
    assertThat(r.etcd()).hasSize(1);
    assertThat(r.etcd().getFirst().name()).startsWith("a-").hasSize(2 + 8);
    assertThat(r.etcd().getFirst().peerUrls()).containsExactly("https://10.0.0.1:2380");
    assertThat(r.etcd().getFirst().learner()).isFalse();
    assertThat(r.nodes())
        .containsExactly(new AgentMessage.KubeNode("a", true, "v1.20.2+k3s1", true, false));
    assertThat(a.phases()).containsExactly("DOWNLOADING", "STARTING", "RUNNING");
    assertThat(stats.artifactChecks.sum()).isEqualTo(1);
    assertThat(stats.tokenFetches.sum()).isEqualTo(1);
  }

  @Test
  void joiningServersAndAgentsShareOneEtcdAndNodeListAndTheOthersReportTheChange() {
    routesFor(V1);
    Member a = member(0);
    Member b = member(1);
    Member c = member(2);
    a.desired(1, server("a", true, List.of(), "v1", V1));
    timers.advance(Duration.ofSeconds(5));
    assertThat(a.last().phase()).isEqualTo("RUNNING");

    b.desired(1, server("b", false, List.of("https://10.0.0.1:6443"), "v1", V1));
    timers.advance(Duration.ofSeconds(5));
    assertThat(b.last().phase()).isEqualTo("RUNNING");
    assertThat(etcdNames(b.last())).hasSize(2);
    // The first server saw the new etcd member and node at once, not 30 s later.
    assertThat(etcdNames(a.last())).hasSize(2);
    assertThat(a.last().nodes()).extracting(AgentMessage.KubeNode::name).containsExactly("a", "b");

    c.desired(1, spec("c", "agent", false, List.of("https://10.0.0.1:6443"), "v1", V1, List.of()));
    timers.advance(Duration.ofSeconds(5));
    assertThat(c.last().phase()).isEqualTo("RUNNING");
    // An agent has no admin credentials: no readiness, etcd or node list of its own.
    assertThat(c.last().ready()).isNull();
    assertThat(c.last().etcd()).isEmpty();
    assertThat(c.last().nodes()).isEmpty();
    assertThat(etcdNames(a.last())).hasSize(2);
    assertThat(a.last().nodes())
        .extracting(AgentMessage.KubeNode::name, AgentMessage.KubeNode::controlPlane)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("a", true),
            org.assertj.core.groups.Tuple.tuple("b", true),
            org.assertj.core.groups.Tuple.tuple("c", false));
    // The artifact was checked once per device, never downloaded whole.
    assertThat(routes.requests.stream().filter(p -> p.contains("artifacts")))
        .hasSize(3)
        .allMatch(p -> p.endsWith("Range: bytes=0-0"));
  }

  @Test
  void aJoiningNodeWaitsWhileNoServerRunsAndFailsWithoutServersToJoinThrough() {
    routesFor(V1);
    Member b = member(1);
    b.desired(1, server("b", false, List.of("https://10.0.0.1:6443"), "v1", V1));
    timers.advance(Duration.ofSeconds(20));
    assertThat(b.last().phase()).isEqualTo("STARTING");
    assertThat(b.last().message()).contains("waiting for a server");

    Member a = member(0);
    a.desired(1, server("a", true, List.of(), "v1", V1));
    timers.advance(Duration.ofSeconds(8));
    assertThat(b.last().phase()).isEqualTo("RUNNING");

    Member c = member(2);
    c.desired(1, server("c", false, List.of(), "v1", V1));
    timers.advance(Duration.ofSeconds(8));
    assertThat(c.last().phase()).isEqualTo("FAILED");
    assertThat(c.last().message()).isEqualTo("no server to join through");
  }

  @Test
  void aVersionChangeRestartsTheNodeAtTheNewVersion() {
    routesFor(V1, V2);
    Member a = member(0);
    a.desired(1, server("a", true, List.of(), "v1", V1));
    timers.advance(Duration.ofSeconds(5));
    int before = a.reports.size();

    a.desired(2, server("a", true, List.of(), "v2", V2));
    assertThat(a.last().phase()).isEqualTo("DOWNLOADING");
    timers.advance(Duration.ofSeconds(2));
    assertThat(a.last().phase()).isEqualTo("STARTING");
    assertThat(a.last().kubernetesVersion()).isEqualTo("v2");
    // The node is NotReady in the API server while K3s restarts.
    assertThat(clusters.cluster("store-1").nodes())
        .containsExactly(new AgentMessage.KubeNode("a", false, "v1", true, false));
    timers.advance(Duration.ofSeconds(3));
    AgentMessage.ClusterNode r = a.last();
    assertThat(r.phase()).isEqualTo("RUNNING");
    assertThat(r.kubernetesVersion()).isEqualTo("v2");
    assertThat(r.generation()).isEqualTo(2);
    assertThat(r.nodes()).containsExactly(new AgentMessage.KubeNode("a", true, "v2", true, false));
    // Same etcd member across the restart.
    assertThat(r.etcd()).hasSize(1);
    assertThat(a.reports.subList(before, a.reports.size()))
        .extracting(AgentMessage.ClusterNode::phase)
        .containsSubsequence("DOWNLOADING", "STARTING", "RUNNING");
    // The token of the same version is not fetched again.
    assertThat(stats.tokenFetches.sum()).isEqualTo(1);

    // Back to v1: the binary is held, so no download; STARTING then RUNNING.
    int mark = a.reports.size();
    a.desired(3, server("a", true, List.of(), "v1", V1));
    assertThat(a.last().phase()).isEqualTo("STARTING");
    timers.advance(Duration.ofSeconds(3));
    assertThat(a.last().phase()).isEqualTo("RUNNING");
    assertThat(a.last().kubernetesVersion()).isEqualTo("v1");
    assertThat(a.reports.subList(mark, a.reports.size()))
        .extracting(AgentMessage.ClusterNode::phase)
        .doesNotContain("DOWNLOADING");

    // An unchanged section (a new generation for another reason) does not restart it.
    a.desired(4, server("a", true, List.of(), "v1", V1));
    assertThat(a.last().phase()).isEqualTo("RUNNING");
    assertThat(a.last().generation()).isEqualTo(4);
  }

  @Test
  void aServerCarriesOutRemovalsOnceAndTheSectionsRemovalStopsTheNodeOnce() {
    routesFor(V1);
    Member a = member(0);
    Member b = member(1);
    Member c = member(2);
    a.desired(1, server("a", true, List.of(), "v1", V1));
    timers.advance(Duration.ofSeconds(5));
    b.desired(1, server("b", false, List.of("https://10.0.0.1:6443"), "v1", V1));
    c.desired(1, server("c", false, List.of("https://10.0.0.1:6443"), "v1", V1));
    timers.advance(Duration.ofSeconds(5));
    assertThat(etcdNames(a.last())).hasSize(3);

    // c's section goes: it stops once; its node stays NotReady and its etcd member stays.
    c.desired(2, null);
    assertThat(c.last().phase()).isEqualTo("STOPPED");
    assertThat(c.last().cluster()).isEqualTo("store-1");
    assertThat(c.last().nodeName()).isEqualTo("c");
    int stopped = c.reports.size();
    c.desired(3, null);
    timers.advance(Duration.ofSeconds(120));
    assertThat(c.reports).hasSize(stopped);
    assertThat(etcdNames(a.last())).hasSize(3);
    assertThat(a.last().nodes())
        .filteredOn(n -> n.name().equals("c"))
        .extracting(AgentMessage.KubeNode::ready)
        .containsExactly(false);

    // a is told to remove c: the node and the etcd member go, and a reports it.
    List<ClusterSpec.Removal> removals = List.of(new ClusterSpec.Removal("c", true));
    a.desired(2, spec("a", "server", true, List.of(), "v1", V1, removals));
    assertThat(etcdNames(a.last())).hasSize(2).noneMatch(n -> n.startsWith("c-"));
    assertThat(a.last().nodes()).extracting(AgentMessage.KubeNode::name).containsExactly("a", "b");
    timers.advance(Duration.ZERO);
    assertThat(etcdNames(b.last())).hasSize(2);
    a.desired(3, spec("a", "server", true, List.of(), "v1", V1, removals));
    assertThat(stats.clusterRemovals.sum()).isEqualTo(1);
    assertThat(a.last().phase()).isEqualTo("RUNNING");
  }

  @Test
  void membersReportEveryThirtySecondsWhileNothingChanges() {
    routesFor(V1);
    Member a = member(0);
    a.desired(1, server("a", true, List.of(), "v1", V1));
    timers.advance(Duration.ofSeconds(5));
    int n = a.reports.size();
    timers.advance(Duration.ofSeconds(29));
    assertThat(a.reports).hasSize(n);
    timers.advance(Duration.ofSeconds(1));
    assertThat(a.reports).hasSize(n + 1);
    timers.advance(Duration.ofSeconds(60));
    assertThat(a.reports).hasSize(n + 3);
    assertThat(a.last().phase()).isEqualTo("RUNNING");

    // A reconnect reports at once.
    synchronized (a) {
      a.node.connected();
    }
    assertThat(a.reports).hasSize(n + 4);
  }

  @Test
  void theConfiguredShareOfStartsFails() {
    routesFor(V1);
    Member a =
        new Member(
            0,
            new K3sBehaviour(Duration.ZERO, Duration.ofSeconds(1), 0.25, Duration.ofSeconds(30)));
    a.roll = 0.2;
    a.desired(1, server("a", true, List.of(), "v1", V1));
    timers.advance(Duration.ofSeconds(1));
    assertThat(a.last().phase()).isEqualTo("FAILED");
    assertThat(a.last().message()).isEqualTo("simulated K3s failure");
    assertThat(a.last().ready()).isFalse();
    assertThat(stats.clusterFailures.sum()).isEqualTo(1);
    assertThat(clusters.cluster("store-1").etcd()).isEmpty();

    Member b =
        new Member(
            1,
            new K3sBehaviour(Duration.ZERO, Duration.ofSeconds(1), 0.25, Duration.ofSeconds(30)));
    b.roll = 0.3;
    ClusterSpec spec =
        new ClusterSpec(
            "store-2", "server", true, List.of(), 1, "b", null, null, "v1", V1, null, null);
    routes.token("store-2", 1);
    b.desired(1, spec);
    timers.advance(Duration.ofSeconds(1));
    assertThat(b.last().phase()).isEqualTo("RUNNING");
  }

  @Test
  void aMissingArtifactOrARefusedTokenFailsWithTheReason() {
    routes.token("store-1", 1);
    Member a = member(0);
    a.desired(1, server("a", true, List.of(), "v1", V1));
    assertThat(a.last().phase()).isEqualTo("FAILED");
    assertThat(a.last().message()).contains(V1.digest()).contains("HTTP 404");

    routes.artifact(V2);
    routes.answers.put(
        "/device/v1/clusters/store-1/token?version=1",
        new Wire.Response(
            403,
            Map.of(),
            "{\"code\":\"CLUSTER_NOT_MEMBER\",\"message\":\"no member\"}"
                .getBytes(StandardCharsets.UTF_8)));
    Member b = member(1);
    b.desired(1, server("b", true, List.of(), "v2", V2));
    timers.advance(Duration.ofSeconds(2));
    assertThat(b.last().phase()).isEqualTo("FAILED");
    assertThat(b.last().message()).isEqualTo("join token version 1: HTTP 403 CLUSTER_NOT_MEMBER");
  }

  @Test
  void theArtifactCheckComparesTheSizeTheControllerHolds() {
    Wire.Response ok =
        new Wire.Response(206, Map.of("content-range", "bytes 0-0/1000"), new byte[1]);
    assertThat(SimulatedClusterNode.artifactProblem(ok, 1000)).isNull();
    assertThat(SimulatedClusterNode.artifactProblem(ok, 999))
        .contains("1000 bytes")
        .contains("999");
    assertThat(
            SimulatedClusterNode.artifactProblem(new Wire.Response(416, Map.of(), new byte[0]), 5))
        .isEqualTo("HTTP 416");
    SimulatedClusterNode.Unsealer unsealer =
        box -> {
          if (box.sealed().equals("bad")) {
            throw new java.security.GeneralSecurityException("Tag mismatch");
          }
          return Base64.getDecoder().decode(box.sealed());
        };
    assertThat(
            SimulatedClusterNode.tokenProblem(
                new Wire.Response(200, Map.of(), "not json".getBytes()), 1, unsealer))
        .isEqualTo("the answer is not a sealed secret");
    assertThat(SimulatedClusterNode.tokenProblem(token(2, "x"), 1, unsealer))
        .isEqualTo("the controller answered version 2");
    assertThat(SimulatedClusterNode.tokenProblem(token(1, "bad"), 1, unsealer))
        .startsWith("it could not be opened with this device's key")
        .contains("Tag mismatch");
    // An unsealer that breaks (a device without its key yet) is a reported problem, not an
    // exception lost in the fetch's completion that would leave the node STARTING for ever.
    SimulatedClusterNode.Unsealer broken =
        box -> {
          throw new NullPointerException("no device key");
        };
    assertThat(SimulatedClusterNode.tokenProblem(token(1, "x"), 1, broken))
        .startsWith("it could not be opened with this device's key")
        .contains("no device key");
    String empty = Base64.getEncoder().encodeToString("{}".getBytes(StandardCharsets.UTF_8));
    assertThat(SimulatedClusterNode.tokenProblem(token(1, empty), 1, unsealer))
        .isEqualTo("the sealed token holds no key 'token'");
    String good =
        Base64.getEncoder().encodeToString("{\"token\":\"SzEw\"}".getBytes(StandardCharsets.UTF_8));
    assertThat(SimulatedClusterNode.tokenProblem(token(1, good), 1, unsealer)).isNull();
  }

  private static Wire.Response token(long version, String sealed) {
    return new Wire.Response(
        200, Map.of(), Json.writeBytes(new DeviceSecret("cluster-x", version, "", sealed)));
  }

  @Test
  void addressesAreDistinctPerDevice() {
    assertThat(SimulatedClusterNode.address(0)).isEqualTo("10.0.0.1");
    assertThat(SimulatedClusterNode.address(255)).isEqualTo("10.0.1.0");
    assertThat(SimulatedClusterNode.address(70_000)).isEqualTo("10.1.17.113");
  }
}
