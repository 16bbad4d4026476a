package io.edgefleet.controller.profiles;

import io.edgefleet.controller.clusters.ProfileSource;
import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.controller.desired.ReleaseGate;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * A cluster's Kubernetes layer from its profile: the layer of the version the profile's rollout
 * grants the cluster's applier device (so a rollback rolls the K3s version back too), or of the
 * pinned version. Thread-safe.
 */
public final class ProfileKubernetes implements ProfileSource {
  private final Jdbi jdbi;
  private final ReleaseGate gate;

  /**
   * @param gate the gate the desired-state engine asks; the profile app's decision for the applier
   *     device is the cluster's profile version
   */
  public ProfileKubernetes(Jdbi jdbi, ReleaseGate gate) {
    this.jdbi = jdbi;
    this.gate = gate;
  }

  @Override
  public Optional<KubernetesLayer> kubernetesFor(
      String cluster, String profile, String applierDeviceId) {
    if (profile == null || profile.isBlank()) {
      return Optional.empty();
    }
    ProfileApps.Ref ref = ProfileApps.Ref.parse(profile.strip());
    return jdbi.withHandle(
        h -> {
          Optional<Integer> version =
              ref.version().isPresent()
                  ? ref.version()
                  : granted(h, ref.profile(), applierDeviceId);
          return version
              .flatMap(v -> ProfileStore.version(h, ref.profile(), v))
              .flatMap(ProfileKubernetes::layer);
        });
  }

  /** The version of the profile the gate gives the applier; the newest before there is one. */
  private Optional<Integer> granted(Handle h, String profile, String applier) {
    Optional<ProfileStore.VersionRow> latest = ProfileStore.latest(h, profile);
    if (latest.isEmpty()) {
      return Optional.empty();
    }
    if (applier == null) {
      return Optional.of(latest.get().version());
    }
    AppCatalog.App app =
        new AppCatalog.App(profile, ProfileApps.SOURCE, latest.get().revision(), t -> true, true);
    ReleaseGate.Decision d =
        gate.decide(h, applier, List.of(app)).getOrDefault(profile, ReleaseGate.FOLLOW);
    return switch (d) {
      case ReleaseGate.Follow f -> Optional.of(latest.get().version());
      case ReleaseGate.Pin p -> version(p.revision());
      case ReleaseGate.Absent a -> Optional.empty();
      case ReleaseGate.Keep k ->
          ProfileStore.toldRevision(h, applier, profile, ProfileApps.SOURCE)
              .flatMap(ProfileKubernetes::version);
    };
  }

  private static Optional<Integer> version(String revision) {
    return ProfileApps.Ref.parse(revision).version();
  }

  private static Optional<KubernetesLayer> layer(ProfileStore.VersionRow v) {
    return v.layers().stream()
        .filter(Layer::kubernetes)
        .findFirst()
        .map(l -> new KubernetesLayer(v.profile(), v.version(), l.kubernetesVersion(), l.config()));
  }
}
