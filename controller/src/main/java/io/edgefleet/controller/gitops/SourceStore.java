package io.edgefleet.controller.gitops;

import com.fasterxml.jackson.core.type.TypeReference;
import io.edgefleet.controller.common.Ids;
import io.edgefleet.controller.render.AppKind;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * SQL for git sources, recorded commits and application trees. The same statements run on SQLite
 * and PostgreSQL. Thread-safe (every call uses its own handle or the caller's).
 */
final class SourceStore {
  private static final TypeReference<List<CommitView.AppChange>> CHANGES = new TypeReference<>() {};
  private static final TypeReference<TreeMap<String, String>> FILES = new TypeReference<>() {};

  private final Jdbi jdbi;

  SourceStore(Jdbi jdbi) {
    this.jdbi = jdbi;
  }

  /** A source row; {@code credential} and {@code webhookSecret} are sealed. */
  record SourceRow(
      String name,
      String url,
      String branch,
      String path,
      long intervalMs,
      String auth,
      String credential,
      String sshHostKey,
      String target,
      String webhookSecret,
      String headSha,
      String seenSha,
      String seenError,
      Long lastPolledAt,
      String lastError,
      long createdAt,
      String project) {}

  /**
   * An application of an applied commit.
   *
   * @param revision its content revision; null if recorded before content revisions
   * @param commit the commit that brought it to this revision; null with {@code revision}
   */
  record AppRow(
      String source,
      String sha,
      String name,
      AppKind kind,
      String treeId,
      String revision,
      String commit) {}

  /** An application at its source's head, with the source's target; see {@link AppRow}. */
  record HeadApp(
      String source,
      String name,
      String sha,
      AppKind kind,
      String target,
      String revision,
      String commit) {}

  /** What a poll decided about a new head. */
  record Recording(
      GitClient.Snapshot snapshot,
      boolean applied,
      String error,
      List<CommitView.AppChange> changes,
      List<AppRow> apps,
      Map<String, GitClient.AppTree> newTrees) {}

  void insert(Handle h, SourceRow s) {
    h.createUpdate(
            "INSERT INTO git_sources (name, url, branch, path, interval_ms, auth, credential,"
                + " ssh_host_key, target, webhook_secret, created_at, updated_at, project) VALUES"
                + " (:name, :url, :branch, :path, :interval, :auth, :credential, :hostKey,"
                + " :target, :webhook, :now, :now, :project)")
        .bind("project", s.project())
        .bind("name", s.name())
        .bind("url", s.url())
        .bind("branch", s.branch())
        .bind("path", s.path())
        .bind("interval", s.intervalMs())
        .bind("auth", s.auth())
        .bind("credential", s.credential())
        .bind("hostKey", s.sshHostKey())
        .bind("target", s.target())
        .bind("webhook", s.webhookSecret())
        .bind("now", s.createdAt())
        .execute();
  }

  Optional<SourceRow> find(String name) {
    return jdbi.withHandle(h -> find(h, name));
  }

  Optional<SourceRow> find(Handle h, String name) {
    return h.createQuery("SELECT * FROM git_sources WHERE name = :name")
        .bind("name", name)
        .map((rs, ctx) -> source(rs))
        .findOne();
  }

  List<SourceRow> all() {
    return jdbi.withHandle(
        h ->
            h.createQuery("SELECT * FROM git_sources ORDER BY name")
                .map((rs, ctx) -> source(rs))
                .list());
  }

  /** Deletes a source and everything recorded for it, and trees no longer used by anyone. */
  boolean delete(Handle h, String name) {
    h.createUpdate("DELETE FROM git_apps WHERE source = :name").bind("name", name).execute();
    h.createUpdate("DELETE FROM git_commits WHERE source = :name").bind("name", name).execute();
    int n =
        h.createUpdate("DELETE FROM git_sources WHERE name = :name").bind("name", name).execute();
    h.createUpdate(
            "DELETE FROM git_app_trees WHERE NOT EXISTS"
                + " (SELECT 1 FROM git_apps a WHERE a.tree_id = git_app_trees.tree_id)")
        .execute();
    return n > 0;
  }

  /** Stores the branch a source added without one follows: the remote's default branch. */
  void resolveBranch(String name, String branch) {
    jdbi.useHandle(
        h ->
            h.createUpdate(
                    "UPDATE git_sources SET branch = :branch WHERE name = :name AND branch = ''")
                .bind("branch", branch)
                .bind("name", name)
                .execute());
  }

  /** Pins the ssh host key seen first, unless one is pinned already. */
  void pinHostKey(String name, String openSshKey) {
    jdbi.useHandle(
        h ->
            h.createUpdate(
                    "UPDATE git_sources SET ssh_host_key = :key WHERE name = :name"
                        + " AND ssh_host_key IS NULL")
                .bind("key", openSshKey)
                .bind("name", name)
                .execute());
  }

  /** A successful check that found nothing new: the error is again that of the seen head. */
  void polled(String name, long now) {
    jdbi.useHandle(
        h ->
            h.createUpdate(
                    "UPDATE git_sources SET last_polled_at = :now, last_error = seen_error"
                        + " WHERE name = :name")
                .bind("now", now)
                .bind("name", name)
                .execute());
  }

  void pollFailed(String name, String error) {
    jdbi.useHandle(
        h ->
            h.createUpdate("UPDATE git_sources SET last_error = :error WHERE name = :name")
                .bind("error", truncate(error, 4000))
                .bind("name", name)
                .execute());
  }

  private static final class LostRace extends RuntimeException {
    LostRace() {
      super(null, null, false, false);
    }
  }

  /**
   * Records a new head in one transaction: the commit row, for an applied commit its trees and
   * applications and the new {@code head_sha}; {@code seen_sha} always. Compare-and-set on {@code
   * seen_sha}: returns false (and changes nothing) if another controller recorded a head first.
   */
  boolean record(SourceRow prev, Recording r, long now) {
    GitClient.Snapshot s = r.snapshot();
    try {
      jdbi.useTransaction(
          h -> {
            long seq =
                h.createQuery(
                        "SELECT COALESCE(MAX(seq), 0) + 1 FROM git_commits WHERE source = :name")
                    .bind("name", prev.name())
                    .mapTo(Long.class)
                    .one();
            h.createUpdate(
                    "INSERT INTO git_commits (id, source, seq, sha, author, message, committed_at,"
                        + " recorded_at, status, error, diff) VALUES (:id, :source, :seq, :sha,"
                        + " :author, :message, :committedAt, :now, :status, :error, :diff)")
                .bind("id", Ids.next("gco"))
                .bind("source", prev.name())
                .bind("seq", seq)
                .bind("sha", s.sha())
                .bind("author", truncate(s.author(), 500))
                .bind("message", truncate(s.message(), 20_000))
                .bind("committedAt", s.committedAt().toEpochMilli())
                .bind("now", now)
                .bind("status", r.applied() ? "APPLIED" : "FAILED")
                .bind("error", r.error())
                .bind("diff", Json.write(r.changes()))
                .execute();
            if (r.applied()) {
              for (GitClient.AppTree t : r.newTrees().values()) {
                h.createUpdate(
                        "INSERT INTO git_app_trees (tree_id, files, size, created_at) VALUES"
                            + " (:id, :files, :size, :now) ON CONFLICT (tree_id) DO NOTHING")
                    .bind("id", t.treeId())
                    .bind("files", encode(t.files()))
                    .bind("size", t.files().values().stream().mapToLong(b -> b.length).sum())
                    .bind("now", now)
                    .execute();
              }
              for (AppRow a : r.apps()) {
                h.createUpdate(
                        "INSERT INTO git_apps (source, sha, name, kind, tree_id, revision,"
                            + " revision_commit) VALUES (:source, :sha, :name, :kind, :tree,"
                            + " :revision, :commit) ON CONFLICT (source, sha, name) DO NOTHING")
                    .bind("source", prev.name())
                    .bind("sha", s.sha())
                    .bind("name", a.name())
                    .bind("kind", a.kind().name())
                    .bind("tree", a.treeId())
                    .bind("revision", a.revision())
                    .bind("commit", a.commit())
                    .execute();
              }
            }
            // Two statements instead of "seen_sha = :prev OR :prev IS NULL": PostgreSQL cannot
            // type a parameter that is only compared with NULL.
            String guard = prev.seenSha() == null ? "seen_sha IS NULL" : "seen_sha = :prevSeen";
            var update =
                h.createUpdate(
                        "UPDATE git_sources SET seen_sha = :sha, seen_error = :error, head_sha = "
                            + (r.applied() ? ":sha" : "head_sha")
                            + (r.applied() ? ", head_rollout_policy = :policy" : "")
                            + ", last_polled_at = :now, last_error = :error, updated_at = :now"
                            + " WHERE name = :name AND "
                            + guard)
                    .bind("sha", s.sha())
                    .bind("error", r.error() == null ? null : truncate(r.error(), 4000))
                    .bind("now", now)
                    .bind("name", prev.name());
            if (r.applied()) {
              update.bind("policy", s.rolloutPolicy());
            }
            if (prev.seenSha() != null) {
              update.bind("prevSeen", prev.seenSha());
            }
            if (update.execute() == 0) {
              throw new LostRace();
            }
          });
      return true;
    } catch (LostRace e) {
      return false;
    }
  }

  List<CommitView> history(String name, int limit) {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT * FROM git_commits WHERE source = :name ORDER BY seq DESC LIMIT :limit")
                .bind("name", name)
                .bind("limit", limit)
                .map((rs, ctx) -> commit(rs))
                .list());
  }

  /** The newest records of commits whose SHA starts with {@code prefix}, newest first. */
  List<CommitView> commitsByPrefix(String name, String prefix) {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT * FROM git_commits WHERE source = :name AND sha LIKE :pattern"
                        + " ORDER BY seq DESC LIMIT 50")
                .bind("name", name)
                .bind("pattern", prefix + "%")
                .map((rs, ctx) -> commit(rs))
                .list());
  }

  /** The latest record of the commit {@code sha}. */
  Optional<CommitView> latestCommit(String name, String sha) {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT * FROM git_commits WHERE source = :name AND sha = :sha"
                        + " ORDER BY seq DESC LIMIT 1")
                .bind("name", name)
                .bind("sha", sha)
                .map((rs, ctx) -> commit(rs))
                .findOne());
  }

  List<AppRow> appsAt(String name, String sha) {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT source, sha, name, kind, tree_id, revision, revision_commit FROM"
                        + " git_apps WHERE source = :source AND sha = :sha ORDER BY name")
                .bind("source", name)
                .bind("sha", sha)
                .map((rs, ctx) -> app(rs))
                .list());
  }

  List<HeadApp> headApps() {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT a.source, a.name, a.sha, a.kind, s.target, a.revision,"
                        + " a.revision_commit FROM git_apps a JOIN git_sources s ON a.source ="
                        + " s.name AND a.sha = s.head_sha ORDER BY a.source, a.name")
                .map(
                    (rs, ctx) ->
                        new HeadApp(
                            rs.getString("source"),
                            rs.getString("name"),
                            rs.getString("sha"),
                            AppKind.valueOf(rs.getString("kind")),
                            rs.getString("target"),
                            rs.getString("revision"),
                            rs.getString("revision_commit")))
                .list());
  }

  /**
   * Fills in the content revision of an application recorded before content revisions. Only a
   * missing one is written: the value is computed from the stored files, so any controller that
   * races this one writes the same.
   */
  void fillRevision(String source, String sha, String name, String revision, String commit) {
    jdbi.useHandle(
        h ->
            h.createUpdate(
                    "UPDATE git_apps SET revision = :revision, revision_commit = :commit WHERE"
                        + " source = :source AND sha = :sha AND name = :name AND revision IS NULL")
                .bind("revision", revision)
                .bind("commit", commit)
                .bind("source", source)
                .bind("sha", sha)
                .bind("name", name)
                .execute());
  }

  /** An application of an applied commit with the files of its directory. */
  record StoredApp(AppRow row, SortedMap<String, byte[]> files) {}

  /** One application of a recorded commit with its files. */
  Optional<StoredApp> app(String source, String sha, String name) {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT a.source, a.sha, a.name, a.kind, a.tree_id, a.revision,"
                        + " a.revision_commit, t.files FROM git_apps a"
                        + " JOIN git_app_trees t ON t.tree_id = a.tree_id WHERE a.source = :source"
                        + " AND a.sha = :sha AND a.name = :name")
                .bind("source", source)
                .bind("sha", sha)
                .bind("name", name)
                .map((rs, ctx) -> new StoredApp(app(rs), decode(rs.getString("files"))))
                .findOne());
  }

  private static AppRow app(ResultSet rs) throws SQLException {
    return new AppRow(
        rs.getString("source"),
        rs.getString("sha"),
        rs.getString("name"),
        AppKind.valueOf(rs.getString("kind")),
        rs.getString("tree_id"),
        rs.getString("revision"),
        rs.getString("revision_commit"));
  }

  private static SourceRow source(ResultSet rs) throws SQLException {
    long polled = rs.getLong("last_polled_at");
    boolean hasPolled = !rs.wasNull();
    return new SourceRow(
        rs.getString("name"),
        rs.getString("url"),
        rs.getString("branch"),
        rs.getString("path"),
        rs.getLong("interval_ms"),
        rs.getString("auth"),
        rs.getString("credential"),
        rs.getString("ssh_host_key"),
        rs.getString("target"),
        rs.getString("webhook_secret"),
        rs.getString("head_sha"),
        rs.getString("seen_sha"),
        rs.getString("seen_error"),
        hasPolled ? polled : null,
        rs.getString("last_error"),
        rs.getLong("created_at"),
        rs.getString("project"));
  }

  private static CommitView commit(ResultSet rs) throws SQLException {
    List<CommitView.AppChange> changes;
    try {
      changes = Json.mapper().readValue(rs.getString("diff"), CHANGES);
    } catch (IOException e) {
      throw new UncheckedIOException("corrupt diff column of commit " + rs.getString("sha"), e);
    }
    return new CommitView(
        rs.getString("source"),
        rs.getString("sha"),
        rs.getString("author"),
        rs.getString("message"),
        Instant.ofEpochMilli(rs.getLong("committed_at")),
        Instant.ofEpochMilli(rs.getLong("recorded_at")),
        CommitView.Status.valueOf(rs.getString("status")),
        rs.getString("error"),
        changes);
  }

  private static String encode(SortedMap<String, byte[]> files) {
    TreeMap<String, String> m = new TreeMap<>();
    Base64.Encoder enc = Base64.getEncoder();
    files.forEach((k, v) -> m.put(k, enc.encodeToString(v)));
    return Json.write(m);
  }

  private static SortedMap<String, byte[]> decode(String json) {
    TreeMap<String, String> m;
    try {
      m = Json.mapper().readValue(json, FILES);
    } catch (IOException e) {
      throw new UncheckedIOException("corrupt files column of git_app_trees", e);
    }
    TreeMap<String, byte[]> out = new TreeMap<>();
    Base64.Decoder dec = Base64.getDecoder();
    m.forEach((k, v) -> out.put(k, dec.decode(v)));
    return out;
  }

  /**
   * Whether application {@code name} of {@code source}, recorded at commit {@code sha}, had the
   * content of {@code revision}: its recorded revision, or, where that is not filled in yet, a
   * directory tree recorded with that revision.
   */
  static boolean sameContent(Handle h, String source, String name, String sha, String revision) {
    Optional<String[]> then =
        h.createQuery(
                "SELECT revision, tree_id FROM git_apps WHERE source = :s AND name = :n AND sha ="
                    + " :sha")
            .bind("s", source)
            .bind("n", name)
            .bind("sha", sha)
            .map((rs, ctx) -> new String[] {rs.getString(1), rs.getString(2)})
            .findOne();
    if (then.isEmpty()) {
      return false;
    }
    if (then.get()[0] != null) {
      return then.get()[0].equals(revision);
    }
    // Not filled in yet: the same directory tree is the same content.
    return h.createQuery(
                "SELECT COUNT(*) FROM git_apps WHERE source = :s AND name = :n AND revision = :r"
                    + " AND tree_id = :t")
            .bind("s", source)
            .bind("n", name)
            .bind("r", revision)
            .bind("t", then.get()[1])
            .mapTo(Integer.class)
            .one()
        > 0;
  }

  static String truncate(String s, int max) {
    return s == null || s.length() <= max ? s : s.substring(0, max - 1) + "…";
  }
}
