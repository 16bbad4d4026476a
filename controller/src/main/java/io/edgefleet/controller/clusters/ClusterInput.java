package io.edgefleet.controller.clusters;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.ClusterSpec;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Labels;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/** Validation of what an operator sends about a cluster; every refusal says what to change. */
final class ClusterInput {
  static final int MAX_SERVERS = 15;
  static final int MAX_AGENTS = 500;
  static final int MAX_CONFIG_KEYS = 100;
  static final long MIN_GRACE_SECONDS = 30;
  static final long MAX_GRACE_SECONDS = 7 * 24 * 3600;
  private static final Pattern VERSION = Pattern.compile("v[0-9][A-Za-z0-9.+_-]{0,98}");
  private static final Pattern PROFILE =
      Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(@[1-9][0-9]{0,8})?");
  private static final Pattern CONFIG_KEY = Pattern.compile("[a-z0-9][a-z0-9-]{0,99}");

  private ClusterInput() {}

  static String name(String name) {
    if (name == null || !ClusterModel.NAME.matcher(name).matches()) {
      throw ControllerException.invalid(
          "a cluster name is a DNS label: 1 to 63 lowercase letters, digits and '-', starting and"
              + " ending with a letter or digit; got "
              + name);
    }
    return name;
  }

  static Selector selector(String text) {
    if (text == null || text.isBlank()) {
      throw ControllerException.invalid(
          "selector is required: the tags of the devices the cluster is made of, e.g."
              + " clusterpool=SJC_Store_1");
    }
    return Selector.parse("selector", text);
  }

  static void servers(int min, int max) {
    if (min < 1 || max < min || max > MAX_SERVERS) {
      throw new ControllerException(
          ErrorCode.CLUSTER_SHAPE_INVALID,
          "servers must be MIN..MAX with 1 <= MIN <= MAX <= "
              + MAX_SERVERS
              + "; got "
              + min
              + ".."
              + max);
    }
    for (int n : List.of(min, max)) {
      if (n % 2 == 0) {
        throw new ControllerException(
            ErrorCode.CLUSTER_SHAPE_INVALID,
            "servers "
                + min
                + ".."
                + max
                + ": server counts must be odd. The servers form an etcd cluster that needs a"
                + " majority to write, so "
                + n
                + " servers tolerate as few failures as "
                + (n - 1)
                + " and only add a member that can fail; use "
                + (n - 1)
                + " or "
                + (n + 1));
      }
    }
  }

  static void agents(int min, int max) {
    if (min < 0 || max < min || max > MAX_AGENTS) {
      throw new ControllerException(
          ErrorCode.CLUSTER_SHAPE_INVALID,
          "agents must be MIN..MAX with 0 <= MIN <= MAX <= "
              + MAX_AGENTS
              + "; got "
              + min
              + ".."
              + max);
    }
  }

  static String version(String v) {
    if (v == null || !VERSION.matcher(v).matches()) {
      throw ControllerException.invalid(
          "kubernetesVersion is a K3s version such as v1.20.2+k3s1; got " + v);
    }
    return v;
  }

  static String profile(String p) {
    if (p == null || p.isEmpty()) {
      return null;
    }
    if (!PROFILE.matcher(p).matches()) {
      throw ControllerException.invalid(
          "profile is NAME (follow its rollouts) or NAME@VERSION (pinned), e.g. retail@3; got "
              + p);
    }
    return p;
  }

  static Map<String, String> labels(Map<String, String> labels) {
    if (labels == null) {
      return Map.of();
    }
    try {
      Labels.validate(labels);
    } catch (IllegalArgumentException e) {
      throw ControllerException.invalid("labels: " + e.getMessage());
    }
    return labels;
  }

  static Map<String, Object> config(Map<String, Object> config) {
    if (config == null) {
      return Map.of();
    }
    if (config.size() > MAX_CONFIG_KEYS) {
      throw ControllerException.invalid(
          "config holds " + config.size() + " keys; at most " + MAX_CONFIG_KEYS);
    }
    config.forEach(
        (k, v) -> {
          if (ClusterSpec.AGENT_OWNED_KEYS.contains(k)) {
            throw ControllerException.invalid(
                "config key "
                    + k
                    + " is written by the agent itself; leave it out (the agent owns "
                    + ClusterSpec.AGENT_OWNED_KEYS
                    + ")");
          }
          if (!CONFIG_KEY.matcher(k).matches()) {
            throw ControllerException.invalid(
                "config key " + k + " is no K3s flag name (lowercase letters, digits and '-')");
          }
          boolean ok =
              v instanceof String s && s.length() <= 4096
                  || v instanceof Number
                  || v instanceof Boolean
                  || v instanceof List<?> l
                      && l.size() <= 100
                      && l.stream().allMatch(e -> e instanceof String s2 && s2.length() <= 4096);
          if (!ok) {
            throw ControllerException.invalid(
                "config "
                    + k
                    + " must be a string, a number, a boolean or a list of strings (at most 100"
                    + " of 4096 characters)");
          }
        });
    return config;
  }

  static long grace(Long seconds) {
    if (seconds == null) {
      return ClusterModel.DEFAULT_GRACE.toSeconds();
    }
    if (seconds < MIN_GRACE_SECONDS || seconds > MAX_GRACE_SECONDS) {
      throw ControllerException.invalid(
          "graceSeconds must be from "
              + MIN_GRACE_SECONDS
              + " to "
              + MAX_GRACE_SECONDS
              + " (how long a member may be offline before it is replaced); got "
              + seconds);
    }
    return seconds;
  }

  static String importUrl(String url) {
    if (url == null || url.isEmpty()) {
      return null;
    }
    try {
      URI u = URI.create(url);
      if (url.length() > 2000
          || !("https".equals(u.getScheme()) || "http".equals(u.getScheme()))
          || u.getHost() == null) {
        throw new IllegalArgumentException();
      }
      return url;
    } catch (IllegalArgumentException e) {
      throw ControllerException.invalid(
          "importManifestUrl must be an http(s) URL of at most 2000 characters; got " + url);
    }
  }
}
