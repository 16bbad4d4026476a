package io.edgefleet.controller.profiles;

import io.edgefleet.controller.catalog.Catalog;
import io.edgefleet.controller.common.ClusterTags;
import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.controller.render.RenderException;
import io.edgefleet.controller.render.RenderedApp;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jdbi.v3.core.Jdbi;

/**
 * Profiles as an {@link AppCatalog} of source {@value #SOURCE}: one phased app per profile, named
 * after it, at revision {@code NAME@N} of its newest version, for the member of each cluster
 * following the profile that applies the cluster's apps (tags {@code
 * cluster.edgefleet.io/applier=true} and {@code cluster.edgefleet.io/profile=NAME}). Its bundle is
 * the profile's app layers rendered in order from the catalog and concatenated. A cluster pinned to
 * {@code NAME@N} gets instead an app {@code NAME-vN} at that version, at once (no rollout moves
 * it). It starts nothing; {@link Profiles} starts the rollouts. Thread-safe.
 */
public final class ProfileApps implements AppCatalog {
  /** The source profile apps carry on devices, in app status and in rollout subjects. */
  public static final String SOURCE = "profile";

  private final Jdbi jdbi;
  private final Catalog catalog;
  private final ClusterDirectory clusters;

  public ProfileApps(Jdbi jdbi, Catalog catalog, ClusterDirectory clusters) {
    this.jdbi = jdbi;
    this.catalog = catalog;
    this.clusters = clusters;
  }

  /** The revision of a profile version: {@code NAME@N}. */
  public static String revision(String profile, int version) {
    return profile + "@" + version;
  }

  /** A profile reference {@code NAME} or {@code NAME@N}. */
  record Ref(String profile, Optional<Integer> version) {
    static Ref parse(String text) {
      int at = text.lastIndexOf('@');
      if (at < 0) {
        return new Ref(text, Optional.empty());
      }
      try {
        return new Ref(
            text.substring(0, at), Optional.of(Integer.parseInt(text.substring(at + 1))));
      } catch (NumberFormatException e) {
        return new Ref(text, Optional.empty());
      }
    }
  }

  /**
   * The app a cluster following this reference runs: {@code NAME}, or {@code NAME-vN} when pinned.
   */
  static String appName(Ref ref) {
    return ref.version().isPresent()
        ? pinnedApp(ref.profile(), ref.version().get())
        : ref.profile();
  }

  /** The app of the clusters pinned to version {@code version} of a profile. */
  static String pinnedApp(String profile, int version) {
    return profile + "-v" + version;
  }

  /** The rollout subject of a profile. */
  static String subject(String profile) {
    return SOURCE + "/" + profile;
  }

  /**
   * The devices a profile's rollouts and its app target: the appliers of clusters following the
   * profile, except clusters pinned to one of its versions.
   */
  static Target follows(String profile, Set<String> pinned) {
    return tags ->
        "true".equals(tags.get(ClusterTags.APPLIER))
            && profile.equals(tags.get(ClusterTags.PROFILE))
            && !pinned.contains(tags.get(ClusterTags.NAME));
  }

  /** The clusters pinned to a profile version, by revision {@code NAME@N}. */
  Map<String, Set<String>> pinnedClusters() {
    Map<String, Set<String>> out = new HashMap<>();
    for (ClusterDirectory.ClusterInfo c : clusters.clusters()) {
      if (c.profile() != null) {
        Ref ref = Ref.parse(c.profile());
        if (ref.version().isPresent()) {
          out.computeIfAbsent(revision(ref.profile(), ref.version().get()), k -> new HashSet<>())
              .add(c.name());
        }
      }
    }
    return out;
  }

  /** The names of every pinned cluster. */
  static Set<String> pinned(Map<String, Set<String>> pinnedClusters) {
    Set<String> out = new HashSet<>();
    pinnedClusters.values().forEach(out::addAll);
    return Set.copyOf(out);
  }

  @Override
  public List<App> apps() {
    List<ProfileStore.VersionRow> latest = jdbi.withHandle(ProfileStore::latest);
    if (latest.isEmpty()) {
      return List.of();
    }
    Map<String, Set<String>> pinnedClusters = pinnedClusters();
    Set<String> pinned = pinned(pinnedClusters);
    List<App> out = new ArrayList<>();
    for (ProfileStore.VersionRow v : latest) {
      out.add(new App(v.profile(), SOURCE, v.revision(), follows(v.profile(), pinned), true));
    }
    Set<String> profiles = new HashSet<>();
    latest.forEach(v -> profiles.add(v.profile()));
    pinnedClusters.forEach(
        (rev, names) -> {
          Ref ref = Ref.parse(rev);
          if (profiles.contains(ref.profile()) && ref.version().get() > 0) {
            Set<String> members = Set.copyOf(names);
            out.add(
                new App(
                    pinnedApp(ref.profile(), ref.version().get()),
                    SOURCE,
                    rev,
                    tags ->
                        "true".equals(tags.get(ClusterTags.APPLIER))
                            && members.contains(tags.get(ClusterTags.NAME)),
                    false));
          }
        });
    return out;
  }

  @Override
  public Rendered render(App app, Map<String, String> tags, String kubeVersion) {
    Ref ref = Ref.parse(app.revision());
    ProfileStore.VersionRow v =
        jdbi.withHandle(h -> ProfileStore.version(h, ref.profile(), ref.version().orElse(0)))
            .orElseThrow(
                () -> new IllegalStateException("profile " + app.revision() + " does not exist"));
    RenderedApp out = RenderedApp.of(render(v.layers(), tags, kubeVersion));
    return new Rendered(out.yaml(), out.digest());
  }

  /** The app layers rendered in order for a device with these tags, concatenated. */
  String render(List<Layer> layers, Map<String, String> tags, String kubeVersion) {
    List<String> parts = new ArrayList<>();
    for (Layer l : layers) {
      if (l.kubernetes()) {
        continue;
      }
      try {
        parts.add(catalog.render(l.app(), l.version(), l.values(), tags, kubeVersion).yaml());
      } catch (RenderException e) {
        throw new RenderException("layer '" + l.name() + "': " + e.getMessage(), e);
      }
    }
    return concatenate(parts);
  }

  /** Multi-document YAML texts as one, separated by {@code ---} lines. */
  static String concatenate(List<String> parts) {
    StringBuilder out = new StringBuilder();
    for (String p : parts) {
      String s = p.strip();
      while (s.startsWith("---")) {
        s = s.substring(3).strip();
      }
      if (s.isEmpty()) {
        continue;
      }
      if (!out.isEmpty()) {
        out.append("---\n");
      }
      out.append(s).append('\n');
    }
    return out.toString();
  }
}
