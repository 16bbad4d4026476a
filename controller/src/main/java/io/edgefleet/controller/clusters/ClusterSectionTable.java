package io.edgefleet.controller.clusters;

import io.edgefleet.controller.artifacts.ArtifactUsers;
import io.edgefleet.controller.desired.ClusterSections;
import io.edgefleet.protocol.ClusterSpec;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The cluster section of every member, from memory: written by the {@link ClusterEngine} after each
 * plan, read by the desired state engine for every document it computes. It also answers which
 * cluster still runs an artifact, so a K3s binary in use is not deleted. Thread-safe.
 */
public final class ClusterSectionTable implements ClusterSections, ArtifactUsers {
  private final Map<String, ClusterSpec> sections = new ConcurrentHashMap<>();

  @Override
  public ClusterSpec sectionFor(String deviceId) {
    return sections.get(deviceId);
  }

  /**
   * Sets the section of a device (null removes it).
   *
   * @return whether it changed
   */
  boolean put(String deviceId, ClusterSpec section) {
    ClusterSpec old = section == null ? sections.remove(deviceId) : sections.put(deviceId, section);
    return !Objects.equals(old, section);
  }

  @Override
  public Optional<String> userOf(String digest) {
    return sections.entrySet().stream()
        .filter(e -> e.getValue().k3s() != null && digest.equals(e.getValue().k3s().digest()))
        .findFirst()
        .map(
            e ->
                "cluster "
                    + e.getValue().name()
                    + " runs it on node "
                    + e.getValue().nodeName()
                    + "; move the cluster to another Kubernetes version first");
  }
}
