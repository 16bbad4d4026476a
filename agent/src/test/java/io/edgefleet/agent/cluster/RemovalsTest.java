package io.edgefleet.agent.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.protocol.AgentMessage.EtcdMember;
import java.util.List;
import org.junit.jupiter.api.Test;

class RemovalsTest {
  private static EtcdMember m(String id, String name) {
    return new EtcdMember(id, name, List.of("https://10.0.0.1:2380"), false);
  }

  @Test
  void aNodesMemberIsNamedAfterItWithOrWithoutTheSuffixK3sAdds() {
    List<EtcdMember> members =
        List.of(
            m("1", "till-1-0a1b2c3d"),
            m("2", "till-10-99aa88bb"),
            m("3", "till-1-b-11223344"),
            m("4", "till-1"),
            m("5", ""));
    assertThat(Removals.membersOf("till-1", members))
        .extracting(EtcdMember::id)
        .containsExactly("1", "4");
    assertThat(Removals.membersOf("till-10", members))
        .extracting(EtcdMember::id)
        .containsExactly("2");
    assertThat(Removals.membersOf("till-1-b", members))
        .extracting(EtcdMember::id)
        .containsExactly("3");
    assertThat(Removals.membersOf("till-2", members)).isEmpty();
  }

  @Test
  void aServerNeverRemovesItself() {
    NodeProbe unreachable =
        new NodeProbe(
            java.nio.file.Path.of("/nonexistent/kubeconfig"),
            java.nio.file.Path.of("/nonexistent/data"),
            java.time.Duration.ofSeconds(1));
    List<String> errors =
        Removals.apply(
            unreachable,
            "till-1",
            List.of(new io.edgefleet.protocol.ClusterSpec.Removal("till-1", true)));
    assertThat(errors).containsExactly("refused to remove node till-1: it is this node");
    List<String> others =
        Removals.apply(
            unreachable,
            "till-1",
            List.of(new io.edgefleet.protocol.ClusterSpec.Removal("till-2", true)));
    assertThat(others)
        .hasSize(3)
        .anySatisfy(
            e -> assertThat(e).startsWith("could not drain node till-2: K3s has not written"))
        .anySatisfy(
            e -> assertThat(e).startsWith("could not delete node till-2: K3s has not written"))
        .anySatisfy(e -> assertThat(e).startsWith("could not remove the etcd member of till-2"));
  }
}
