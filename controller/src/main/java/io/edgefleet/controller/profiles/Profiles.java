package io.edgefleet.controller.profiles;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.catalog.Catalog;
import io.edgefleet.controller.clusters.ProfileSource;
import io.edgefleet.controller.common.ClusterTags;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.rollouts.RolloutEngine;
import io.edgefleet.controller.rollouts.RolloutPolicy;
import io.edgefleet.controller.rollouts.RolloutPolicyException;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.ErrorCode;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * Layered cluster profiles: named, with immutable numbered versions, each an ordered list of
 * layers. Publishing a version starts its rollout across the clusters following the profile (their
 * applier devices) through the rollout engine, in the same transaction. Thread-safe.
 */
public final class Profiles {
  private static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  private static final int MAX_DESCRIPTION = 1000;

  /** Body of {@code POST /api/v1/profiles}; with layers, version 1 is published at once. */
  public record CreateRequest(
      String name, String selector, String description, List<Layer> layers, String rollout) {}

  /** Body of {@code POST /api/v1/profiles/{name}/versions}; version defaults to the next. */
  public record PublishRequest(Integer version, List<Layer> layers, String rollout) {}

  /** A profile in the list. */
  public record Summary(
      String name,
      String selector,
      String description,
      Integer latestVersion,
      int versions,
      RolloutEngine.Summary latestRollout,
      Instant createdAt) {}

  /**
   * A version in a profile's history.
   *
   * @param running the clusters whose applier last reported this version ready
   */
  public record VersionSummary(
      int version,
      String revision,
      int layers,
      List<String> running,
      String createdBy,
      Instant createdAt) {}

  /**
   * Where one cluster following a profile stands.
   *
   * @param follows what the cluster follows: the profile, or {@code NAME@N} when pinned
   * @param wanted the revision ({@code NAME@N}) the cluster should run now: the one the profile's
   *     rollout released to it, or the pinned one; null when there is none
   * @param running the revision the cluster's applier last reported ready; null before it has
   */
  public record ClusterVersion(String cluster, String follows, String wanted, String running) {}

  /**
   * A profile with its versions (newest first) and the clusters following it.
   *
   * @param clusters the names of the clusters following the profile
   * @param clusterVersions for each of them, the revision it should run and the one it runs
   */
  public record View(
      String name,
      String selector,
      String description,
      Integer latestVersion,
      List<VersionSummary> versions,
      List<String> clusters,
      List<ClusterVersion> clusterVersions,
      RolloutEngine.Summary latestRollout,
      String createdBy,
      Instant createdAt) {}

  /**
   * One version with its layers.
   *
   * @param running the clusters whose applier last reported this version ready
   */
  public record VersionView(
      String profile,
      int version,
      String revision,
      List<Layer> layers,
      String rollout,
      String rolloutSummary,
      List<String> running,
      String createdBy,
      Instant createdAt) {}

  /**
   * What changes from one version to another, and for one cluster its manifests.
   *
   * @param nodesRestart whether the cluster's nodes restart (one at a time, servers first): the
   *     Kubernetes layer changes
   * @param manifest the unified diff of the cluster's rendered manifests; null without a cluster
   * @param manifestTruncated whether lines of that diff were left off
   */
  public record Diff(
      String profile,
      int from,
      int to,
      List<ProfileDiff.LayerChange> layers,
      boolean nodesRestart,
      String restart,
      String cluster,
      List<String> manifest,
      boolean manifestTruncated) {}

  private final Jdbi jdbi;
  private final Clock clock;
  private final Catalog catalog;
  private final ProfileApps apps;
  private final ClusterDirectory clusters;
  private final ProfileKubernetes kubernetes;
  private final RolloutEngine engine;
  private final AuditLog audit;
  private final Runnable changed;

