package io.edgefleet.controller.profiles;

import io.edgefleet.controller.clusters.ProfileSource;
import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.controller.desired.ReleaseGate;
import io.edgefleet.controller.selector.Selector;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * Profiles as the clusters feature sees them: which profile a cluster follows (the one it names,
 * else the first by name whose selector matches it), and its Kubernetes layer: the layer of the
 * version the profile's rollout grants the cluster's applier device (so a rollback rolls the K3s
 * version back too), or of the pinned version. Thread-safe.
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
  public Optional<String> profileOf(String cluster, Map<String, String> labels, String named) {
    if (named != null && !named.isBlank()) {
      return Optional.of(named.strip());
    }
    return jdbi.withHandle(h -> matching(h, cluster, labels));
  }

  /** The first profile by name whose selector matches the cluster's labels and name. */
  static Optional<String> matching(Handle h, String cluster, Map<String, String> labels) {
    return matching(ProfileStore.profiles(h), cluster, labels);
  }

  /** The first of these profiles (in name order) whose selector matches the cluster. */
  static Optional<String> matching(
      List<ProfileStore.ProfileRow> profiles, String cluster, Map<String, String> labels) {
    Map<String, String> tags = new LinkedHashMap<>(labels == null ? Map.of() : labels);
    tags.put("name", cluster);
    for (ProfileStore.ProfileRow p : profiles) {
      if (Selector.parse(p.selector()).matches(tags)) {
        return Optional.of(p.name());
      }
    }
    return Optional.empty();
  }

  @Override
  public Revisions revisions(String cluster, String profile, String applierDeviceId) {
    if (profile == null || profile.isBlank()) {
      return new Revisions(null, null);
    }
    ProfileApps.Ref ref = ProfileApps.Ref.parse(profile.strip());
    return jdbi.withHandle(
        h -> {
          Optional<Integer> version =
              ref.version().isPresent()
                  ? ref.version()
                  : granted(h, ref.profile(), applierDeviceId);
          String wanted = version.map(v -> ProfileApps.revision(ref.profile(), v)).orElse(null);
          String running =
              applierDeviceId == null
                  ? null
                  : ProfileStore.readyRevision(
                          h, applierDeviceId, ProfileApps.appName(ref), ProfileApps.SOURCE)
                      .orElse(null);
          return new Revisions(wanted, running);
        });
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
