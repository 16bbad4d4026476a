package io.edgefleet.agent.cluster;

import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ClusterSpec;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Carries out the removals the controller gave this server: cordon the node, evict its pods as a
 * drain does (disruption budgets hold), delete its Node object, and for a server remove its etcd
 * member (named after the node: the node name itself, or {@code <node-name>-<suffix>} as K3s names
 * them). Idempotent: what is already gone is skipped.
 */
final class Removals {
  private Removals() {}

  /** The etcd members that belong to {@code node}: named {@code node} or {@code node-...}. */
  static List<AgentMessage.EtcdMember> membersOf(
      String node, List<AgentMessage.EtcdMember> members) {
    List<AgentMessage.EtcdMember> out = new ArrayList<>();
    for (AgentMessage.EtcdMember m : members) {
      String name = m.name() == null ? "" : m.name();
      if (name.equals(node)
          || name.startsWith(node + "-") && isSuffix(name.substring(node.length() + 1))) {
        out.add(m);
      }
    }
    return out;
  }

  /**
   * K3s appends an 8-hex-digit suffix; a node named {@code a} must not take the member of a node
   * named {@code a-b}, so only a suffix without a further dash counts.
   */
  private static boolean isSuffix(String s) {
    return !s.isEmpty() && s.indexOf('-') < 0;
  }

  /**
   * Carries out each removal; the errors, one sentence each (empty if all went well).
   *
   * @param self this node's name: never removed by itself
   */
  static List<String> apply(NodeProbe probe, String self, List<ClusterSpec.Removal> removals) {
    List<String> errors = new ArrayList<>();
    for (ClusterSpec.Removal r : removals) {
      String node = r.nodeName();
      if (node == null || node.isBlank() || node.equals(self)) {
        errors.add("refused to remove node " + node + ": it is this node");
        continue;
      }
      try {
        if (probe.cordon(node)) {
          probe.evictPods(node);
        }
      } catch (IOException e) {
        // A node leaving for good is removed even when its pods cannot all be evicted (it is
        // often offline): what is left is deleted with the Node object.
        errors.add("could not drain node " + node + ": " + e.getMessage());
      }
      try {
        probe.deleteNode(node);
      } catch (IOException e) {
        errors.add("could not delete node " + node + ": " + e.getMessage());
      }
      if (r.etcd()) {
        try {
          for (AgentMessage.EtcdMember m : membersOf(node, probe.members())) {
            probe.removeMember(m.id());
          }
        } catch (IOException e) {
          errors.add("could not remove the etcd member of " + node + ": " + e.getMessage());
        }
      }
    }
    return errors;
  }
}
