package io.edgefleet.controller.events;

import java.time.Clock;
import java.time.Instant;
import java.util.List;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the device side of the event log, {@code device_events} (what devices reported) and {@code
 * fleet_events} (their app and health changes), within {@link EventLimits#retention()} and {@link
 * EventLimits#maxRows()} rows per table. Rows are deleted oldest first, in batches of {@link
 * #BATCH}, each its own transaction, and at most {@link #MAX_BATCHES} batches per table and pass so
 * that a pass over a large backlog does not hold the database for long; the next pass goes on. The
 * audit log and rollout events are not touched. Thread-safe (stateless between calls).
 */
public final class EventRetention {
  private static final Logger LOG = LoggerFactory.getLogger(EventRetention.class);

  /** Rows per delete. */
  static final int BATCH = 5_000;

  /** Deletes per table and pass at most. */
  static final int MAX_BATCHES = 100;

  private static final List<String> TABLES = List.of("device_events", "fleet_events");

  private final Jdbi jdbi;
  private final Clock clock;
  private final EventLimits limits;
  private final int batch;

  /** What a pass deleted: rows past the retention and rows beyond the cap. */
  public record Pruned(long expired, long overCap) {
    public long total() {
      return expired + overCap;
    }
  }

  public EventRetention(Jdbi jdbi, Clock clock, EventLimits limits) {
    this(jdbi, clock, limits, BATCH);
  }

  EventRetention(Jdbi jdbi, Clock clock, EventLimits limits, int batch) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.limits = limits;
    this.batch = batch;
  }

  /**
   * Re-dates device events stored before device times were checked that claim to lie more than
   * {@link EventLimits#maxAhead()} in the future: they are placed at the time this runs, keeping
   * their claim in {@code device_at}, so they stop heading every listing and age like the rest.
   *
   * @return how many were re-dated
   */
  public int repair() {
    Instant now = clock.instant();
    int n =
        jdbi.withHandle(
            h ->
                h.createUpdate(
                        "UPDATE device_events SET device_at = at, at = :now, received_at = :now"
                            + " WHERE at > :limit AND received_at IS NULL")
                    .bind("now", now.toEpochMilli())
                    .bind("limit", now.plus(limits.maxAhead()).toEpochMilli())
                    .execute());
    if (n > 0) {
      LOG.info("{} device events dated in the future were placed at {}", n, now);
    }
    return n;
  }

  /** Deletes what is older than the retention, then the oldest rows beyond the cap. */
  public Pruned prune() {
    long cutoff = clock.instant().minus(limits.retention()).toEpochMilli();
    long expired = 0;
    long overCap = 0;
    for (String table : TABLES) {
      int batches = 0;
      int n;
      do {
        n = delete(table, "WHERE at < " + cutoff, batch);
        expired += n;
      } while (n == batch && ++batches < MAX_BATCHES);
      long excess = count(table) - limits.maxRows();
      while (excess > 0 && batches++ < MAX_BATCHES) {
        n = delete(table, "", (int) Math.min(batch, excess));
        if (n == 0) {
          break;
        }
        overCap += n;
        excess -= n;
      }
    }
    Pruned p = new Pruned(expired, overCap);
    if (p.total() > 0) {
      LOG.info(
          "event log: {} events older than {} days and {} beyond {} rows per table deleted",
          expired,
          limits.retention().toDays(),
          overCap,
          limits.maxRows());
    }
    return p;
  }

  /** Deletes up to {@code limit} of the oldest rows that match; the (at) index finds them. */
  private int delete(String table, String where, int limit) {
    return jdbi.withHandle(
        h ->
            h.createUpdate(
                    "DELETE FROM "
                        + table
                        + " WHERE id IN (SELECT id FROM "
                        + table
                        + " "
                        + where
                        + " ORDER BY at LIMIT "
                        + limit
                        + ")")
                .execute());
  }

  private long count(String table) {
    return jdbi.withHandle(
        h -> h.createQuery("SELECT COUNT(*) FROM " + table).mapTo(Long.class).one());
  }
}
