package io.edgefleet.controller.rollouts;

import java.time.Instant;
import java.util.List;
import java.util.Map;
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
}
