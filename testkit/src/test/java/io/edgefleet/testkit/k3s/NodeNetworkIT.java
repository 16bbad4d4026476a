package io.edgefleet.testkit.k3s;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Network namespaces on a bridge: reachability, cut links, partitions, and cleanup. */
class NodeNetworkIT {
  /** curl exit 7: the peer answered (connection refused on a closed port); 28: no answer. */
  private static int probe(NodeNetwork net, String from, String ip) throws Exception {
    Process p =
        net.command(from, List.of("curl", "-s", "-m", "2", "http://" + ip + ":9/"))
            .redirectErrorStream(true)
            .start();
    p.getInputStream().readAllBytes();
    return p.waitFor();
  }

  @Test
  void nodesReachEachOtherUntilCutOrPartitionedAndEverythingIsRemovedOnClose() throws Exception {
    String ns;
    String bridgeCidr;
    try (NodeNetwork net = NodeNetwork.create()) {
      NodeNetwork.Node a = net.add("a");
      NodeNetwork.Node b = net.add("b");
      NodeNetwork.Node c = net.add("c");
      ns = a.namespace();
      bridgeCidr = net.cidr();
      assertThat(a.ip()).isNotEqualTo(b.ip());
      assertThat(net.exec("a", "ip", "-4", "addr", "show", "eth0")).contains(a.ip() + "/24");
      // Each node has its own loopback and ports.
      assertThat(net.exec("a", "ip", "link", "show", "lo")).contains("UP");
      // Names of the other nodes resolve inside a node.
      assertThat(Files.readString(Path.of("/etc/netns", ns, "hosts"))).contains(b.ip() + " b");

      assertThat(probe(net, "a", b.ip())).as("a reaches b").isEqualTo(7);
      assertThat(probe(net, "a", net.hostIp())).as("a reaches the host").isEqualTo(7);

      net.partition("a", "b");
      assertThat(probe(net, "a", b.ip())).as("a partitioned from b").isEqualTo(28);
      assertThat(probe(net, "a", c.ip())).as("a still reaches c").isEqualTo(7);
      net.heal("a", "b");
      assertThat(probe(net, "a", b.ip())).as("healed").isEqualTo(7);

      net.cut("b");
      assertThat(probe(net, "a", b.ip())).as("b cut off").isEqualTo(28);
      net.restore("b");
      assertThat(probe(net, "c", b.ip())).as("b restored").isEqualTo(7);

      assertThatThrownBy(() -> net.add("a")).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> net.node("zz")).hasMessageContaining("no node zz");
    }
    assertThat(NodeNetwork.run(new ProcessBuilder("ip", "netns", "list"))).doesNotContain(ns);
    assertThat(NodeNetwork.run(new ProcessBuilder("ip", "-4", "addr", "show")))
        .doesNotContain(bridgeCidr.replace("0/24", "1/24"));
    assertThat(Path.of("/etc/netns", ns)).doesNotExist();
  }
}
