package io.edgefleet.testkit.k3s;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A private network of Linux network namespaces, one per node, each joined by a veth pair to a
 * bridge on the host, so that several "machines" can each bind the same fixed ports (6443, 2379,
 * 2380...) on their own address.
 *
 * <p>Every instance picks a free {@code 10.77.X.0/24} subnet and names its bridge, namespaces and
 * veth pairs after a random run id, so parallel test runs do not collide. The host end of the
 * bridge is {@code 10.77.X.1}; nodes get {@code .2}, {@code .3}, ... in the order they are added.
 * {@link #close()} (also run at JVM exit) kills every process left in the namespaces and deletes
 * namespaces, links and bridge.
 *
 * <p>Needs root and {@code ip} (iproute2): without them the constructor fails with a message saying
 * so.
 */
public final class NodeNetwork implements AutoCloseable {
  /** One node: its namespace and address. */
  public record Node(String name, String namespace, String ip, String hostVeth) {}

  private final String runId;
  private final String bridge;
  private final int subnet;
  private final Map<String, Node> nodes = new ConcurrentHashMap<>();
  private final Thread hook;
  private volatile boolean closed;

  private NodeNetwork() {
    checkPrerequisites();
    this.runId = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(0, 6);
    this.bridge = "efbr" + runId;
    this.subnet = reserveSubnet();
    this.hook = new Thread(this::cleanup, "node-network-cleanup-" + runId);
    Runtime.getRuntime().addShutdownHook(hook);
  }

  /** Creates the bridge on a free subnet; nodes are added with {@link #add(String)}. */
  public static NodeNetwork create() {
    return new NodeNetwork();
  }

  /** The host's address on the bridge ({@code 10.77.X.1}), reachable from every node. */
  public String hostIp() {
    return "10.77." + subnet + ".1";
  }

  /** The subnet in CIDR notation. */
  public String cidr() {
    return "10.77." + subnet + ".0/24";
  }

  /** Adds a node: a namespace with loopback up and {@code eth0} on the bridge. */
  public synchronized Node add(String name) {
    if (closed) {
      throw new IllegalStateException("node network " + runId + " is closed");
    }
    if (nodes.containsKey(name)) {
      throw new IllegalArgumentException("node " + name + " already exists");
    }
    int index = nodes.size() + 2;
    if (index > 250) {
      throw new IllegalStateException("a node network holds at most 249 nodes");
    }
    String ns = "ef-" + runId + "-" + name;
    String hostVeth = "efv" + runId + index;
    String peer = "efp" + runId + index;
    String ip = "10.77." + subnet + "." + index;
    Node node = new Node(name, ns, ip, hostVeth);
    nodes.put(name, node); // before anything is made, so that close() removes what was
    ip("netns", "add", ns);
    // `ip netns exec` bind-mounts /etc/netns/NS/* over /etc: a resolver that fails at once (no
    // name server inside) and a hosts file naming every node, so that reverse lookups (the JDK's
    // HTTPS server does one per connection) answer at once instead of timing out.
    writeEtc(ns, "resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
    ip("link", "add", hostVeth, "type", "veth", "peer", "name", peer);
    ip("link", "set", peer, "netns", ns);
    ip("link", "set", hostVeth, "master", bridge);
    ip("link", "set", hostVeth, "up");
    ip("netns", "exec", ns, "ip", "link", "set", "lo", "up");
    ip("netns", "exec", ns, "ip", "link", "set", peer, "name", "eth0");
    ip("netns", "exec", ns, "ip", "addr", "add", ip + "/24", "dev", "eth0");
    ip("netns", "exec", ns, "ip", "link", "set", "eth0", "up");
    ip("netns", "exec", ns, "ip", "route", "add", "default", "via", hostIp());
    writeHosts();
    return node;
  }

  private void writeHosts() {
    StringBuilder hosts = new StringBuilder("127.0.0.1 localhost\n::1 localhost\n");
    hosts.append(hostIp()).append(" edgefleet-host\n");
    for (Node n : nodes.values()) {
      hosts.append(n.ip()).append(' ').append(n.name()).append('\n');
    }
    for (Node n : nodes.values()) {
      writeEtc(n.namespace(), "hosts", hosts.toString());
    }
  }

  private static void writeEtc(String ns, String file, String text) {
    try {
      Path dir = Files.createDirectories(Path.of("/etc/netns", ns));
      Files.writeString(dir.resolve(file), text);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write /etc/netns/" + ns + "/" + file, e);
    }
  }

  private static void deleteEtc(String ns) {
    Path dir = Path.of("/etc/netns", ns);
    try {
      Files.deleteIfExists(dir.resolve("hosts"));
      Files.deleteIfExists(dir.resolve("resolv.conf"));
      Files.deleteIfExists(dir);
    } catch (IOException e) {
      // best effort
    }
  }

  /** The node called {@code name}. */
  public Node node(String name) {
    Node n = nodes.get(name);
    if (n == null) {
      throw new IllegalArgumentException("no node " + name + " in network " + runId);
    }
    return n;
  }

  /** A process builder running {@code command} inside the node's namespace. */
  public ProcessBuilder command(String node, List<String> command) {
    List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", node(node).namespace()));
    cmd.addAll(command);
    return new ProcessBuilder(cmd);
  }

  /** Runs a command inside the node's namespace and returns its output; fails on non-zero exit. */
  public String exec(String node, String... command) {
    return run(command(node, List.of(command)).redirectErrorStream(true));
  }

  /** Cuts the node off the network (its veth goes down: no packet in or out). */
  public void cut(String node) {
    ip("link", "set", node(node).hostVeth(), "down");
  }

  /** Puts a node cut with {@link #cut(String)} back on the network. */
  public void restore(String node) {
    ip("link", "set", node(node).hostVeth(), "up");
  }

  /**
   * Drops every packet between nodes {@code a} and {@code b} (both directions), leaving both on the
   * network otherwise: a partition. Rules live in {@code a}'s namespace and go with it.
   */
  public void partition(String a, String b) {
    for (String chain : List.of("INPUT", "OUTPUT")) {
      String dir = chain.equals("INPUT") ? "-s" : "-d";
      exec(a, "iptables", "-w", "-I", chain, dir, node(b).ip(), "-j", "DROP");
    }
  }

  /** Undoes {@link #partition(String, String)}. */
  public void heal(String a, String b) {
    for (String chain : List.of("INPUT", "OUTPUT")) {
      String dir = chain.equals("INPUT") ? "-s" : "-d";
      exec(a, "iptables", "-w", "-D", chain, dir, node(b).ip(), "-j", "DROP");
    }
  }

  /** The pids of the processes running in the node's namespace. */
  public List<Long> pids(String node) {
    String out = run(new ProcessBuilder("ip", "netns", "pids", node(node).namespace()));
    return out.lines().map(String::strip).filter(s -> !s.isEmpty()).map(Long::parseLong).toList();
  }

  /** Kills (SIGKILL) every process in the node's namespace, like pulling the plug. */
  public void killAll(String node) {
    for (long pid : pids(node)) {
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }
  }

  @Override
  public void close() {
    cleanup();
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // already shutting down: the hook is this call
    }
  }

  private synchronized void cleanup() {
    if (closed) {
      return;
    }
    closed = true;
    for (Node n : nodes.values()) {
      try {
        killAll(n.name());
      } catch (RuntimeException e) {
        // namespace already gone
      }
    }
    for (Node n : nodes.values()) {
      quietly("netns", "del", n.namespace());
      deleteEtc(n.namespace());
      quietly("link", "del", n.hostVeth());
    }
    quietly("link", "del", bridge);
    try {
      forwarding("-D");
    } catch (RuntimeException e) {
      // best effort
    }
  }

  /**
   * With {@code br_netfilter} loaded, bridged packets go through the host's FORWARD chain, whose
   * policy is DROP on hosts running Docker: accept this bridge's traffic explicitly ({@code -I}),
   * and remove the rules again ({@code -D}). Without {@code iptables} there is no such filter.
   */
  private void forwarding(String op) {
    if (!Files.isExecutable(Path.of("/usr/sbin/iptables"))
        && !Files.isExecutable(Path.of("/sbin/iptables"))) {
      return;
    }
    for (String side : List.of("-i", "-o")) {
      run(new ProcessBuilder("iptables", "-w", op, "FORWARD", side, bridge, "-j", "ACCEPT"));
    }
  }

  private int reserveSubnet() {
    String used = run(new ProcessBuilder("ip", "-4", "addr", "show"));
    for (int attempt = 0; attempt < 60; attempt++) {
      int x = 1 + ThreadLocalRandom.current().nextInt(254);
      if (used.contains("10.77." + x + ".")) {
        continue;
      }
      ip("link", "add", bridge, "type", "bridge");
      try {
        ip("addr", "add", "10.77." + x + ".1/24", "dev", bridge);
        ip("link", "set", bridge, "up");
      } catch (RuntimeException e) {
        quietly("link", "del", bridge);
        continue;
      }
      try {
        forwarding("-I");
      } catch (RuntimeException e) {
        quietly("link", "del", bridge);
        throw new IllegalStateException(
            "cannot let the node network's bridge forward (iptables FORWARD ACCEPT): "
                + e.getMessage(),
            e);
      }
      return x;
    }
    throw new IllegalStateException("no free 10.77.X.0/24 subnet for a node network");
  }

  private static void checkPrerequisites() {
    String user = System.getProperty("user.name");
    boolean root;
    try {
      Process p = new ProcessBuilder("id", "-u").redirectErrorStream(true).start();
      root =
          new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip().equals("0");
      p.waitFor();
    } catch (IOException e) {
      throw new IllegalStateException(
          "cannot tell whether this runs as root: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
    if (!root) {
      throw new IllegalStateException(
          "node networks (network namespaces, veth pairs, a bridge) need root; this runs as "
              + user
              + ": run the tests as root (CI does)");
    }
    try {
      run(new ProcessBuilder("ip", "-V"));
    } catch (RuntimeException e) {
      throw new IllegalStateException(
          "node networks need the `ip` command: install iproute2 (apt-get install iproute2)", e);
    }
  }

  private static void ip(String... args) {
    List<String> cmd = new ArrayList<>(List.of("ip"));
    cmd.addAll(List.of(args));
    run(new ProcessBuilder(cmd));
  }

  private static void quietly(String... args) {
    try {
      ip(args);
    } catch (RuntimeException e) {
      // best effort
    }
  }

  static String run(ProcessBuilder pb) {
    pb.redirectErrorStream(true);
    try {
      Process p = pb.start();
      p.getOutputStream().close();
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException(String.join(" ", pb.command()) + " timed out");
      }
      String text = new String(out, StandardCharsets.UTF_8);
      if (p.exitValue() != 0) {
        throw new IllegalStateException(
            String.join(" ", pb.command())
                + " failed (exit "
                + p.exitValue()
                + "): "
                + text.strip());
      }
      return text;
    } catch (IOException e) {
      throw new UncheckedIOException(String.join(" ", pb.command()) + " could not run", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
