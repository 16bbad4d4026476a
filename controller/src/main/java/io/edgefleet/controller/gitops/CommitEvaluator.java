package io.edgefleet.controller.gitops;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.render.Bundle;
import io.edgefleet.controller.render.ContentRevision;
import io.edgefleet.controller.render.RenderException;
import io.edgefleet.controller.render.Rendering;
import io.edgefleet.controller.rollouts.RolloutPolicy;
import io.edgefleet.controller.rollouts.RolloutPolicyException;
import io.edgefleet.controller.selector.Selector;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a commit means for its source's applications. A fetched tip is validated (every changed
 * application parsed and rendered without device tags, the rollout policy parsed) and its
 * per-application changes computed against the head: the commit is applied, with each application's
 * content revision and provenance, an application whose new content cannot be used keeping its
 * previous revision (recorded as {@code REFUSED} with the reason); or, when nothing of it can take
 * effect, refused with the reason. Also the applications at every source's head, with revisions
 * filled in for those recorded before content revisions. Parsed application contents are cached in
 * {@link Rendering}. Thread-safe.
 */
final class CommitEvaluator {
  private static final Logger LOG = LoggerFactory.getLogger(CommitEvaluator.class);

  private final SourceStore store;
  private final Rendering rendering;

  CommitEvaluator(SourceStore store, Rendering rendering) {
    this.store = store;
    this.rendering = rendering;
  }

  /**
   * Every application of every source at the source's current head, by source then name, with its
   * content revision and the commit that introduced it. Applications recorded before content
   * revisions get theirs here, computed from their stored files, once.
   */
  List<AppDefinition> apps() {
    Map<String, Selector> targets = new ConcurrentHashMap<>();
    return store.headApps().stream()
        .map(
            a -> {
              Revision r =
                  a.revision() != null
                      ? new Revision(a.revision(), a.commit())
                      : fill(a.source(), a.sha(), a.name());
              return new AppDefinition(
                  a.source(),
                  a.name(),
                  a.sha(),
                  r.revision(),
                  r.commit(),
                  a.kind(),
                  targets.computeIfAbsent(a.target(), Selector::parse));
            })
        .toList();
  }

  /** A content revision and the commit that introduced it. */
  record Revision(String revision, String commit) {}

  /**
   * The revision of an application recorded at {@code sha} before content revisions, stored for
   * next time. Its provenance is that commit: the one it was recorded at. If its content cannot be
   * read, the commit stands in as its revision, as it did before.
   */
  private Revision fill(String source, String sha, String name) {
    try {
      String revision = rendering.revision(bundle(source, sha, name));
      store.fillRevision(source, sha, name, revision, sha);
      return new Revision(revision, sha);
    } catch (RuntimeException e) {
      LOG.warn(
          "git source {}: no content revision for {} at {}: {}", source, name, sha, e.toString());
      return new Revision(sha, sha);
    }
  }

  /** The revision of an application row of a recorded commit, filled in if it has none. */
  Revision revision(SourceStore.AppRow row) {
    return row.revision() != null
        ? new Revision(row.revision(), row.commit())
        : fill(row.source(), row.sha(), row.name());
  }

