package io.edgefleet.agent.runtime.container;

import io.edgefleet.protocol.workload.ContainerSpec;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * How a {@link ContainerSpec} becomes {@code podman run} arguments, and the names and labels the
 * agent gives what it creates. Pure; thread-safe.
 */
final class PodmanArgs {
  static final String APP_LABEL = "io.edgefleet.app";
  static final String WORKLOAD_LABEL = "io.edgefleet.workload";
  static final String REVISION_LABEL = "io.edgefleet.revision";
  static final String SPEC_LABEL = "io.edgefleet.spec";

  /** The repository loaded images are tagged in; the tag is the blob digest's hex. */
  static final String IMAGE_REPOSITORY = "localhost/edgefleet-blob";

  /** Changes whenever the mapping changes, so a new agent replaces containers once. */
  private static final String FORMAT = "edgefleet-container-1";

  private PodmanArgs() {}

  /** The process limits every container gets (podman's defaults may exceed the host's). */
  record Limits(long nofile, long nproc) {
    Limits {
      if (nofile < 1 || nproc < 1) {
        throw new IllegalArgumentException("limits must be positive");
      }
    }
  }

  /** The container's name: app and workload are DNS labels, so {@code _} keeps every pair apart. */
  static String containerName(String app, String workload) {
    return app + "_" + workload;
  }

  /** The name of an app's named volume. */
  static String volumeName(String app, String volume) {
    return app + "_" + volume;
  }

  /** The local image name of a blob ({@code sha256:<hex>}). */
  static String imageName(String digest) {
    return IMAGE_REPOSITORY + ":" + digest.substring("sha256:".length());
  }

  /**
   * The arguments after {@code podman run -d} that decide what runs, without the agent's labels:
   * what {@link #specHash} covers. Environment variables are sorted so the same spec always gives
   * the same arguments. Restarts are left to the agent ({@code --restart no}): it restarts an
   * exited container on its next pass and reports it.
   */
  static List<String> run(String app, ContainerSpec spec, Limits limits) {
    List<String> a = new ArrayList<>();
    a.add("--name");
    a.add(containerName(app, spec.name()));
    a.add("--pull");
    a.add("never");
    a.add("--restart");
    a.add("no");
    a.add("--log-driver");
    a.add("k8s-file");
    a.add("--log-opt");
    a.add("max-size=10mb");
    a.add("--ulimit");
    a.add("nofile=" + limits.nofile() + ":" + limits.nofile());
    a.add("--ulimit");
    a.add("nproc=" + limits.nproc() + ":" + limits.nproc());
    for (Map.Entry<String, String> e : new TreeMap<>(spec.env()).entrySet()) {
      a.add("--env");
      a.add(e.getKey() + "=" + e.getValue());
    }
    for (ContainerSpec.Port p : spec.ports()) {
      a.add("--publish");
      a.add(p.hostIp() + ":" + p.host() + ":" + p.container() + "/" + p.protocol());
    }
    for (ContainerSpec.Volume v : spec.volumes()) {
      String source = v.name() != null ? volumeName(app, v.name()) : v.hostPath();
      a.add("--volume");
      a.add(source + ":" + v.mountPath() + (v.readOnly() ? ":ro" : ""));
    }
    if (spec.cpus() != null) {
      a.add("--cpus");
      a.add(spec.cpus());
    }
    if (spec.memoryBytes() > 0) {
      a.add("--memory");
      a.add(spec.memoryBytes() + "b");
    }
    for (String d : spec.devices()) {
      a.add("--device");
      a.add(d);
    }
    if (spec.user() != null) {
      a.add("--user");
      a.add(spec.user());
    }
    if (spec.workingDir() != null) {
      a.add("--workdir");
      a.add(spec.workingDir());
    }
    if (!spec.command().isEmpty()) {
      // Like Kubernetes: command replaces the image's entrypoint (and drops its CMD).
      a.add("--entrypoint");
      a.add(jsonArray(spec.command()));
    }
    a.add(imageName(spec.image()));
    a.addAll(spec.args());
    return a;
  }

  /** The labels of a container: whose it is, at which revision, and the hash of its arguments. */
  static List<String> labels(String app, String workload, String revision, String specHash) {
    return List.of(
        "--label",
        APP_LABEL + "=" + app,
        "--label",
        WORKLOAD_LABEL + "=" + workload,
        "--label",
        REVISION_LABEL + "=" + revision,
        "--label",
        SPEC_LABEL + "=" + specHash);
  }

  /** A digest of the run arguments: equal digests run the same container. */
  static String specHash(List<String> runArgs) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      List<String> parts = new ArrayList<>();
      parts.add(FORMAT);
      parts.addAll(runArgs);
      for (String part : parts) {
        byte[] bytes = part.getBytes(StandardCharsets.UTF_8);
        sha.update(Integer.toString(bytes.length).getBytes(StandardCharsets.US_ASCII));
        sha.update((byte) ':');
        sha.update(bytes);
      }
      // A label value, not an image reference: the short hex is enough to tell specs apart.
      return HexFormat.of().formatHex(sha.digest()).substring(0, 32);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  static String jsonArray(List<String> values) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < values.size(); i++) {
      b.append(i == 0 ? "" : ",").append('"');
      for (char ch : values.get(i).toCharArray()) {
        switch (ch) {
          case '"' -> b.append("\\\"");
          case '\\' -> b.append("\\\\");
          default -> {
            if (ch < 0x20) {
              b.append(String.format("\\u%04x", (int) ch));
            } else {
              b.append(ch);
            }
          }
        }
      }
      b.append('"');
    }
    return b.append(']').toString();
  }
}
