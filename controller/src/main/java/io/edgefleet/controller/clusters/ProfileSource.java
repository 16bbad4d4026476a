package io.edgefleet.controller.clusters;

import java.util.Map;
import java.util.Optional;

/**
 * Where a cluster's Kubernetes layer comes from when it follows a profile. Implemented by the
 * profiles feature; the clusters feature never depends on it.
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

  /** No profiles. */
  ProfileSource NONE = (cluster, profile, applierDeviceId) -> Optional.empty();

  /**
   * The Kubernetes layer the cluster should run now: the profile version its rollout has released
   * to the cluster (through the cluster's applier device), or empty when the profile has none.
   *
   * @param cluster the cluster's name
   * @param profile the profile the cluster follows ({@code NAME} or {@code NAME@VERSION} pinned)
   * @param applierDeviceId the member that applies the cluster's apps; null before it has one
   */
  Optional<KubernetesLayer> kubernetesFor(String cluster, String profile, String applierDeviceId);
}
