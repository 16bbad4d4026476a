package io.edgefleet.simulator;

import io.edgefleet.protocol.AgentMessage;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the simulated K3s clusters hold, simulator-wide: per cluster the embedded etcd's member list
 * (a server joins it when it runs, leaves it when another server carries out its removal) and the
 * API server's node list. Servers read both for their reports, as a real server reads its etcd and
 * API server. Members hear of every change so they report it promptly.
 */
final class SimulatedClusters {
  private final Map<String, Cluster> clusters = new ConcurrentHashMap<>();

  /** One cluster's state; every method holds its monitor and never calls out while holding it. */
  static final class Cluster {
    final String name;
    private final Map<String, AgentMessage.EtcdMember> etcd = new LinkedHashMap<>();
    private final Map<String, AgentMessage.KubeNode> nodes = new LinkedHashMap<>();
    private final Set<SimulatedClusterNode> members = new LinkedHashSet<>();

    private Cluster(String name) {
      this.name = name;
    }

    synchronized List<AgentMessage.EtcdMember> etcd() {
      return List.copyOf(etcd.values());
    }

    synchronized List<AgentMessage.KubeNode> nodes() {
      return List.copyOf(nodes.values());
    }

    /** Whether a server of this cluster runs etcd that a node could join through. */
    synchronized boolean hasEtcd() {
      return !etcd.isEmpty();
    }

    synchronized void join(SimulatedClusterNode member) {
      members.add(member);
    }

    synchronized void leave(SimulatedClusterNode member) {
      members.remove(member);
    }

    /** The node's object in the API server, as its kubelet registers and heartbeats it. */
    void node(AgentMessage.KubeNode node, SimulatedClusterNode from) {
      List<SimulatedClusterNode> tell;
      synchronized (this) {
        if (node.equals(nodes.get(node.name()))) {
          return;
        }
        nodes.put(node.name(), node);
        tell = List.copyOf(members);
      }
      changed(tell, from);
    }

    /** A server's etcd member (added once; it keeps its id and name across restarts). */
    void addEtcdMember(String nodeName, String address, SimulatedClusterNode from) {
      List<SimulatedClusterNode> tell;
      synchronized (this) {
        if (etcd.containsKey(nodeName)) {
          return;
        }
        etcd.put(nodeName, member(nodeName, address));
        tell = List.copyOf(members);
      }
      changed(tell, from);
    }

    /**
     * Carries out a removal: the Node object goes, and with {@code etcd} the member whose name is
     * the node's name and a suffix. Idempotent; true when something was removed.
     */
    boolean remove(String nodeName, boolean removeEtcd, SimulatedClusterNode from) {
      List<SimulatedClusterNode> tell;
      synchronized (this) {
        boolean changed = nodes.remove(nodeName) != null;
        if (removeEtcd) {
          changed |= etcd.remove(nodeName) != null;
        }
        if (!changed) {
          return false;
        }
        tell = List.copyOf(members);
      }
      changed(tell, from);
      return true;
    }

    /** Tells the members other than {@code from} (which reports its own change). */
    private static void changed(List<SimulatedClusterNode> members, SimulatedClusterNode from) {
      for (SimulatedClusterNode m : members) {
        if (m != from) {
          m.clusterChanged();
        }
      }
    }
  }

  Cluster cluster(String name) {
    return clusters.computeIfAbsent(name, Cluster::new);
  }

  /** Clusters with at least one member or etcd member. */
  int size() {
    return clusters.size();
  }

  /** The etcd member K3s would add for a server: named after the node with 8 hex of suffix. */
  static AgentMessage.EtcdMember member(String nodeName, String address) {
    byte[] h;
    try {
      h = MessageDigest.getInstance("SHA-256").digest(nodeName.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    long id = 0;
    for (int i = 0; i < 8; i++) {
      id = (id << 8) | (h[i] & 0xff);
    }
    String suffix = HexFormat.of().formatHex(h, 8, 12);
    return new AgentMessage.EtcdMember(
        Long.toUnsignedString(id),
        nodeName + "-" + suffix,
        new ArrayList<>(List.of("https://" + address + ":2380")),
        false);
  }
}
