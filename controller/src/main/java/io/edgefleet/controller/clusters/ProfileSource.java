package io.edgefleet.controller.clusters;

import java.util.Map;
import java.util.Optional;

/**
 * Which profile a cluster follows and where its Kubernetes layer comes from when it follows one.
 * Implemented by the profiles feature; the clusters feature never depends on it.
 */
public interface ProfileSource {

  /**
   * The Kubernetes distribution layer of one profile version.
   *
   * @param profile the profile's name
   * @param version the profile version this layer belongs to
   * @param kubernetesVersion the K3s version, e.g. {@code v1.20.2+k3s1}; null to keep the cluster's
   * @param config further K3s configuration keys (never one the agent owns)
   */
  record KubernetesLayer(
      String profile, int version, String kubernetesVersion, Map<String, Object> config) {
    public KubernetesLayer {
      config = config == null ? Map.of() : Map.copyOf(config);
    }
  }

  /**
   * The profile versions of one cluster.
   *
   * @param wanted the revision ({@code NAME@N}) the cluster should run now: the one its profile's
   *     rollout releases to it, or the one it is pinned to; null when there is none
   * @param running the revision the cluster's applier last reported ready; null before it has
   */
  record Revisions(String wanted, String running) {}

  /** No profiles. */
  ProfileSource NONE = (cluster, profile, applierDeviceId) -> Optional.empty();

  /**
   * The profile a cluster follows: the one it names ({@code NAME} or {@code NAME@N} pinned), else
   * the one whose selector matches the cluster's labels and name. This default knows no selectors.
   *
   * @param cluster the cluster's name
   * @param labels the cluster's labels
   * @param named the profile the cluster names; null or blank when it names none
   */
  default Optional<String> profileOf(String cluster, Map<String, String> labels, String named) {
    return named == null || named.isBlank() ? Optional.empty() : Optional.of(named.strip());
  }

  /**
   * The Kubernetes layer the cluster should run now: the profile version its rollout has released
   * to the cluster (through the cluster's applier device), or empty when the profile has none.
   *
   * @param cluster the cluster's name
   * @param profile the profile the cluster follows ({@code NAME} or {@code NAME@VERSION} pinned)
   * @param applierDeviceId the member that applies the cluster's apps; null before it has one
   */
  Optional<KubernetesLayer> kubernetesFor(String cluster, String profile, String applierDeviceId);

  /**
   * The revision of its profile the cluster should run and the one it runs. This default knows only
   * a pinned revision.
   *
   * @param cluster the cluster's name
   * @param profile the profile the cluster follows ({@code NAME} or {@code NAME@VERSION} pinned)
   * @param applierDeviceId the member that applies the cluster's apps; null before it has one
   */
  default Revisions revisions(String cluster, String profile, String applierDeviceId) {
    return new Revisions(profile != null && profile.contains("@") ? profile : null, null);
  }
}
