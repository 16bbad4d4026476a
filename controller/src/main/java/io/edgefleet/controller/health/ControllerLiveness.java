package io.edgefleet.controller.health;

import io.edgefleet.controller.events.FleetEvents;
import io.edgefleet.protocol.Durations;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The controller's own liveness ({@code controller_liveness}): when it started and when it was last
 * alive, written every {@link #BEAT} while it runs. On start it reads when it last ran and records
 * one fleet event {@code controller-down} for the gap. While the controller is stopped, connected
 * devices lose their connection and their heartbeats go unheard, which is not the devices' doing: a
 * device whose offline time began while the controller last ran, or later, counts as offline no
 * earlier than the start plus a grace for reconnecting ({@link #offlineSince}). Thread-safe.
 */
public final class ControllerLiveness {
  /** How often the controller writes that it is alive. */
  public static final Duration BEAT = Duration.ofSeconds(15);

  /** The source and kind of the fleet event recording the controller's absence. */
  public static final String SOURCE = "controller";

  public static final String DOWN = "controller-down";

  private static final String ID = "controller";
  private static final Logger LOG = LoggerFactory.getLogger(ControllerLiveness.class);

  private final Jdbi jdbi;
  private final Clock clock;
  private final Instant startedAt;
  private final Optional<Instant> lastAlive;
  private final Duration grace;

  private ControllerLiveness(
      Jdbi jdbi, Clock clock, Instant startedAt, Optional<Instant> lastAlive, Duration grace) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.startedAt = startedAt;
    this.lastAlive = lastAlive;
    this.grace = grace;
  }

  /**
   * Records that the controller starts now: reads when it was last alive and, if it ran before,
   * records that it was down from then until now.
   *
   * @param grace how long devices have to reconnect after the start before their offline time
   *     counts (the offline-after duration)
   */
  public static ControllerLiveness start(Jdbi jdbi, Clock clock, Duration grace) {
    Instant now = clock.instant();
    Optional<Instant> last =
        jdbi.inTransaction(
            h -> {
              Optional<Instant> previous =
                  h.createQuery("SELECT alive_at FROM controller_liveness WHERE id = :id")
                      .bind("id", ID)
                      .mapTo(Long.class)
                      .findOne()
                      .map(Instant::ofEpochMilli);
              int updated =
                  h.createUpdate(
                          "UPDATE controller_liveness SET started_at = :now, alive_at = :now"
                              + " WHERE id = :id")
                      .bind("now", now.toEpochMilli())
                      .bind("id", ID)
                      .execute();
              if (updated == 0) {
                h.createUpdate(
                        "INSERT INTO controller_liveness (id, started_at, alive_at) VALUES (:id,"
                            + " :now, :now)")
                    .bind("id", ID)
                    .bind("now", now.toEpochMilli())
                    .execute();
              }
              if (previous.isPresent() && previous.get().isBefore(now)) {
                FleetEvents events = FleetEvents.batch(h, SOURCE);
                events.add(
                    "",
                    now.toEpochMilli(),
                    DOWN,
                    "warning",
                    null,
                    down(previous.get(), now, grace));
                events.store();
              }
              return previous;
            });
    return new ControllerLiveness(jdbi, clock, now, last, grace);
  }

  static String down(Instant from, Instant to, Duration grace) {
    return "controller was down from "
        + from
        + " to "
        + to
        + " ("
        + Durations.human(Duration.between(from, to))
        + "); devices' offline time counts from "
        + to.plus(grace)
        + ", so devices that reconnect by then raise no offline alert";
  }

  /** Writes that the controller is alive now; called every {@link #BEAT}. */
  public void beat() {
    try {
      jdbi.useHandle(
          h ->
              h.createUpdate("UPDATE controller_liveness SET alive_at = :now WHERE id = :id")
                  .bind("now", clock.millis())
                  .bind("id", ID)
                  .execute());
    } catch (RuntimeException e) {
      // The next beat tries again; a missed one only makes a later restart's gap look longer.
      LOG.warn("controller liveness not recorded: {}", e.toString());
    }
  }

  public Instant startedAt() {
    return startedAt;
  }

  /** When the controller was last alive before this start; empty on its first start. */
  public Optional<Instant> lastAlive() {
    return lastAlive;
  }

  /** When a device's offline time counts from, given when it was last heard from. */
  public Instant offlineSince(Instant since) {
    return offlineSince(since, startedAt, lastAlive, grace);
  }

  /**
   * When a device offline since {@code since} counts as offline from: a device already offline
   * while the controller last ran (silent for longer than the grace by then) keeps its time; one
   * that went silent later, or whose time is unknown because the controller never recorded its
   * liveness, counts from {@code started + grace} at the earliest.
   */
  static Instant offlineSince(
      Instant since, Instant started, Optional<Instant> lastAlive, Duration grace) {
    if (since == null) {
      return null;
    }
    Instant notBefore = started.plus(grace);
    if (!since.isBefore(notBefore)) {
      return since;
    }
    boolean awayBefore = lastAlive.map(a -> since.isBefore(a.minus(grace))).orElse(false);
    return awayBefore ? since : notBefore;
  }
}
