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

  /**
   * Which entries to list, newest first.
   *
   * @param actor only this actor's entries, exactly
   * @param action only actions that start with this, e.g. {@code rollout.} or {@code
   *     device.approve}
   * @param target only entries about this target, exactly
   * @param text only entries whose actor, action, target or detail contain this, ignoring case
   * @param before only entries older than this position (the {@code next} of an earlier page)
   */
  public record Query(
      Optional<String> actor,
      Optional<String> action,
      Optional<String> target,
      Optional<String> text,
      Optional<Position> before,
      int limit) {}

  /** Where a page ended: the time and id of its oldest entry. */
  public record Position(long at, String id) {
    private static final java.util.regex.Pattern TEXT =
        java.util.regex.Pattern.compile("([0-9]{1,15})\\.([A-Za-z0-9_-]{1,64})");

    /** Parses {@code <epoch millis>.<id>}, as {@link #toString()} writes it. */
    public static Optional<Position> parse(String text) {
      var m = TEXT.matcher(text);
      return m.matches()
          ? Optional.of(new Position(Long.parseLong(m.group(1)), m.group(2)))
          : Optional.empty();
    }

    @Override
    public String toString() {
      return at + "." + id;
    }
  }

  /**
   * A page of entries, newest first.
   *
   * @param next where the next (older) page starts, when there may be one
   */
  public record Page(List<Entry> items, String next) {}

  /** The entries the query selects, newest first, one page. */
  public Page page(Query q) {
    StringBuilder where = new StringBuilder(" WHERE 1 = 1");
    q.actor().ifPresent(a -> where.append(" AND actor = :actor"));
    q.action().ifPresent(a -> where.append(" AND action LIKE :action ESCAPE '!'"));
    q.target().ifPresent(t -> where.append(" AND target = :target"));
    q.text()
        .ifPresent(
            t ->
                where.append(
                    " AND LOWER(actor || ' ' || action || ' ' || COALESCE(target, '') || ' ' ||"
                        + " COALESCE(detail, '')) LIKE :text ESCAPE '!'"));
    q.before()
        .ifPresent(
            b -> where.append(" AND (at < :beforeAt OR (at = :beforeAt AND id < :beforeId))"));
    List<Entry> items =
        jdbi.withHandle(
            h -> {
              var query =
                  h.createQuery(
                          "SELECT id, at, actor, action, target, detail FROM audit_log"
                              + where
                              + " ORDER BY at DESC, id DESC LIMIT :limit")
                      .bind("limit", q.limit());
              q.actor().ifPresent(a -> query.bind("actor", a));
              q.action().ifPresent(a -> query.bind("action", like(a) + "%"));
              q.target().ifPresent(t -> query.bind("target", t));
              q.text()
                  .ifPresent(
                      t ->
                          query.bind(
                              "text", "%" + like(t.toLowerCase(java.util.Locale.ROOT)) + "%"));
              q.before()
                  .ifPresent(
                      b -> {
                        query.bind("beforeAt", b.at());
                        query.bind("beforeId", b.id());
                      });
              return query.map((rs, ctx) -> entry(rs)).list();
            });
    String next =
        items.size() < q.limit()
            ? null
            : new Position(items.getLast().at().toEpochMilli(), items.getLast().id()).toString();
    return new Page(items, next);
  }

  /** Text matched literally by LIKE (with {@code !} as the escape character). */
  private static String like(String text) {
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_");
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
