package io.edgefleet.controller.audit;

import io.edgefleet.controller.common.Ids;
import io.edgefleet.protocol.Json;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
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
                .map(
                    (rs, ctx) ->
                        new Entry(
                            rs.getString("id"),
                            Instant.ofEpochMilli(rs.getLong("at")),
                            rs.getString("actor"),
                            rs.getString("action"),
                            rs.getString("target"),
                            rs.getString("detail")))
                .list());
  }
}
