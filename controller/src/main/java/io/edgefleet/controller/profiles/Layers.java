package io.edgefleet.controller.profiles;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ClusterSpec;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/** Checks the layers of a profile version before it is stored. */
final class Layers {
  static final int MAX_LAYERS = 50;
  static final int MAX_CONFIG_KEYS = 100;
  static final int MAX_JSON = 256 * 1024;
  private static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  private static final Pattern K8S_VERSION = Pattern.compile("v[0-9][0-9A-Za-z.+_-]{0,63}");
  private static final Pattern CONFIG_KEY = Pattern.compile("[a-z0-9][-a-z0-9]{0,62}");

  /** What a layer's catalog app version must satisfy; throws a message when it does not. */
  @FunctionalInterface
  interface AppCheck {
    void check(String app, String version, Map<String, Object> values);
  }

  private Layers() {}

  /**
   * The layers as stored: kinds lower-cased, absent maps empty.
   *
   * @throws ControllerException {@code PROFILE_LAYER_INVALID} naming the layer at fault
   */
  static List<Layer> validate(List<Layer> layers, AppCheck apps) {
    if (layers == null || layers.isEmpty()) {
      throw invalid(
          "a profile version needs 'layers': a list of {name, kind, ...}, applied in order");
    }
    if (layers.size() > MAX_LAYERS) {
      throw invalid(
          "a profile version has at most " + MAX_LAYERS + " layers; this has " + layers.size());
    }
    Set<String> names = new HashSet<>();
    List<Layer> out = new ArrayList<>();
    boolean kubernetes = false;
    for (int i = 0; i < layers.size(); i++) {
      Layer l = layers.get(i);
      if (l == null) {
        throw invalid("layer " + (i + 1) + " is empty");
      }
      String name = l.name();
      String label = name == null ? "layer " + (i + 1) : "layer '" + name + "'";
      if (name == null || !NAME.matcher(name).matches()) {
        throw invalid(
            label
                + ": 'name' must be a DNS label (lower-case letters, digits and '-', at most 63)");
      }
      if (!names.add(name)) {
        throw invalid(label + " appears twice; layer names are unique within a version");
      }
      String kind = l.kind() == null ? null : l.kind().toLowerCase(Locale.ROOT);
      if (kind == null || !Layer.KINDS.contains(kind)) {
        throw invalid(
            label + ": 'kind' must be one of kubernetes, networking, storage, addon, app");
      }
      if (Layer.KUBERNETES.equals(kind)) {
        if (kubernetes) {
          throw invalid(label + ": a profile version has at most one kubernetes layer");
        }
        kubernetes = true;
        if (l.app() != null || l.version() != null || l.values() != null) {
          throw invalid(
              label
                  + ": a kubernetes layer has 'kubernetesVersion' and 'config', not"
                  + " 'app', 'version' or 'values'");
        }
        if (l.kubernetesVersion() != null
            && !K8S_VERSION.matcher(l.kubernetesVersion()).matches()) {
          throw invalid(
              label
                  + ": 'kubernetesVersion' must look like v1.20.2+k3s1; got '"
                  + l.kubernetesVersion()
                  + "'");
        }
        Map<String, Object> config = l.config() == null ? Map.of() : l.config();
        if (config.size() > MAX_CONFIG_KEYS) {
          throw invalid(label + ": at most " + MAX_CONFIG_KEYS + " configuration keys");
        }
        for (String key : config.keySet()) {
          if (ClusterSpec.AGENT_OWNED_KEYS.contains(key)) {
            throw invalid(
                label
                    + ": configuration key '"
                    + key
                    + "' is set by the agent for each node and cannot be in a profile (agent-owned"
                    + " keys: "
                    + String.join(", ", ClusterSpec.AGENT_OWNED_KEYS)
                    + ")");
          }
          if (!CONFIG_KEY.matcher(key).matches()) {
            throw invalid(
                label
                    + ": configuration key '"
                    + key
                    + "' is not a K3s option name (lower-case letters, digits and '-')");
          }
        }
        if (l.kubernetesVersion() == null && config.isEmpty()) {
          throw invalid(label + ": a kubernetes layer needs 'kubernetesVersion' or 'config'");
        }
        out.add(Layer.kubernetes(name, l.kubernetesVersion(), new LinkedHashMap<>(config)));
      } else {
        if (l.kubernetesVersion() != null || l.config() != null) {
          throw invalid(
              label
                  + ": only a kubernetes layer has 'kubernetesVersion' and 'config'; a "
                  + kind
                  + " layer pins 'app', 'version' and 'values'");
        }
        if (l.app() == null || l.app().isBlank() || l.version() == null || l.version().isBlank()) {
          throw invalid(
              label
                  + ": a "
                  + kind
                  + " layer pins a catalog app version: 'app' and 'version' are required (see"
                  + " `apps list`)");
        }
        Map<String, Object> values = l.values() == null ? Map.of() : l.values();
        try {
          apps.check(l.app(), l.version(), values);
        } catch (ControllerException e) {
          throw invalid(label + ": " + e.getMessage());
        }
        out.add(Layer.app(name, kind, l.app(), l.version(), new LinkedHashMap<>(values)));
      }
    }
    if (Json.write(out).length() > MAX_JSON) {
      throw invalid("the layers of a profile version take at most " + MAX_JSON / 1024 + " KiB");
    }
    return List.copyOf(out);
  }

  static ControllerException invalid(String message) {
    return new ControllerException(ErrorCode.PROFILE_LAYER_INVALID, message);
  }
}
