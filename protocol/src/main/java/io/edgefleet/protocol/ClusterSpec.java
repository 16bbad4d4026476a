package io.edgefleet.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;

/**
 * The {@code cluster} section of a device's desired state: the K3s node this device should be. The
 * agent writes the K3s configuration from it, fetches the binary ({@link #k3s}), starts and
 * supervises K3s, and reports {@link AgentMessage.ClusterNode}. A document without the section
 * means the device is no member of any cluster: the agent stops K3s and removes its data.
 *
 * @param name the cluster's name
 * @param role {@link #ROLE_SERVER} or {@link #ROLE_AGENT}; a change of role makes the agent stop
 *     K3s, remove its data and join again in the new role
 * @param init this server initialises the cluster (K3s {@code cluster-init}: a new embedded etcd)
 *     instead of joining through {@link #servers}
 * @param servers {@code https://ADDRESS:6443} of running servers to join through, the best first;
 *     empty for the initialising server
 * @param tokenVersion the version of the cluster's join token to fetch from {@code
 *     /device/v1/clusters/{name}/token?version=}; a rotation raises it
 * @param nodeName the Kubernetes node name
 * @param nodeLabels labels for the node ({@code node-label})
 * @param nodeTaints taints for the node, {@code key=value:Effect} ({@code node-taint})
 * @param kubernetesVersion the K3s version to run, e.g. {@code v1.20.2+k3s1}
 * @param k3s the K3s binary of that version for this device's architecture
 * @param config further K3s configuration keys (as in K3s's {@code config.yaml}: a flag's name
 *     without the dashes, to a string, number, boolean or list of strings), from the cluster's
 *     profile and settings; never one of the keys the agent owns (token, server, cluster-init,
 *     data-dir, node-name, node-ip, node-label, node-taint, write-kubeconfig)
 * @param removals only on the one server the controller chose to carry out membership changes: the
 *     nodes to drain and delete, and for servers also to remove from etcd; the controller drops an
 *     entry once the reports show it done
 */
public record ClusterSpec(
    String name,
    String role,
    boolean init,
    List<String> servers,
    long tokenVersion,
    String nodeName,
    @JsonInclude(JsonInclude.Include.NON_EMPTY) Map<String, String> nodeLabels,
    @JsonInclude(JsonInclude.Include.NON_EMPTY) List<String> nodeTaints,
    String kubernetesVersion,
    ArtifactRef k3s,
    @JsonInclude(JsonInclude.Include.NON_EMPTY) Map<String, Object> config,
    @JsonInclude(JsonInclude.Include.NON_EMPTY) List<Removal> removals) {
  public static final String ROLE_SERVER = "server";
  public static final String ROLE_AGENT = "agent";

  /** The K3s configuration keys the agent writes itself; {@link #config} never holds them. */
  public static final List<String> AGENT_OWNED_KEYS =
      List.of(
          "token",
          "server",
          "cluster-init",
          "data-dir",
          "node-name",
          "node-ip",
          "node-label",
          "node-taint",
          "write-kubeconfig",
          "write-kubeconfig-mode");

  public ClusterSpec {
    servers = servers == null ? List.of() : List.copyOf(servers);
    nodeLabels = nodeLabels == null ? Map.of() : Map.copyOf(nodeLabels);
    nodeTaints = nodeTaints == null ? List.of() : List.copyOf(nodeTaints);
    config = config == null ? Map.of() : Map.copyOf(config);
    removals = removals == null ? List.of() : List.copyOf(removals);
  }

  /**
   * A node to remove from the cluster: cordon it, evict its pods (when it still answers), delete
   * the Node object and, when {@code etcd}, remove its etcd member (by the member name, which K3s
   * makes from the node name).
   */
  public record Removal(String nodeName, boolean etcd) {}
}
