package io.edgefleet.controller.clusters;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.clusters.ClusterModel.Candidate;
import io.edgefleet.controller.clusters.ClusterModel.Definition;
import io.edgefleet.controller.clusters.ClusterModel.Member;
import io.edgefleet.controller.clusters.ClusterModel.Report;
import io.edgefleet.controller.clusters.ClusterModel.State;
import io.edgefleet.controller.clusters.ClusterPlanner.Plan;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.ClusterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ClusterPlannerTest {
  static final String V1 = "v1.20.2+k3s1";
  static final String V2 = "v1.20.3+k3s1";
  static final ArtifactRef K3S_V1 = new ArtifactRef("sha256:" + "a".repeat(64), 10);
  static final ArtifactRef K3S_V2 = new ArtifactRef("sha256:" + "b".repeat(64), 11);

  /** A small fleet and agents that do what their sections say, in one step per call. */
  final class World {
    Instant now = Instant.parse("2026-12-01T10:00:00Z");
    Definition def = definition(3, 3, 0, 2, V1);
    final Map<String, Candidate> devices = new LinkedHashMap<>();
    List<Member> members = new ArrayList<>();
    final Map<String, Report> reports = new HashMap<>();
    final Map<String, String> runningVersion = new HashMap<>();
    String applier;
    State state;
    Plan last;
    boolean v2Pushed = true;
    boolean v1Pushed = true;

    Definition definition(int smin, int smax, int amin, int amax, String version) {
      return new Definition(
          "store1",
          Selector.parse("pool=store1"),
          smin,
          smax,
          amin,
          amax,
          version,
          Map.of("site", "sjc"),
          Map.of(),
          Duration.ofMinutes(5),
          false,
          1);
    }

    void device(String id) {
      device(id, Map.of("pool", "store1"));
    }

    void device(String id, Map<String, String> tags) {
      devices.put(
          id,
          new Candidate(
              id,
              "node-" + id,
              tags,
              true,
              false,
              true,
              now,
              now.minusSeconds(1000 - devices.size()),
              "amd64",
              null));
    }

    void change(String id, java.util.function.UnaryOperator<Candidate> f) {
      devices.put(id, f.apply(devices.get(id)));
    }

    void offline(String id) {
      change(
          id,
          c ->
              new Candidate(
                  c.deviceId(),
                  c.name(),
                  c.tags(),
                  c.active(),
                  c.quarantined(),
                  false,
                  now,
                  c.enrolledAt(),
                  c.arch(),
                  c.otherCluster()));
    }

    Plan plan() {
      last =
          new ClusterPlanner()
              .plan(
                  new ClusterPlanner.Input(
                      def,
                      List.copyOf(devices.values()),
                      members,
                      reports,
                      applier,
                      state,
                      (v, a) ->
                          V1.equals(v) && v1Pushed
                              ? Optional.of(K3S_V1)
                              : V2.equals(v) && v2Pushed ? Optional.of(K3S_V2) : Optional.empty(),
                      now));
      members = new ArrayList<>(last.members());
      applier = last.applier();
      state = last.state();
      return last;
    }

    /** Every online member with a section runs it; servers report etcd and nodes. */
    void agentsAct() {
      now = now.plusSeconds(5);
      List<AgentMessage.EtcdMember> etcd = new ArrayList<>();
      List<AgentMessage.KubeNode> nodes = new ArrayList<>();
      for (Member m : members) {
        if (!devices.get(m.deviceId()).online()) {
          continue;
        }
        ClusterSpec s = last.sections().get(m.deviceId());
        if (s == null) {
          continue;
        }
        if (s.role().equals("server")) {
          etcd.add(new AgentMessage.EtcdMember("1", s.nodeName() + "-abcd1234", List.of(), false));
        }
        nodes.add(
            new AgentMessage.KubeNode(s.nodeName(), true, s.kubernetesVersion(), false, false));
        runningVersion.put(m.deviceId(), s.kubernetesVersion());
      }
      // a dead server stays in etcd and in Kubernetes until removed
      for (Member m : members) {
        boolean stillThere = !devices.get(m.deviceId()).online() || m.removing();
        if (stillThere && !removedByOperator(m.nodeName())) {
          if (m.server()) {
            etcd.add(
                new AgentMessage.EtcdMember("9", m.nodeName() + "-dead0000", List.of(), false));
          }
          nodes.add(new AgentMessage.KubeNode(m.nodeName(), false, V1, false, false));
        }
      }
      for (Member m : members) {
        ClusterSpec s = last.sections().get(m.deviceId());
        if (s == null || !devices.get(m.deviceId()).online()) {
          continue;
        }
        boolean server = s.role().equals("server");
        reports.put(
            m.deviceId(),
            new Report(
                new AgentMessage.ClusterNode(
                    "store1",
                    s.role(),
                    "RUNNING",
                    s.nodeName(),
                    "10.0.0." + m.deviceId(),
                    true,
                    s.kubernetesVersion(),
                    server ? etcd : List.of(),
                    server ? nodes : List.of(),
                    null,
                    1),
                now));
      }
    }

    /** Whether the operator of the last plan has carried out the removal. */
    boolean removedByOperator(String nodeName) {
      String op = last.operator();
      return op != null
          && last.sections().get(op).removals().stream()
              .anyMatch(r -> r.nodeName().equals(nodeName));
    }

    Plan step() {
      agentsAct();
      return plan();
    }

    Plan converge() {
      Plan p = plan();
      for (int i = 0; i < 30 && !p.changes().isEmpty() || i < 3; i++) {
        p = step();
      }
      return p;
    }

    long servers() {
      return members.stream().filter(m -> !m.removing() && m.server()).count();
    }

    long agents() {
      return members.stream().filter(m -> !m.removing() && !m.server()).count();
    }
  }

  @Test
  void pendingUntilTheMinimumOfServersIsThere() {
    World w = new World();
    w.device("1");
    w.device("2");
    Plan p = w.plan();
    assertThat(p.state()).isEqualTo(State.PENDING);
    assertThat(p.members()).isEmpty();
    assertThat(p.sections()).isEmpty();
    assertThat(p.reasons()).anyMatch(r -> r.contains("waiting for devices: 2") && r.contains("3"));
  }

  @Test
  void formsOneServerAtATimeTheFirstInitialises() {
    World w = new World();
    w.device("1");
    w.device("2");
    w.device("3");
    Plan p = w.plan();
    assertThat(p.members()).hasSize(1);
    ClusterSpec first = p.sections().get("1");
    assertThat(first.init()).isTrue();
    assertThat(first.role()).isEqualTo("server");
    assertThat(first.servers()).isEmpty();
    assertThat(first.k3s()).isEqualTo(K3S_V1);
    assertThat(first.nodeLabels()).containsEntry("site", "sjc");
    assertThat(first.nodeName()).isEqualTo("node-1");
    assertThat(p.state()).isEqualTo(State.FORMING);

    // nothing more until the first server runs
    assertThat(w.plan().members()).hasSize(1);

    p = w.step();
    assertThat(p.members()).hasSize(2);
    ClusterSpec second = p.sections().get("2");
    assertThat(second.init()).isFalse();
    assertThat(second.servers()).containsExactly("https://10.0.0.1:6443");
    // the second must run and be a voting etcd member before the third joins
    assertThat(w.plan().members()).hasSize(2);

    p = w.step();
    assertThat(p.members()).hasSize(3);
    assertThat(p.sections().get("3").servers())
        .containsExactlyInAnyOrder("https://10.0.0.1:6443", "https://10.0.0.2:6443");
    assertThat(p.state()).isEqualTo(State.FORMING);

    p = w.step();
    assertThat(p.state()).isEqualTo(State.READY);
    assertThat(p.changes()).isEmpty();
    assertThat(p.applier()).isEqualTo("1");
    assertThat(p.etcd().voters()).isEqualTo(3);
    assertThat(p.etcd().healthyVoters()).isEqualTo(3);
    assertThat(p.etcd().quorumAtRisk()).isFalse();
  }

  @Test
  void aServerThatIsNotYetAVotingEtcdMemberHoldsTheNextJoin() {
    World w = new World();
    w.device("1");
    w.device("2");
    w.device("3");
    w.plan();
    w.step();
    w.agentsAct();
    // server 2 runs, but server 1 lists it as a learner
    Report r1 = w.reports.get("1");
    List<AgentMessage.EtcdMember> etcd =
        List.of(
            new AgentMessage.EtcdMember("1", "node-1-aaaa0000", List.of(), false),
            new AgentMessage.EtcdMember("2", "node-2-bbbb0000", List.of(), true));
    AgentMessage.ClusterNode n = r1.node();
    w.reports.put(
        "1",
        new Report(
            new AgentMessage.ClusterNode(
                n.cluster(),
                n.role(),
                n.phase(),
                n.nodeName(),
                n.address(),
                n.ready(),
                n.kubernetesVersion(),
                etcd,
                n.nodes(),
                null,
                1),
            w.now));
    Plan p = w.plan();
    assertThat(p.members()).hasSize(2);
    assertThat(p.reasons()).anyMatch(s -> s.contains("node-2") && s.contains("etcd"));
  }

  @Test
  void serverTargetIsTheLargestOddCountAndExtraDevicesBecomeAgents() {
    World w = new World();
    w.def = w.definition(1, 5, 0, 1, V1);
    for (int i = 1; i <= 4; i++) {
      w.device("" + i);
    }
    Plan p = w.converge();
    // 4 eligible: 3 servers (an even 4 is never the target), one agent
    assertThat(w.servers()).isEqualTo(3);
    assertThat(w.agents()).isEqualTo(1);
    assertThat(p.state()).isEqualTo(State.READY);
    ClusterSpec agent = p.sections().get("4");
    assertThat(agent.role()).isEqualTo("agent");
    assertThat(agent.servers()).hasSize(3);

    w.device("5");
    w.device("6");
    p = w.converge();
    // 6 eligible: 5 servers, 1 agent (agents max 1)
    assertThat(w.servers()).isEqualTo(5);
    assertThat(w.agents()).isEqualTo(1);
    w.device("7");
    p = w.converge();
    assertThat(w.servers()).isEqualTo(5);
    assertThat(w.agents()).isEqualTo(1);
    assertThat(p.reasons())
        .anyMatch(r -> r.contains("1 matching device(s) wait") && r.contains("maximum"));
  }

  @Test
  void aFourthDeviceJoinsAsAnAgentAfterTheServers() {
    World w = new World();
    for (int i = 1; i <= 4; i++) {
      w.device("" + i);
    }
    List<String> joinOrder = new ArrayList<>();
    Plan p = w.plan();
    for (int i = 0; i < 10; i++) {
      for (Member m : p.members()) {
        if (!joinOrder.contains(m.deviceId() + ":" + m.role())) {
          joinOrder.add(m.deviceId() + ":" + m.role());
        }
      }
      p = w.step();
    }
    assertThat(joinOrder).containsExactly("1:server", "2:server", "3:server", "4:agent");
    assertThat(p.state()).isEqualTo(State.READY);
  }

  @Test
  void candidatesInAnotherClusterQuarantinedOrDecommissionedAreNotUsed() {
    World w = new World();
    w.device("1");
    w.device("2");
    w.device("3");
    w.change(
        "1",
        c ->
            new Candidate(
                c.deviceId(),
                c.name(),
                c.tags(),
                true,
                false,
                true,
                w.now,
                c.enrolledAt(),
                "amd64",
                "other"));
    w.change(
        "2",
        c ->
            new Candidate(
                c.deviceId(),
                c.name(),
                c.tags(),
                true,
                true,
                true,
                w.now,
                c.enrolledAt(),
                "amd64",
                null));
    Plan p = w.plan();
    assertThat(p.state()).isEqualTo(State.PENDING);
    assertThat(p.members()).isEmpty();
    w.device("x", Map.of("pool", "elsewhere"));
    assertThat(w.plan().members()).isEmpty();
  }

  @Test
  void missingK3sBinaryIsExplainedWithThePushCommand() {
    World w = new World();
    w.v1Pushed = false;
    w.device("1");
    w.device("2");
    w.device("3");
    Plan p = w.plan();
    assertThat(p.state()).isEqualTo(State.PENDING);
    assertThat(p.reasons())
        .anyMatch(
            r -> r.contains("edgefleet artifacts push") && r.contains(V1) && r.contains("amd64"));
    w.v1Pushed = true;
    assertThat(w.plan().members()).hasSize(1);
  }

  @Test
  void anUntaggedAgentIsRemovedThroughTheOperatorServer() {
    World w = new World();
    for (int i = 1; i <= 4; i++) {
      w.device("" + i);
    }
    w.converge();
    assertThat(w.agents()).isEqualTo(1);
    w.change(
        "4",
        c ->
            new Candidate(
                c.deviceId(),
                c.name(),
                Map.of(),
                true,
                false,
                true,
                w.now,
                c.enrolledAt(),
                "amd64",
                null));
    Plan p = w.plan();
    assertThat(p.sections()).doesNotContainKey("4");
    assertThat(p.members()).anyMatch(m -> m.deviceId().equals("4") && m.removing());
    assertThat(p.operator()).isEqualTo("1");
    assertThat(p.sections().get("1").removals())
        .containsExactly(new ClusterSpec.Removal("node-4", false));
    assertThat(p.sections().get("2").removals()).isEmpty();
    assertThat(p.reasons()).anyMatch(r -> r.contains("node-4") && r.contains("no longer matches"));
    // the entry stays until the operator's report no longer lists the node
    assertThat(w.plan().members()).anyMatch(m -> m.deviceId().equals("4"));
    p = w.step();
    assertThat(p.members()).noneMatch(m -> m.deviceId().equals("4"));
    assertThat(p.sections().get("1").removals()).isEmpty();
    assertThat(p.state()).isEqualTo(State.READY);
  }

  @Test
  void aDeadServerIsRemovedBeforeAReplacementJoinsAndQuorumHolds() {
    World w = new World();
    w.device("1");
    w.device("2");
    w.device("3");
    w.converge();
    w.offline("2");
    Plan p = w.plan();
    assertThat(p.state()).isEqualTo(State.DEGRADED);
    assertThat(p.etcd().quorumAtRisk()).isTrue();
    assertThat(p.reasons()).anyMatch(r -> r.contains("node-2 is offline") && r.contains("5m"));
    assertThat(p.members()).noneMatch(Member::removing);

    w.device("4");
    w.now = w.now.plus(Duration.ofMinutes(6));
    p = w.plan();
    // removal first, no replacement yet
    assertThat(p.members()).anyMatch(m -> m.deviceId().equals("2") && m.removing());
    assertThat(p.members()).noneMatch(m -> m.deviceId().equals("4"));
    assertThat(p.sections().get("1").removals())
        .containsExactly(new ClusterSpec.Removal("node-2", true));
    p = w.step();
    assertThat(p.members()).noneMatch(m -> m.deviceId().equals("2"));
    // then the replacement joins as a server
    p = w.converge();
    assertThat(p.members()).anyMatch(m -> m.deviceId().equals("4") && m.server());
    assertThat(w.servers()).isEqualTo(3);
    assertThat(p.state()).isEqualTo(State.READY);
  }

  @Test
  void anAgentIsPromotedWhenNoOtherDeviceCanReplaceADeadServer() {
    World w = new World();
    for (int i = 1; i <= 4; i++) {
      w.device("" + i);
    }
    w.converge();
    w.offline("3");
    w.now = w.now.plus(Duration.ofMinutes(6));
    Plan p = w.converge();
    assertThat(p.members()).noneMatch(m -> m.deviceId().equals("3"));
    Member four =
        p.members().stream().filter(m -> m.deviceId().equals("4")).findFirst().orElseThrow();
    assertThat(four.role()).isEqualTo("server");
    assertThat(p.sections().get("4").role()).isEqualTo("server");
    assertThat(p.sections().get("4").servers()).hasSize(2);
    assertThat(p.state()).isEqualTo(State.READY);
  }

  @Test
  void neverRemovesAServerWhenTheRestWouldHaveNoQuorum() {
    World w = new World();
    w.device("1");
    w.device("2");
    w.device("3");
    w.converge();
    w.offline("2");
    w.offline("3");
    w.now = w.now.plus(Duration.ofMinutes(1));
    // server 1 untagged while two are down: removing it would leave 0 of 2 running
    w.change(
        "1",
        c ->
            new Candidate(
                c.deviceId(),
                c.name(),
                Map.of(),
                true,
                false,
                true,
                w.now,
                c.enrolledAt(),
                "amd64",
                null));
    Plan p = w.plan();
    assertThat(p.members()).noneMatch(m -> m.deviceId().equals("1") && m.removing());
    assertThat(p.reasons())
        .anyMatch(r -> r.contains("not removing node-1") && r.contains("quorum"));
    assertThat(p.state()).isEqualTo(State.DEGRADED);
    assertThat(p.etcd().quorumAtRisk()).isTrue();
  }

  @Test
  void kubernetesVersionChangesOneNodeAtATimeServersFirst() {
    World w = new World();
    for (int i = 1; i <= 4; i++) {
      w.device("" + i);
    }
    w.converge();
    w.def = w.definition(3, 3, 0, 2, V2);
    List<String> order = new ArrayList<>();
    Plan p = w.plan();
    for (int i = 0; i < 12; i++) {
      long moved = p.members().stream().filter(m -> V2.equals(m.kubernetesVersion())).count();
      long running = w.runningVersion.values().stream().filter(V2::equals).count();
      // at most one node asked for the new version but not yet running it
      assertThat(moved - running).isLessThanOrEqualTo(1);
      for (Member m : p.members()) {
        if (V2.equals(m.kubernetesVersion()) && !order.contains(m.deviceId())) {
          order.add(m.deviceId());
        }
      }
      if (i == 0) {
        assertThat(p.state()).isEqualTo(State.UPDATING);
        assertThat(p.sections().get("1").k3s()).isEqualTo(K3S_V2);
      }
      p = w.step();
    }
    assertThat(order).containsExactly("1", "2", "3", "4");
    assertThat(p.state()).isEqualTo(State.READY);
  }

  /**
   * The reports a moved server sends, in the order they arrive: its last report from before the
   * move (the old version, still RUNNING), the download (the old K3s still runs), the restart, and
   * running on the new version but not ready yet. None of them moves the next node: only a ready
   * RUNNING report of the new version does.
   */
  @Test
  void theNextNodeMovesOnlyOnceTheMovedOneRunsTheNewVersion() {
    World w = new World();
    for (int i = 1; i <= 3; i++) {
      w.device("" + i);
    }
    assertThat(w.converge().state()).isEqualTo(State.READY);
    w.def = w.definition(3, 3, 0, 2, V2);
    assertThat(movedTo(w.plan(), V2)).containsExactly("1");
    record Seen(String phase, String version, boolean ready) {}
    for (Seen seen :
        List.of(
            new Seen("RUNNING", V1, true),
            new Seen("DOWNLOADING", V1, true),
            new Seen("STARTING", V2, false),
            new Seen("RUNNING", V2, false))) {
      report(w, "1", seen.phase(), seen.version(), seen.ready());
      assertThat(movedTo(w.plan(), V2)).as("after %s", seen).containsExactly("1");
    }
    report(w, "1", "RUNNING", V2, true);
    assertThat(movedTo(w.plan(), V2)).containsExactly("1", "2");
  }

  /** A new report of member {@code id}, a second later: its phase, version and readiness. */
  private static void report(World w, String id, String phase, String version, boolean ready) {
    AgentMessage.ClusterNode n = w.reports.get(id).node();
    w.now = w.now.plusSeconds(1);
    w.reports.put(
        id,
        new Report(
            new AgentMessage.ClusterNode(
                n.cluster(),
                n.role(),
                phase,
                n.nodeName(),
                n.address(),
                ready,
                version,
                n.etcd(),
                n.nodes(),
                null,
                n.generation()),
            w.now));
  }

  private static List<String> movedTo(Plan p, String version) {
    return p.members().stream()
        .filter(m -> version.equals(m.kubernetesVersion()))
        .map(Member::deviceId)
        .toList();
  }

  /** The report of a member restarting: its phase and readiness change, nothing else. */
  static void restarting(World w, String id, String phase, String version) {
    AgentMessage.ClusterNode n = w.reports.get(id).node();
    w.reports.put(
        id,
        new Report(
            new AgentMessage.ClusterNode(
                n.cluster(),
                n.role(),
                phase,
                n.nodeName(),
                n.address(),
                false,
                version,
                n.etcd(),
                n.nodes(),
                phase.equals("FAILED") ? "k3s exited with status 1" : null,
                n.generation()),
            w.now));
  }

  @Test
  void aServerRestartingForAnUpgradeLeavesTheClusterUpdatingNotDegraded() {
    World w = new World();
    for (int i = 1; i <= 3; i++) {
      w.device("" + i);
    }
    assertThat(w.converge().state()).isEqualTo(State.READY);
    w.def = w.definition(3, 3, 0, 2, V2);
    assertThat(w.plan().state()).isEqualTo(State.UPDATING);
    restarting(w, "1", "STARTING", V2);
    Plan p = w.plan();
    assertThat(p.state()).isEqualTo(State.UPDATING);
    assertThat(p.reasons())
        .contains(
            "node-1 restarts for Kubernetes "
                + V2
                + "; the other members keep the cluster"
                + " running");
    // Failing to start on the new version is trouble, upgrade or not.
    restarting(w, "1", "FAILED", V2);
    assertThat(w.plan().state()).isEqualTo(State.DEGRADED);
  }

  @Test
  void aServerRestartingOutsideAnUpgradeDegradesTheCluster() {
    World w = new World();
    for (int i = 1; i <= 3; i++) {
      w.device("" + i);
    }
    assertThat(w.converge().state()).isEqualTo(State.READY);
    restarting(w, "2", "STARTING", V1);
    assertThat(w.plan().state()).isEqualTo(State.DEGRADED);
  }

  @Test
  void whileServersJoinTheReasonSaysSoInsteadOfAskingForMoreDevices() {
    World w = new World();
    for (int i = 1; i <= 3; i++) {
      w.device("" + i);
    }
    List<String> seen = new ArrayList<>(w.plan().reasons());
    for (int i = 0; i < 6; i++) {
      seen.addAll(w.step().reasons());
    }
    assertThat(w.last.state()).isEqualTo(State.READY);
    assertThat(seen)
        .noneMatch(r -> r.contains("tag more devices"))
        .noneMatch(r -> r.contains("an even number"))
        .anyMatch(r -> r.contains("matching devices join one at a time"));
    World few = new World();
    few.device("1");
    few.device("2");
    few.def = few.definition(3, 3, 0, 0, V1);
    few.converge();
    assertThat(few.last.reasons()).anyMatch(r -> r.contains("tag more devices"));
  }

  @Test
  void applierPrefersTheInitServerAndFailsOverAfterAMinuteOffline() {
    World w = new World();
    w.device("1");
    w.device("2");
    w.device("3");
    w.converge();
    assertThat(w.applier).isEqualTo("1");
    w.offline("1");
    w.now = w.now.plusSeconds(30);
    assertThat(w.plan().applier()).isEqualTo("1");
    w.now = w.now.plusSeconds(40);
    assertThat(w.plan().applier()).isEqualTo("2");
    // the operator for removals is a running server too
    assertThat(w.last.operator()).isEqualTo("2");
  }

  /**
   * A server's report may say STARTING for a moment while it is online (its API server was slow to
   * answer, it restarts for an upgrade): the applier stays, or the cluster-scoped apps would move
   * to another member and back, each move removing and re-creating them.
   */
  @Test
  void anOnlineApplierThatIsBrieflyNotRunningKeepsTheRole() {
    World w = new World();
    w.device("1");
    w.device("2");
    w.device("3");
    w.converge();
    assertThat(w.applier).isEqualTo("1");
    Report r = w.reports.get("1");
    AgentMessage.ClusterNode n = r.node();
    w.reports.put(
        "1",
        new Report(
            new AgentMessage.ClusterNode(
                n.cluster(),
                n.role(),
                "STARTING",
                n.nodeName(),
                n.address(),
                false,
                n.kubernetesVersion(),
                n.etcd(),
                n.nodes(),
                "the API server did not answer",
                n.generation()),
            w.now));
    w.now = w.now.plusSeconds(5);
    assertThat(w.plan().applier()).isEqualTo("1");
    assertThat(w.step().applier()).isEqualTo("1");
  }

  @Test
  void deactivateReleasesEveryMember() {
    World w = new World();
    w.device("1");
    w.device("2");
    w.device("3");
    w.converge();
    w.def =
        new Definition(
            w.def.name(),
            w.def.selector(),
            3,
            3,
            0,
            2,
            V1,
            Map.of(),
            Map.of(),
            Duration.ofMinutes(5),
            true,
            1);
    Plan p = w.plan();
    assertThat(p.state()).isEqualTo(State.DEACTIVATED);
    assertThat(p.members()).isEmpty();
    assertThat(p.sections()).isEmpty();
    assertThat(p.changes()).anyMatch(c -> c.contains("3 member"));
  }

  @Test
  void aFailingMemberDegradesTheClusterWithItsMessage() {
    World w = new World();
    w.device("1");
    w.device("2");
    w.device("3");
    w.converge();
    AgentMessage.ClusterNode n = w.reports.get("3").node();
    w.reports.put(
        "3",
        new Report(
            new AgentMessage.ClusterNode(
                n.cluster(),
                n.role(),
                "FAILED",
                n.nodeName(),
                n.address(),
                null,
                n.kubernetesVersion(),
                List.of(),
                List.of(),
                "k3s exited: bad token",
                1),
            w.now));
    Plan p = w.plan();
    assertThat(p.state()).isEqualTo(State.DEGRADED);
    assertThat(p.reasons()).anyMatch(r -> r.contains("node-3 failed: k3s exited: bad token"));
  }

  @Test
  void agentsAboveTheMaximumAreRemovedNewestFirst() {
    World w = new World();
    w.def = w.definition(1, 1, 0, 3, V1);
    for (int i = 1; i <= 4; i++) {
      w.device("" + i);
    }
    w.converge();
    assertThat(w.agents()).isEqualTo(3);
    w.def = w.definition(1, 1, 0, 1, V1);
    Plan p = w.plan();
    assertThat(p.members()).anyMatch(m -> m.deviceId().equals("4") && m.removing());
    p = w.converge();
    assertThat(w.agents()).isEqualTo(1);
    assertThat(p.members()).extracting(Member::deviceId).containsExactly("1", "2");
  }

  @Test
  void serverCountHelpers() {
    assertThat(ClusterModel.largestOdd(4)).isEqualTo(3);
    assertThat(ClusterModel.largestOdd(5)).isEqualTo(5);
    assertThat(ClusterModel.largestOdd(0)).isZero();
    assertThat(ClusterModel.validServerCount(2)).isFalse();
    assertThat(ClusterModel.validServerCount(3)).isTrue();
    assertThat(ClusterPlanner.serverUrl("fd00::1")).isEqualTo("https://[fd00::1]:6443");
  }
}
