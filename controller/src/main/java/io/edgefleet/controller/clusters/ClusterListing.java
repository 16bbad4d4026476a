package io.edgefleet.controller.clusters;

import io.edgefleet.controller.devices.DeviceStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jdbi.v3.core.Jdbi;

/**
 * The clusters as other features see them (profiles match their selectors against them): names,
 * labels, the profile each names, the tags of each applier and the Kubernetes version it runs. Two
 * reads per listing, whatever the number of clusters. Thread-safe.
 */
public final class ClusterListing {
  private final Jdbi jdbi;
  private final ClusterStore store;
  private final DeviceStore devices;

  /**
   * One cluster.
   *
   * @param profile the profile the cluster names ({@code NAME} or {@code NAME@N}); null when it
   *     follows whichever profile's selector matches it
   * @param applier the device id of the member that applies the cluster's apps; null before it has
   *     one
   * @param applierTags the tags of that member; empty before it has one
   * @param kubernetesVersion the version the applier last reported, else the one it is told, else
   *     the cluster's
   */
  public record Entry(
      String name,
      Map<String, String> labels,
      String profile,
      String applier,
      Map<String, String> applierTags,
      String kubernetesVersion) {}

  public ClusterListing(Jdbi jdbi, ClusterStore store, DeviceStore devices) {
    this.jdbi = jdbi;
    this.store = store;
    this.devices = devices;
  }

  /** Every cluster, by name. */
  public List<Entry> clusters() {
    return jdbi.withHandle(
        h -> {
          List<ClusterStore.Listed> listed = store.listed(h);
          Map<String, DeviceStore.Labels> appliers =
              devices.labels(
                  h,
                  listed.stream()
                      .map(ClusterStore.Listed::applier)
                      .filter(Objects::nonNull)
                      .toList());
          List<Entry> out = new ArrayList<>(listed.size());
          for (ClusterStore.Listed c : listed) {
            DeviceStore.Labels applier = c.applier() == null ? null : appliers.get(c.applier());
            out.add(
                new Entry(
                    c.name(),
                    c.labels(),
                    c.profile(),
                    c.applier(),
                    applier == null ? Map.of() : applier.tags(),
                    c.kubernetesVersion()));
          }
          return out;
        });
  }
}
