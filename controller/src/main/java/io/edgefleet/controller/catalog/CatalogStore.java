package io.edgefleet.controller.catalog;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.SortedMap;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/** SQL of the catalog tables (see {@code V5__catalog.sql}). Stateless apart from the pool. */
final class CatalogStore {
  private static final String VERSION_COLUMNS =
      "v.app, v.version, v.kind, v.digest, v.description, v.created_at, v.created_by, c.size,"
          + " c.file_count";

  private final Jdbi jdbi;

  CatalogStore(Jdbi jdbi) {
    this.jdbi = jdbi;
  }

  /** An app of the catalog. */
  record AppRow(String name, String description, Instant createdAt, Instant updatedAt) {}

  /** A pushed version with the size and file count of its content. */
  record VersionRow(
      String app,
      String version,
      String kind,
      String digest,
      String description,
      Instant createdAt,
      String createdBy,
      long size,
      int fileCount) {}

  List<AppRow> apps() {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT name, description, created_at, updated_at FROM catalog_apps ORDER BY"
                        + " name")
                .map((rs, ctx) -> app(rs))
                .list());
  }

  Optional<AppRow> app(String name) {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT name, description, created_at, updated_at FROM catalog_apps"
                        + " WHERE name = :name")
                .bind("name", name)
                .map((rs, ctx) -> app(rs))
                .findOne());
  }

  List<VersionRow> versions() {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT "
                        + VERSION_COLUMNS
                        + " FROM catalog_versions v JOIN catalog_contents c ON c.digest = v.digest")
                .map((rs, ctx) -> version(rs))
                .list());
  }

  List<VersionRow> versions(String app) {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT "
                        + VERSION_COLUMNS
                        + " FROM catalog_versions v JOIN catalog_contents c ON c.digest = v.digest"
                        + " WHERE v.app = :app")
                .bind("app", app)
                .map((rs, ctx) -> version(rs))
                .list());
  }

  Optional<VersionRow> version(String app, String version) {
    return jdbi.withHandle(h -> version(h, app, version));
  }

  Optional<VersionRow> version(Handle h, String app, String version) {
    return h.createQuery(
            "SELECT "
                + VERSION_COLUMNS
                + " FROM catalog_versions v JOIN catalog_contents c ON c.digest = v.digest"
                + " WHERE v.app = :app AND v.version = :version")
        .bind("app", app)
        .bind("version", version)
        .map((rs, ctx) -> version(rs))
        .findOne();
  }

  /** The files of a content digest. */
  Optional<SortedMap<String, byte[]>> files(String digest) {
    return jdbi.withHandle(
            h ->
                h.createQuery("SELECT files FROM catalog_contents WHERE digest = :digest")
                    .bind("digest", digest)
                    .mapTo(String.class)
                    .findOne())
        .map(text -> Archives.decode(Archives.gunzip(Base64.getDecoder().decode(text))));
  }

  /** Creates or touches the app; a non-empty description replaces the stored one. */
  void upsertApp(Handle h, String name, String description, long now) {
    h.createUpdate(
            "INSERT INTO catalog_apps (name, description, created_at, updated_at) VALUES (:name,"
                + " :description, :now, :now) ON CONFLICT (name) DO UPDATE SET updated_at ="
                + " excluded.updated_at, description = CASE WHEN excluded.description = '' THEN"
                + " catalog_apps.description ELSE excluded.description END")
        .bind("name", name)
        .bind("description", description)
        .bind("now", now)
        .execute();
  }

  /** Stores content once per digest. */
  void insertContent(Handle h, String digest, SortedMap<String, byte[]> files, long now) {
    h.createUpdate(
            "INSERT INTO catalog_contents (digest, files, file_count, size, created_at) VALUES"
                + " (:digest, :files, :count, :size, :now) ON CONFLICT (digest) DO NOTHING")
        .bind("digest", digest)
        .bind("files", Base64.getEncoder().encodeToString(Archives.gzip(Archives.encode(files))))
        .bind("count", files.size())
        .bind("size", Archives.size(files))
        .bind("now", now)
        .execute();
  }

  /**
   * Inserts a version unless one with the same app and version exists.
   *
   * @return whether it was inserted
   */
  boolean insertVersion(
      Handle h,
      String app,
      String version,
      String kind,
      String digest,
      String description,
      long now,
      String actor) {
    return h.createUpdate(
                "INSERT INTO catalog_versions (app, version, kind, digest, description,"
                    + " created_at, created_by) VALUES (:app, :version, :kind, :digest,"
                    + " :description, :now, :actor) ON CONFLICT (app, version) DO NOTHING")
            .bind("app", app)
            .bind("version", version)
            .bind("kind", kind)
            .bind("digest", digest)
            .bind("description", description)
            .bind("now", now)
            .bind("actor", actor.length() > 200 ? actor.substring(0, 200) : actor)
            .execute()
        == 1;
  }

  private static AppRow app(ResultSet rs) throws SQLException {
    return new AppRow(
        rs.getString("name"),
        rs.getString("description"),
        Instant.ofEpochMilli(rs.getLong("created_at")),
        Instant.ofEpochMilli(rs.getLong("updated_at")));
  }

  private static VersionRow version(ResultSet rs) throws SQLException {
    return new VersionRow(
        rs.getString("app"),
        rs.getString("version"),
        rs.getString("kind"),
        rs.getString("digest"),
        rs.getString("description"),
        Instant.ofEpochMilli(rs.getLong("created_at")),
        rs.getString("created_by"),
        rs.getLong("size"),
        rs.getInt("file_count"));
  }
}
