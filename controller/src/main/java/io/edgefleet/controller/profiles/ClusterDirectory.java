package io.edgefleet.controller.profiles;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The clusters the profiles feature speaks of: their names, labels, the profile a cluster names
 * explicitly and the tags of the member that applies its apps. Supplied by the clusters feature at
 * construction; thread-safe.
 */
public interface ClusterDirectory {

  /**
   * One cluster.
   *
   * @param name the cluster's name
   * @param labels the cluster's labels
   * @param profile the profile the cluster names ({@code NAME}, or {@code NAME@N} pinned); null
   *     when it follows whichever profile's selector matches it
   * @param applier the device id of the member that applies the cluster's apps; null before it has
   *     one
   * @param applierTags the tags of that member; empty before it has one
   * @param kubernetesVersion the Kubernetes version the cluster runs; null if unknown
   */
  record ClusterInfo(
      String name,
      Map<String, String> labels,
      String profile,
      String applier,
      Map<String, String> applierTags,
      String kubernetesVersion) {
    public ClusterInfo {
      labels = labels == null ? Map.of() : Map.copyOf(labels);
      applierTags = applierTags == null ? Map.of() : Map.copyOf(applierTags);
    }
  }

  /** No clusters. */
  ClusterDirectory NONE = List::of;

  List<ClusterInfo> clusters();

  /** One cluster by name. */
  default Optional<ClusterInfo> cluster(String name) {
    return clusters().stream().filter(c -> c.name().equals(name)).findFirst();
  }
}