  /** Validates a fetched tip and computes its per-application changes against the head. */
  SourceStore.Recording evaluate(SourceStore.SourceRow s, GitClient.Snapshot snap) {
    String sha = snap.sha();
    if (snap.contentError() != null) {
      return refusal(s, snap, snap.contentError());
    }
    if (snap.rolloutPolicy() != null) {
      try {
        RolloutPolicy.parse(snap.rolloutPolicy());
      } catch (RolloutPolicyException e) {
        return refusal(s, snap, GitClient.ROLLOUT_POLICY_FILE + ": " + e.getMessage());
      }
    }
    Map<String, SourceStore.AppRow> previous = new LinkedHashMap<>();
    if (s.headSha() != null) {
      for (SourceStore.AppRow a : store.appsAt(s.name(), s.headSha())) {
        previous.put(a.name(), a);
      }
    }
    List<String> problems = new ArrayList<>();
    List<CommitView.AppChange> refusedApps = new ArrayList<>();
    List<String> withouts = new ArrayList<>();
    List<CommitView.AppChange> changes = new ArrayList<>();
    List<SourceStore.AppRow> apps = new ArrayList<>();
    Map<String, GitClient.AppTree> newTrees = new LinkedHashMap<>();
    for (GitClient.AppTree t : snap.apps()) {
      SourceStore.AppRow old = previous.get(t.name());
      Revision was = old == null ? null : revision(old);
      if (old != null && old.treeId().equals(t.treeId())) {
        // A commit SHA here means the content could not be read: left to be filled in later.
        boolean known = !ContentRevision.isCommitSha(was.revision());
        apps.add(
            new SourceStore.AppRow(
                s.name(),
                sha,
                t.name(),
                old.kind(),
                t.treeId(),
                known ? was.revision() : null,
                known ? was.commit() : null));
        continue;
      }
      Map<String, String> now;
      Bundle b;
      String revision;
      try {
        b = Bundle.parse(t.name(), t.treeId(), t.files());
        Rendering.Base base = rendering.base(b);
        now = base.index();
        revision = base.revision();
      } catch (RenderException e) {
        // This app keeps what it had (nothing, if it is new); the others go ahead without it.
        String reason = e.getMessage();
        String kept;
        if (old != null) {
          boolean known = !ContentRevision.isCommitSha(was.revision());
          apps.add(
              new SourceStore.AppRow(
                  s.name(),
                  sha,
                  t.name(),
                  old.kind(),
                  old.treeId(),
                  known ? was.revision() : null,
                  known ? was.commit() : null));
          kept =
              "it stays at "
                  + was.revision()
                  + " from commit "
                  + was.commit().substring(0, Math.min(12, was.commit().length()));
        } else {
          kept = "it is not deployed";
        }
        problems.add("app '" + t.name() + "': " + reason);
        withouts.add("app '" + t.name() + "' was refused (" + kept + "): " + reason);
        refusedApps.add(
            new CommitView.AppChange(
                t.name(),
                CommitView.Change.REFUSED,
                old == null ? null : was.revision(),
                List.of(),
                List.of(),
                List.of(),
                null,
                reason));
        continue;
      }
      // Same content, other files (a README, comments): the revision and its provenance stay.
      String commit = was != null && was.revision().equals(revision) ? was.commit() : sha;
      rendering.keep(key(s.name(), sha, t.name()), b);
      apps.add(
          new SourceStore.AppRow(s.name(), sha, t.name(), b.kind(), t.treeId(), revision, commit));
      newTrees.put(t.treeId(), t);
      Map<String, String> before = old == null ? Map.of() : previousIndex(s, old);
      changes.add(
          diff(
              t.name(),
              old == null ? CommitView.Change.ADDED : CommitView.Change.CHANGED,
              revision,
              before,
              now));
    }
    Set<String> current = new TreeSet<>(GitClient.names(snap.apps()));
    for (SourceStore.AppRow old : previous.values()) {
      if (!current.contains(old.name())) {
        changes.add(
            diff(old.name(), CommitView.Change.REMOVED, null, previousIndex(s, old), Map.of()));
      }
    }
    if (!problems.isEmpty() && changes.isEmpty()) {
      // Nothing of it could take effect: refused as a whole, as before.
      return refusal(s, snap, String.join("; ", problems));
    }
    changes.addAll(refusedApps);
    changes.sort(Comparator.comparing(CommitView.AppChange::app));
    String error =
        problems.isEmpty()
            ? null
            : "commit "
                + sha.substring(0, 12)
                + " was applied without "
                + (withouts.size() == 1 ? "one app" : withouts.size() + " apps")
                + ": "
                + String.join("; ", withouts);
    return new SourceStore.Recording(snap, true, error, List.copyOf(changes), apps, newTrees);
  }

  private SourceStore.Recording refusal(
      SourceStore.SourceRow s, GitClient.Snapshot snap, String problem) {
    String keep =
        s.headSha() == null
            ? "no commit is in effect yet"
            : "commit " + s.headSha().substring(0, 12) + " stays in effect";
    String error =
        "commit " + snap.sha().substring(0, 12) + " was refused (" + keep + "): " + problem;
    return new SourceStore.Recording(snap, false, error, List.of(), List.of(), Map.of());
  }

  private Map<String, String> previousIndex(SourceStore.SourceRow s, SourceStore.AppRow old) {
    try {
      return rendering.baseIndex(bundle(s.name(), s.headSha(), old.name()));
    } catch (RuntimeException e) {
      // The previous head was valid when recorded; if it no longer renders (e.g. Helm missing)
      // the diff is reported without its resources rather than blocking the new commit.
      LOG.warn(
          "git source {}: cannot render previous {} for the diff: {}", s.name(), old, e.toString());
      return Map.of();
    }
  }

  private static CommitView.AppChange diff(
      String app,
      CommitView.Change change,
      String revision,
      Map<String, String> before,
      Map<String, String> after) {
    List<String> added = new ArrayList<>();
    List<String> changed = new ArrayList<>();
    List<String> removed = new ArrayList<>();
    after.forEach(
        (id, yaml) -> {
          String was = before.get(id);
          if (was == null) {
            added.add(id);
          } else if (!was.equals(yaml)) {
            changed.add(id);
          }
        });
    before
        .keySet()
        .forEach(
            id -> {
              if (!after.containsKey(id)) {
                removed.add(id);
              }
            });
    List<String> ids = new ArrayList<>(added);
    ids.addAll(changed);
    ids.addAll(removed);
    return new CommitView.AppChange(
        app,
        change,
        revision,
        List.copyOf(added),
        List.copyOf(changed),
        List.copyOf(removed),
        Optional.of(Patches.of(ids, before, after)).filter(d -> !d.isEmpty()).orElse(null),
        null);
  }

  /**
   * The parsed content of an application at a recorded commit.
   *
   * @throws ControllerException {@code NOT_FOUND} if the application was never recorded there
   */
  Bundle bundle(String source, String sha, String name) {
    return rendering.bundle(
        key(source, sha, name),
        () -> {
          var row =
              store
                  .app(source, sha, name)
                  .orElseThrow(
                      () ->
                          ControllerException.notFound(
                              "application", source + "/" + name + "@" + sha));
          return Bundle.parse(name, row.row().treeId(), row.files());
        });
  }

  private static String key(String source, String sha, String name) {
    return source + "\u0000" + sha + "\u0000" + name;
  }
}