  /**
   * @param changed called after a profile was created or a version published: which clusters follow
   *     a profile, and what they should run, may have changed
   */
  public Profiles(
      Jdbi jdbi,
      Clock clock,
      Catalog catalog,
      ProfileApps apps,
      ClusterDirectory clusters,
      ProfileKubernetes kubernetes,
      RolloutEngine engine,
      AuditLog audit,
      Runnable changed) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.catalog = catalog;
    this.apps = apps;
    this.clusters = clusters;
    this.kubernetes = kubernetes;
    this.engine = engine;
    this.audit = audit;
    this.changed = changed;
  }

  public View create(CreateRequest req, String actor) {
    if (req == null) {
      throw ControllerException.invalid("a profile needs 'name' and 'selector'");
    }
    String name = req.name();
    if (name == null || !NAME.matcher(name).matches()) {
      throw ControllerException.invalid(
          "profile name '"
              + name
              + "' must be a DNS label (lower-case letters, digits and '-', at most 63)");
    }
    if (req.selector() == null) {
      throw ControllerException.invalid(
          "'selector' is required: a selector over cluster labels and 'name', such as"
              + " 'env=prod' or 'name in (store-1, store-2)', or '*' for every cluster");
    }
    Selector selector = Selector.parse("selector", req.selector());
    String description = req.description() == null ? "" : req.description().strip();
    if (description.length() > MAX_DESCRIPTION) {
      throw ControllerException.invalid(
          "'description' has at most " + MAX_DESCRIPTION + " characters");
    }
    List<Layer> layers = req.layers() == null ? null : validate(req.layers());
    RolloutPolicy policy = policy(req.rollout());
    long now = clock.millis();
    engine.transaction(
        h -> {
          if (ProfileStore.profile(h, name).isPresent()) {
            throw new ControllerException(
                ErrorCode.CONFLICT,
                "profile '"
                    + name
                    + "' exists; publish a new version with `profiles publish "
                    + name
                    + " -f FILE`");
          }
          ProfileStore.insertProfile(
              h, new ProfileStore.ProfileRow(name, selector.toString(), description, actor, now));
          if (layers != null) {
            insertAndStart(h, name, 1, layers, policy, Optional.empty(), actor, now);
          }
          // Last: the audit chain's head stays locked until the commit.
          audit.record(h, actor, "profile.create", name, Map.of("selector", selector.toString()));
          return null;
        });
    // even without a version, its selector may now match clusters
    changed.run();
    return get(name);
  }

  /** Publishes a new version and starts its rollout. */
  public VersionView publish(String name, PublishRequest req, String actor) {
    if (req == null) {
      throw Layers.invalid("a profile version needs 'layers'");
    }
    List<Layer> layers = validate(req.layers());
    RolloutPolicy policy = policy(req.rollout());
    long now = clock.millis();
    int version =
        engine.transaction(
            h -> {
              ProfileStore.profile(h, name).orElseThrow(() -> notFound(name));
              Optional<ProfileStore.VersionRow> latest = ProfileStore.latest(h, name);
              int next = latest.map(v -> v.version() + 1).orElse(1);
              int v = req.version() == null ? next : req.version();
              if (v < 1) {
                throw ControllerException.invalid("'version' must be 1 or more");
              }
              if (ProfileStore.version(h, name, v).isPresent()) {
                throw new ControllerException(
                    ErrorCode.PROFILE_VERSION_EXISTS,
                    "profile "
                        + name
                        + "@"
                        + v
                        + " exists and versions never change; publish "
                        + name
                        + "@"
                        + next
                        + " instead");
              }
              if (v < next) {
                throw ControllerException.invalid(
                    "version "
                        + v
                        + " is older than the newest, "
                        + (next - 1)
                        + "; publish "
                        + next
                        + " or later");
              }
              insertAndStart(
                  h,
                  name,
                  v,
                  layers,
                  policy,
                  latest.map(ProfileStore.VersionRow::revision),
                  actor,
                  now);
              return v;
            });
    changed.run();
    return version(name, version);
  }

  private void insertAndStart(
      Handle h,
      String name,
      int version,
      List<Layer> layers,
      RolloutPolicy policy,
      Optional<String> from,
      String actor,
      long now) {
    ProfileStore.VersionRow row =
        new ProfileStore.VersionRow(name, version, layers, policy.source(), actor, now);
    ProfileStore.insertVersion(h, row);
    String rollout =
        engine.start(
            h,
            new RolloutEngine.Start(
                ProfileApps.subject(name),
                name,
                ProfileApps.SOURCE,
                from,
                row.revision(),
                policy,
                ProfileApps.follows(name, ProfileApps.pinned(apps.pinnedClusters())),
                actor));
    Map<String, Object> detail = new LinkedHashMap<>();
    detail.put("layers", layers.size());
    detail.put("rollout", rollout);
    audit.record(h, actor, "profile.publish", row.revision(), detail);
  }

  public List<Summary> list() {
    return jdbi.withHandle(
        h -> {
          List<Summary> out = new ArrayList<>();
          for (ProfileStore.ProfileRow p : ProfileStore.profiles(h)) {
            List<ProfileStore.VersionRow> vs = ProfileStore.versions(h, p.name());
            out.add(
                new Summary(
                    p.name(),
                    p.selector(),
                    blankToNull(p.description()),
                    vs.isEmpty() ? null : vs.get(vs.size() - 1).version(),
                    vs.size(),
                    engine.latest(ProfileApps.subject(p.name())).orElse(null),
                    Instant.ofEpochMilli(p.createdAt())));
          }
          return out;
        });
  }

  public View get(String name) {
    ProfileStore.ProfileRow p =
        jdbi.withHandle(h -> ProfileStore.profile(h, name)).orElseThrow(() -> notFound(name));
    List<ProfileStore.VersionRow> vs = jdbi.withHandle(h -> ProfileStore.versions(h, name));
    List<ClusterVersion> following = clusterVersions(name);
    List<VersionSummary> versions = new ArrayList<>();
    for (int i = vs.size() - 1; i >= 0; i--) {
      ProfileStore.VersionRow v = vs.get(i);
      versions.add(
          new VersionSummary(
              v.version(),
              v.revision(),
              v.layers().size(),
              running(following, v.revision()),
              v.createdBy(),
              Instant.ofEpochMilli(v.createdAt())));
    }
    return new View(
        p.name(),
        p.selector(),
        blankToNull(p.description()),
        vs.isEmpty() ? null : vs.get(vs.size() - 1).version(),
        versions,
        following.stream().map(ClusterVersion::cluster).toList(),
        following,
        engine.latest(ProfileApps.subject(name)).orElse(null),
        p.createdBy(),
        Instant.ofEpochMilli(p.createdAt()));
  }

  /**
   * The clusters following a profile, by name, with the revision each should run (from the gate,
   * for its applier) and the one its applier runs.
   */
  public List<ClusterVersion> clusterVersions(String name) {
    List<ClusterVersion> out = new ArrayList<>();
    List<ProfileStore.ProfileRow> profiles = jdbi.withHandle(ProfileStore::profiles);
    for (ClusterDirectory.ClusterInfo c : clusters.clusters()) {
      Optional<String> follows =
          c.profile() != null && !c.profile().isBlank()
              ? Optional.of(c.profile().strip())
              : ProfileKubernetes.matching(profiles, c.name(), c.labels());
      if (follows.isEmpty() || !ProfileApps.Ref.parse(follows.get()).profile().equals(name)) {
        continue;
      }
      ProfileSource.Revisions r = kubernetes.revisions(c.name(), follows.get(), c.applier());
      out.add(new ClusterVersion(c.name(), follows.get(), r.wanted(), r.running()));
    }
    out.sort(java.util.Comparator.comparing(ClusterVersion::cluster));
    return out;
  }

  private static List<String> running(List<ClusterVersion> clusters, String revision) {
    return clusters.stream()
        .filter(c -> revision.equals(c.running()))
        .map(ClusterVersion::cluster)
        .toList();
  }

  public VersionView version(String name, int version) {
    ProfileStore.VersionRow v = row(name, version);
    return new VersionView(
        v.profile(),
        v.version(),
        v.revision(),
        v.layers(),
        v.policy(),
        RolloutPolicy.parse(v.policy()).describe(),
        running(clusterVersions(name), v.revision()),
        v.createdBy(),
        Instant.ofEpochMilli(v.createdAt()));
  }

  /**
   * What changes from {@code from} to {@code to}; with a cluster, its rendered manifests diffed.
   */
  public Diff diff(String name, int from, int to, Optional<String> cluster) {
    ProfileStore.VersionRow a = row(name, from);
    ProfileStore.VersionRow b = row(name, to);
    boolean restart = ProfileDiff.kubernetesChanged(a.layers(), b.layers());
    String restartText =
        restart
            ? "every node restarts K3s, one node at a time, servers first (the kubernetes layer"
                + " changes)"
            : "no node restarts (the kubernetes layer is unchanged)";
    List<String> manifest = null;
    boolean truncated = false;
    String clusterName = null;
    if (cluster.isPresent()) {
      ClusterDirectory.ClusterInfo c =
          clusters
              .cluster(cluster.get())
              .orElseThrow(
                  () ->
                      new ControllerException(
                          ErrorCode.NOT_FOUND,
                          "cluster '"
                              + cluster.get()
                              + "' does not exist; `clusters list` shows the clusters"));
      clusterName = c.name();
      Map<String, String> tags = new LinkedHashMap<>(c.applierTags());
      if (tags.isEmpty()) {
        tags.put(ClusterTags.NAME, c.name());
        tags.put(ClusterTags.APPLIER, "true");
        tags.put(ClusterTags.PROFILE, name);
      }
      String before;
      String after;
      try {
        before = apps.render(a.layers(), tags, c.kubernetesVersion());
        after = apps.render(b.layers(), tags, c.kubernetesVersion());
      } catch (RuntimeException e) {
        throw new ControllerException(
            ErrorCode.PROFILE_LAYER_INVALID,
            "cannot render the profile for cluster " + c.name() + ": " + e.getMessage());
      }
      ProfileDiff.Unified u =
          ProfileDiff.unified(
              a.revision() + " (" + c.name() + ")",
              b.revision() + " (" + c.name() + ")",
              before,
              after);
      manifest = u.lines();
      truncated = u.truncated();
    }
    return new Diff(
        name,
        from,
        to,
        ProfileDiff.layers(a.layers(), b.layers()),
        restart,
        restartText,
        clusterName,
        manifest,
        truncated);
  }

  private ProfileStore.VersionRow row(String name, int version) {
    return jdbi.withHandle(
        h -> {
          ProfileStore.profile(h, name).orElseThrow(() -> notFound(name));
          return ProfileStore.version(h, name, version)
              .orElseThrow(
                  () ->
                      new ControllerException(
                          ErrorCode.NOT_FOUND,
                          "profile "
                              + name
                              + "@"
                              + version
                              + " does not exist; `profiles get "
                              + name
                              + "` lists its versions"));
        });
  }

  private List<Layer> validate(List<Layer> layers) {
    return Layers.validate(
        layers,
        (app, version, values) -> {
          catalog.version(app, version);
          catalog.validateValues(app, version, values);
        });
  }

  private static RolloutPolicy policy(String text) {
    try {
      return text == null ? RolloutPolicy.defaults() : RolloutPolicy.parse(text);
    } catch (RolloutPolicyException e) {
      throw new ControllerException(ErrorCode.ROLLOUT_POLICY_INVALID, e.getMessage());
    }
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s;
  }

  static ControllerException notFound(String name) {
    return new ControllerException(
        ErrorCode.NOT_FOUND,
        "profile '" + name + "' does not exist; `profiles list` shows the profiles");
  }
}
