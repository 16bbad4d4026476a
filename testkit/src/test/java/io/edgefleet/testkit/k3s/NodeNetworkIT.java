package io.edgefleet.testkit.k3s;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Node networks: each node its own address and ports, links cut and restored, partitions. */
class NodeNetworkIT {
  @TempDir Path dir;

  @Test
  void nodesReachEachOtherUntilCutOrPartitionedAndEverythingGoesOnClose() throws Exception {
    NodeNetwork.Node a;
    NodeNetwork.Node b;
    Process server;
    try (NodeNetwork net = NodeNetwork.create()) {
      a = net.add("a");
      b = net.add("b");
      assertThat(a.ip()).startsWith(net.cidr().replace("0/24", "")).isNotEqualTo(b.ip());
      assertThat(net.exec("a", "ip", "-4", "addr", "show", "eth0")).contains(a.ip() + "/24");
      // Inside a node, the other nodes have names and lookups answer at once (no DNS server).
      assertThat(Files.readString(Path.of("/etc/netns", a.namespace(), "hosts")))
          .contains(b.ip() + " b");
      assertThat(net.exec("a", "getent", "hosts", "b")).contains(b.ip());

      // A listener on the same port in both nodes: each namespace has its own ports.
      server = listen(net, "b", b.ip());
      Process second = listen(net, "a", a.ip());
      await().atMost(Duration.ofSeconds(30)).until(() -> reaches(net, "a", b.ip()));
      // a's listener started after b's: wait until it listens too.
      await().atMost(Duration.ofSeconds(30)).until(() -> reaches(net, "b", a.ip()));
      assertThat(second.isAlive()).isTrue();

      net.cut("b");
      assertThat(reaches(net, "a", b.ip())).isFalse();
      net.restore("b");
      await().atMost(Duration.ofSeconds(10)).until(() -> reaches(net, "a", b.ip()));

      net.partition("a", "b");
      assertThat(reaches(net, "a", b.ip())).isFalse();
      assertThat(reaches(net, "b", a.ip())).isFalse();
      net.heal("a", "b");
      await().atMost(Duration.ofSeconds(10)).until(() -> reaches(net, "a", b.ip()));

      assertThat(net.pids("b")).contains(server.pid());
    }
    assertThat(server.waitFor(10, TimeUnit.SECONDS))
        .as("processes in a node die on close")
        .isTrue();
    String namespaces = NodeNetwork.run(new ProcessBuilder("ip", "netns", "list"));
    assertThat(namespaces).doesNotContain(a.namespace()).doesNotContain(b.namespace());
    assertThat(NodeNetwork.run(new ProcessBuilder("ip", "link", "show")))
        .doesNotContain(a.hostVeth() + "@")
        .doesNotContain(b.hostVeth() + "@");
    assertThat(Path.of("/etc/netns", a.namespace())).doesNotExist();
  }

  /** The JDK's small web server, bound to the node's address on port 8000 inside its namespace. */
  private Process listen(NodeNetwork net, String node, String ip) throws Exception {
    Path java = Path.of(ProcessHandle.current().info().command().orElseThrow());
    Path jwebserver = java.resolveSibling("jwebserver");
    Path root = Files.createDirectories(dir.resolve(node));
    return net.command(
            node, List.of(jwebserver.toString(), "-b", ip, "-p", "8000", "-d", root.toString()))
        .redirectErrorStream(true)
        .redirectOutput(dir.resolve(node + ".log").toFile())
        .start();
  }

  /** Whether {@code from} can open a TCP connection to {@code ip}:8000 within 2 s. */
  private static boolean reaches(NodeNetwork net, String from, String ip) {
    try {
      net.exec(from, "timeout", "2", "bash", "-c", "exec 3<>/dev/tcp/" + ip + "/8000");
      return true;
    } catch (IllegalStateException e) {
      return false;
    }
  }
}
