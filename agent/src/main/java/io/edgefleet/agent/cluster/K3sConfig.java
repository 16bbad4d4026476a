package io.edgefleet.agent.cluster;

import io.edgefleet.protocol.ClusterSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.Yaml;

/**
 * The K3s {@code config.yaml} for a cluster section: the profile's keys first, then the keys the
 * agent owns ({@link ClusterSpec#AGENT_OWNED_KEYS}), which a section may never set itself.
 */
final class K3sConfig {
  /** The most profile keys taken; K3s has fewer flags than this. */
  static final int MAX_KEYS = 200;

  private K3sConfig() {}

  /**
   * The configuration as YAML.
   *
   * @param token the cluster's join token
   * @param nodeIp the address the node advertises
   * @throws IllegalArgumentException (message for a person) if the section is unusable: an
   *     agent-owned or malformed profile key, or a joining node without a server to join
   */
  static String render(
      ClusterSpec spec, String token, Path dataDir, String nodeIp, Path kubeconfig) {
    return yaml(values(spec, token, dataDir, nodeIp, kubeconfig));
  }

  static Map<String, Object> values(
      ClusterSpec spec, String token, Path dataDir, String nodeIp, Path kubeconfig) {
    boolean server = ClusterSpec.ROLE_SERVER.equals(spec.role());
    if (!server && !ClusterSpec.ROLE_AGENT.equals(spec.role())) {
      throw new IllegalArgumentException(
          "the cluster section has role " + spec.role() + "; only server and agent exist");
    }
    if (spec.config().size() > MAX_KEYS) {
      throw new IllegalArgumentException(
          "the cluster configuration has " + spec.config().size() + " keys; at most " + MAX_KEYS);
    }
    Map<String, Object> out = new LinkedHashMap<>();
    for (Map.Entry<String, Object> e : new TreeMap<>(spec.config()).entrySet()) {
      String key = e.getKey();
      if (ClusterSpec.AGENT_OWNED_KEYS.contains(key)) {
        throw new IllegalArgumentException(
            "the cluster configuration sets "
                + key
                + ", which the agent writes itself; remove it from the cluster's or profile's"
                + " K3s configuration");
      }
      if (!key.matches("[a-z0-9][a-z0-9-]{0,62}")) {
        throw new IllegalArgumentException(
            "the cluster configuration key '"
                + key
                + "' is not a K3s flag name (lowercase letters, digits and dashes)");
      }
      out.put(key, plain(key, e.getValue()));
    }
    out.put("token", token);
    if (server && spec.init()) {
      out.put("cluster-init", true);
    } else {
      if (spec.servers().isEmpty()) {
        throw new IllegalArgumentException(
            "the node waits for a running server to join through (the section lists none)");
      }
      out.put("server", spec.servers().get(0));
    }
    out.put("data-dir", dataDir.toString());
    out.put("node-name", spec.nodeName());
    out.put("node-ip", nodeIp);
    if (!spec.nodeLabels().isEmpty()) {
      List<String> labels = new ArrayList<>();
      new TreeMap<>(spec.nodeLabels()).forEach((k, v) -> labels.add(k + "=" + v));
      out.put("node-label", labels);
    }
    if (!spec.nodeTaints().isEmpty()) {
      out.put("node-taint", List.copyOf(spec.nodeTaints()));
    }
    if (server) {
      out.put("write-kubeconfig", kubeconfig.toString());
      out.put("write-kubeconfig-mode", "0600");
    }
    return out;
  }

  /** A value K3s takes: a string, number, boolean, or a list of strings. */
  private static Object plain(String key, Object v) {
    if (v instanceof String || v instanceof Number || v instanceof Boolean) {
      return v;
    }
    if (v instanceof List<?> list) {
      List<String> strings = new ArrayList<>();
      for (Object o : list) {
        if (!(o instanceof String || o instanceof Number || o instanceof Boolean)) {
          throw new IllegalArgumentException(
              "the cluster configuration key " + key + " holds a list of something else than text");
        }
        strings.add(String.valueOf(o));
      }
      return strings;
    }
    throw new IllegalArgumentException(
        "the cluster configuration key "
            + key
            + " must be a string, number, boolean or list of strings");
  }

  static String yaml(Map<String, Object> values) {
    DumperOptions o = new DumperOptions();
    o.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
    o.setPrettyFlow(true);
    return new Yaml(o).dump(values);
  }
}
