package io.edgefleet.controller.rollouts;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jdbi.v3.core.Jdbi;

/** What other parts of the controller read about rollouts, each in one query. Thread-safe. */
public final class RolloutReads {
  private final Jdbi jdbi;

  public RolloutReads(Jdbi jdbi) {
    this.jdbi = jdbi;
  }

  /** A paused rollout: why, and since when. */
  public record Paused(String id, String app, String reason, Instant since) {}

  /** Rollouts by state. */
  public Map<String, Long> countByState() {
    return jdbi.withHandle(
        h ->
            h.createQuery("SELECT state, COUNT(*) FROM rollouts GROUP BY state")
                .map((rs, ctx) -> Map.entry(rs.getString(1), rs.getLong(2)))
                .collectToMap(Map.Entry::getKey, Map.Entry::getValue));
  }

  /** The paused rollouts, oldest first. */
  public List<Paused> paused() {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT id, app, reason, updated_at FROM rollouts WHERE state = 'PAUSED'"
                        + " ORDER BY seq")
                .map(
                    (rs, ctx) ->
                        new Paused(
                            rs.getString(1),
                            rs.getString(2),
                            rs.getString(3),
                            Instant.ofEpochMilli(rs.getLong(4))))
                .list());
  }

  /**
   * An event of a rollout, with the rollout's app and revisions.
   *
   * @param seq the event's number within its rollout
   * @param batch the batch it concerns; null for the whole rollout
   * @param fromRevision null for a first release
   */
  public record LoggedEvent(
      String id,
      String rolloutId,
      long seq,
      Instant at,
      String kind,
      Integer batch,
      String message,
      String app,
      String fromRevision,
      String toRevision) {}

  /**
   * The rollout events from {@code since} up to {@code upTo} (epoch milliseconds, both included),
   * newest first, at most {@code limit}; with {@code devices}, only those of these devices'
   * rollouts: the events of the whole rollout and of the devices' own batches.
   */
  public List<LoggedEvent> newestEvents(
      long since, long upTo, Optional<Set<String>> devices, int limit) {
    return events("e.at >= :from AND e.at <= :to", "e.at DESC", since, upTo, devices, limit);
  }

  /**
   * The rollout events after {@code after} up to {@code upTo} (epoch milliseconds), oldest first,
   * at most {@code limit}; {@code devices} as for {@link #newestEvents}.
   */
  public List<LoggedEvent> eventsAfter(
      long after, long upTo, Optional<Set<String>> devices, int limit) {
    return events("e.at > :from AND e.at <= :to", "e.at", after, upTo, devices, limit);
  }

  private List<LoggedEvent> events(
      String where, String order, long from, long to, Optional<Set<String>> devices, int limit) {
    if (devices.isPresent() && devices.get().isEmpty()) {
      return List.of();
    }
    return jdbi.withHandle(
        h -> {
          var q =
              h.createQuery(
                      "SELECT e.id, e.rollout_id, e.seq, e.at, e.kind, e.batch, e.message, r.app,"
                          + " r.from_revision, r.to_revision FROM rollout_events e"
                          + " JOIN rollouts r ON r.id = e.rollout_id WHERE "
                          + where
                          + (devices.isPresent()
                              ? " AND EXISTS (SELECT 1 FROM rollout_devices d WHERE d.rollout_id"
                                  + " = e.rollout_id AND d.device_id IN (<ids>) AND (e.batch IS"
                                  + " NULL OR e.batch = d.batch))"
                              : "")
                          + " ORDER BY "
                          + order
                          + " LIMIT :limit")
                  .bind("from", from)
                  .bind("to", to)
                  .bind("limit", limit);
          devices.ifPresent(ids -> q.bindList("ids", List.copyOf(ids)));
          return q.map(
                  (rs, ctx) -> {
                    int batch = rs.getInt(6);
                    boolean wholeRollout = rs.wasNull();
                    return new LoggedEvent(
                        rs.getString(1),
                        rs.getString(2),
                        rs.getLong(3),
                        Instant.ofEpochMilli(rs.getLong(4)),
                        rs.getString(5),
                        wholeRollout ? null : batch,
                        rs.getString(7),
                        rs.getString(8),
                        rs.getString(9),
                        rs.getString(10));
                  })
              .list();
        });
  }
}
