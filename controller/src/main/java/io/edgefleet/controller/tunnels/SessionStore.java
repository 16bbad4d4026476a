package io.edgefleet.controller.tunnels;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.statement.Query;

/** The {@code tunnel_sessions} table. */
final class SessionStore {
  private static final String COLUMNS =
      "id, device, kind, actor, detail, started_at, ended_at, bytes_in, bytes_out, end_reason";

  void insert(Handle h, Session s) {
    h.createUpdate(
            "INSERT INTO tunnel_sessions ("
                + COLUMNS
                + ") VALUES (:id, :device, :kind, :actor, :detail, :started, NULL, 0, 0, NULL)")
        .bind("id", s.id())
        .bind("device", s.device())
        .bind("kind", s.kind())
        .bind("actor", s.actor())
        .bind("detail", s.detail())
        .bind("started", s.startedAt().toEpochMilli())
        .execute();
  }

  void end(Handle h, String id, Instant at, long bytesIn, long bytesOut, String reason) {
    h.createUpdate(
            "UPDATE tunnel_sessions SET ended_at = :at, bytes_in = :in, bytes_out = :out,"
                + " end_reason = :reason WHERE id = :id AND ended_at IS NULL")
        .bind("id", id)
        .bind("at", at.toEpochMilli())
        .bind("in", bytesIn)
        .bind("out", bytesOut)
        .bind("reason", reason.length() > 1000 ? reason.substring(0, 1000) : reason)
        .execute();
  }

  /** Sessions left open by a controller that stopped: they ended with it. */
  int endAllOpen(Handle h, Instant at) {
    return h.createUpdate(
            "UPDATE tunnel_sessions SET ended_at = :at, end_reason = :reason WHERE ended_at IS NULL")
        .bind("at", at.toEpochMilli())
        .bind("reason", "the controller stopped")
        .execute();
  }

  Optional<Session> get(Handle h, String id) {
    return h.createQuery("SELECT " + COLUMNS + " FROM tunnel_sessions WHERE id = :id")
        .bind("id", id)
        .map((rs, ctx) -> row(rs))
        .findOne();
  }

  /** Newest first. */
  List<Session> list(
      Handle h,
      Optional<String> device,
      Optional<String> kind,
      Optional<Instant> before,
      int limit) {
    StringBuilder sql = new StringBuilder("SELECT " + COLUMNS + " FROM tunnel_sessions WHERE 1=1");
    device.ifPresent(d -> sql.append(" AND device = :device"));
    kind.ifPresent(k -> sql.append(" AND kind = :kind"));
    before.ifPresent(b -> sql.append(" AND started_at < :before"));
    sql.append(" ORDER BY started_at DESC, id DESC LIMIT :limit");
    Query q = h.createQuery(sql.toString()).bind("limit", limit);
    device.ifPresent(d -> q.bind("device", d));
    kind.ifPresent(k -> q.bind("kind", k));
    before.ifPresent(b -> q.bind("before", b.toEpochMilli()));
    return q.map((rs, ctx) -> row(rs)).list();
  }

  private static Session row(ResultSet rs) throws SQLException {
    long ended = rs.getLong("ended_at");
    boolean open = rs.wasNull();
    return new Session(
        rs.getString("id"),
        rs.getString("device"),
        rs.getString("kind"),
        rs.getString("actor"),
        rs.getString("detail"),
        Instant.ofEpochMilli(rs.getLong("started_at")),
        open ? null : Instant.ofEpochMilli(ended),
        rs.getLong("bytes_in"),
        rs.getLong("bytes_out"),
        rs.getString("end_reason"));
  }
}
