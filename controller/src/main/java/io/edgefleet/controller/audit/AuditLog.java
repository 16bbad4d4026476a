package io.edgefleet.controller.audit;

import io.edgefleet.controller.common.Ids;
import io.edgefleet.protocol.Json;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * Who changed what, when. Every mutation writes its entry inside the same transaction as the change
 * itself, so the log and the state cannot disagree. Thread-safe.
 */
public final class AuditLog {
  private final Jdbi jdbi;
  private final Clock clock;

  public AuditLog(Jdbi jdbi, Clock clock) {
    this.jdbi = jdbi;
    this.clock = clock;
  }

  public record Entry(
      String id, Instant at, String actor, String action, String target, String detail) {}

  public void record(Handle h, String actor, String action, String target, Map<String, ?> detail) {
    h.createUpdate(
            "INSERT INTO audit_log (id, at, actor, action, target, detail)"
                + " VALUES (:id, :at, :actor, :action, :target, :detail)")
        .bind("id", Ids.next("aud"))
        .bind("at", clock.millis())
        .bind("actor", actor)
        .bind("action", action)
        .bind("target", target)
        .bind("detail", Json.write(detail))
        .execute();
  }

  /** The newest entries first. */
  public List<Entry> recent(int limit) {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT id, at, actor, action, target, detail FROM audit_log"
                        + " ORDER BY at DESC, id DESC LIMIT :limit")
                .bind("limit", limit)
                .map((rs, ctx) -> entry(rs))
                .list());
  }

  /**
   * The entries made from {@code since} up to {@code upTo} (epoch milliseconds, both included), of
   * these targets only when given, newest first, at most {@code limit}.
   */
  public List<Entry> newest(long since, long upTo, Optional<Set<String>> targets, int limit) {
    return between("at >= :from AND at <= :to", "at DESC", since, upTo, targets, limit);
  }

  /**
   * The entries made after {@code after} up to {@code upTo} (epoch milliseconds), of these targets
   * only when given, oldest first, at most {@code limit}.
   */
  public List<Entry> after(long after, long upTo, Optional<Set<String>> targets, int limit) {
    return between("at > :from AND at <= :to", "at", after, upTo, targets, limit);
  }

  private List<Entry> between(
      String where, String order, long from, long to, Optional<Set<String>> targets, int limit) {
    if (targets.isPresent() && targets.get().isEmpty()) {
      return List.of();
    }
    return jdbi.withHandle(
        h -> {
          var q =
              h.createQuery(
                      "SELECT id, at, actor, action, target, detail FROM audit_log WHERE "
                          + where
                          + (targets.isPresent() ? " AND target IN (<targets>)" : "")
                          + " ORDER BY "
                          + order
                          + " LIMIT :limit")
                  .bind("from", from)
                  .bind("to", to)
                  .bind("limit", limit);
          targets.ifPresent(ids -> q.bindList("targets", List.copyOf(ids)));
          return q.map((rs, ctx) -> entry(rs)).list();
        });
  }

  private static Entry entry(ResultSet rs) throws SQLException {
    return new Entry(
        rs.getString("id"),
        Instant.ofEpochMilli(rs.getLong("at")),
        rs.getString("actor"),
        rs.getString("action"),
        rs.getString("target"),
        rs.getString("detail"));
  }
}
