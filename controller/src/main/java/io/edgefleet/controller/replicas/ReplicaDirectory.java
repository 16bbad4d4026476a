package io.edgefleet.controller.replicas;

import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The controller replicas sharing one database, and the internal URL each is reached at: every
 * replica {@link #beat() registers} itself every few seconds, and a replica silent for longer than
 * the timeout is no longer {@link #live(String) live} (its row is ignored, then removed). A replica
 * that stops cleanly {@link #leave() leaves} at once.
 *
 * <p>Thread-safe. A failed database call is logged and retried at the next beat; lookups then
 * answer from what the database held, never from a guess.
 */
public final class ReplicaDirectory {
  private static final Logger LOG = LoggerFactory.getLogger(ReplicaDirectory.class);

  /** How often a replica registers itself. */
  public static final Duration BEAT = Duration.ofSeconds(3);

  /** Silence after which a replica counts as gone: a few missed beats. */
  public static final Duration TIMEOUT = Duration.ofSeconds(15);

  /** Rows this much older than the timeout are deleted by the next beat of any replica. */
  static final Duration FORGET_AFTER = Duration.ofHours(1);

  private final Jdbi jdbi;
  private final Clock clock;
  private final String name;
  private final Supplier<String> url;
  private final Duration timeout;

  /**
   * @param name this replica's name, as {@code devices.Presence} writes it for its devices
   * @param url this replica's internal URL; read at each beat (it is known once the port is bound)
   * @param timeout silence after which a replica is not live
   */
  public ReplicaDirectory(
      Jdbi jdbi, Clock clock, String name, Supplier<String> url, Duration timeout) {
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("the timeout must be positive");
    }
    this.jdbi = jdbi;
    this.clock = clock;
    this.name = name;
    this.url = url;
    this.timeout = timeout;
  }

  /** This replica's name. */
  public String name() {
    return name;
  }

  /**
   * Registers this replica as alive now, with its current URL, and removes rows of replicas gone
   * for long. Idempotent.
   *
   * @return whether the row was written
   */
  public boolean beat() {
    String here = url.get();
    if (here.isBlank()) {
      return false;
    }
    URI checked = URI.create(here);
    long now = clock.millis();
    try {
      jdbi.useTransaction(
          h -> {
            h.createUpdate(
                    "INSERT INTO controller_replicas (name, url, heartbeat_at)"
                        + " VALUES (:name, :url, :now)"
                        + " ON CONFLICT (name) DO UPDATE SET url = excluded.url,"
                        + " heartbeat_at = excluded.heartbeat_at")
                .bind("name", name)
                .bind("url", checked.toString())
                .bind("now", now)
                .execute();
            h.createUpdate("DELETE FROM controller_replicas WHERE heartbeat_at < :before")
                .bind("before", now - timeout.plus(FORGET_AFTER).toMillis())
                .execute();
          });
      return true;
    } catch (RuntimeException e) {
      LOG.warn(
          "registering replica {} in the directory failed; will retry: {}", name, e.toString());
      return false;
    }
  }

  /** Removes this replica from the directory, as it stops. */
  public void leave() {
    try {
      jdbi.useHandle(
          h ->
              h.createUpdate("DELETE FROM controller_replicas WHERE name = :name")
                  .bind("name", name)
                  .execute());
    } catch (RuntimeException e) {
      LOG.warn("replica {} could not leave the directory: {}", name, e.toString());
    }
  }

  /** The named replica, if it said it was alive within the timeout. */
  public Optional<Replica> live(String replica) {
    long since = clock.millis() - timeout.toMillis();
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT name, url, heartbeat_at FROM controller_replicas"
                        + " WHERE name = :name AND heartbeat_at >= :since")
                .bind("name", replica)
                .bind("since", since)
                .map(
                    (rs, ctx) ->
                        new Replica(
                            rs.getString(1),
                            URI.create(rs.getString(2)),
                            Instant.ofEpochMilli(rs.getLong(3))))
                .findOne());
  }

  /** Every live replica, by name. */
  public List<Replica> live() {
    long since = clock.millis() - timeout.toMillis();
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT name, url, heartbeat_at FROM controller_replicas"
                        + " WHERE heartbeat_at >= :since ORDER BY name")
                .bind("since", since)
                .map(
                    (rs, ctx) ->
                        new Replica(
                            rs.getString(1),
                            URI.create(rs.getString(2)),
                            Instant.ofEpochMilli(rs.getLong(3))))
                .list());
  }
}
