package io.edgefleet.agent.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.protocol.AgentMessage;
import org.junit.jupiter.api.Test;

class NodeProbeTest {

  @Test
  void nodesAreReadAsTheApiServerListsThem() throws Exception {
    var n =
        io.edgefleet.protocol.json.JsonCodec.readTree(
            """
            {"metadata":{"name":"till-1","labels":{"node-role.kubernetes.io/master":"true"}},
             "spec":{"unschedulable":true},
             "status":{"nodeInfo":{"kubeletVersion":"v1.20.2+k3s1"},
               "conditions":[{"type":"MemoryPressure","status":"False"},{"type":"Ready","status":"True"}]}}
            """);
    assertThat(NodeProbe.kubeNode(n))
        .isEqualTo(new AgentMessage.KubeNode("till-1", true, "v1.20.2+k3s1", true, true));
    var agent =
        io.edgefleet.protocol.json.JsonCodec.readTree(
            """
            {"metadata":{"name":"till-4"},"status":{"conditions":[{"type":"Ready","status":"Unknown"}]}}
            """);
    assertThat(NodeProbe.kubeNode(agent))
        .isEqualTo(new AgentMessage.KubeNode("till-4", false, null, false, false));
  }

  @Test
  void etcdMembersAreReadFromTheGatewayAndBounded() throws Exception {
    StringBuilder b = new StringBuilder("{\"header\":{},\"members\":[");
    for (int i = 0; i < 20; i++) {
      b.append(i == 0 ? "" : ",")
          .append("{\"ID\":\"")
          .append(1000 + i)
          .append("\",\"name\":\"till-")
          .append(i)
          .append("-0a0b0c0d\",\"peerURLs\":[\"https://10.0.0.")
          .append(i)
          .append(":2380\"]")
          .append(i == 1 ? ",\"isLearner\":true" : "")
          .append("}");
    }
    b.append("]}");
    var members = NodeProbe.members(io.edgefleet.protocol.json.JsonCodec.readTree(b.toString()));
    assertThat(members).hasSize(AgentMessage.ClusterNode.MAX_ETCD_MEMBERS);
    assertThat(members.get(0))
        .isEqualTo(
            new AgentMessage.EtcdMember(
                "1000", "till-0-0a0b0c0d", java.util.List.of("https://10.0.0.0:2380"), false));
    assertThat(members.get(1).learner()).isTrue();
  }

  @Test
  void aDrainEvictsOrdinaryPodsButNotDaemonSetMirrorOrTerminatingOnes() throws Exception {
    assertThat(NodeProbe.evictable(pod("{\"metadata\":{\"name\":\"web-1\"}}"))).isTrue();
    assertThat(
            NodeProbe.evictable(
                pod("{\"metadata\":{\"ownerReferences\":[{\"kind\":\"ReplicaSet\"}]}}")))
        .isTrue();
    assertThat(
            NodeProbe.evictable(
                pod("{\"metadata\":{\"ownerReferences\":[{\"kind\":\"DaemonSet\"}]}}")))
        .isFalse();
    assertThat(
            NodeProbe.evictable(
                pod("{\"metadata\":{\"annotations\":{\"kubernetes.io/config.mirror\":\"x\"}}}")))
        .isFalse();
    assertThat(
            NodeProbe.evictable(
                pod("{\"metadata\":{\"deletionTimestamp\":\"2026-12-06T10:00:00Z\"}}")))
        .isFalse();
  }

  private static com.fasterxml.jackson.databind.JsonNode pod(String json) throws Exception {
    return io.edgefleet.protocol.json.JsonCodec.readTree(json);
  }
}
