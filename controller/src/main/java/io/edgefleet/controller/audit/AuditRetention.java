package io.edgefleet.controller.audit;

import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes audit entries older than the retention ({@link AuditOptions#retention()}) without
 * breaking the chain's proof. Entries go only up to a signed checkpoint C, and only once every
 * configured sink (webhook, syslog) has taken them: C becomes {@code pruned_through}, and its
 * checkpoint, which is kept, anchors the verification of the entries after it ({@link
 * AuditVerifier}). Checkpoints before C go too.
 *
 * <p>The anchor is written first, then entries are deleted oldest first in batches of {@link
 * #BATCH}, each its own transaction, at most {@link #MAX_BATCHES} per pass, so a pass never holds
 * the database for long and a pass cut short is finished by the next. Thread-safe (stateless
 * between calls).
 */
public final class AuditRetention {
  private static final Logger LOG = LoggerFactory.getLogger(AuditRetention.class);

  /** Entries per delete. */
  static final int BATCH = 5_000;

  /** Deletes per pass at most. */
  static final int MAX_BATCHES = 100;

  private final Jdbi jdbi;
  private final Clock clock;
  private final AuditLog log;
  private final AuditOptions options;

  public AuditRetention(Jdbi jdbi, Clock clock, AuditLog log) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.log = log;
    this.options = log.options();
  }

  /**
   * One pass.
   *
   * @return how many entries it deleted
   */
  public long prune() {
    if (options.retention().isEmpty()) {
      return 0;
    }
    Duration keep = options.retention().get();
    long cutoff = clock.millis() - keep.toMillis();
    Optional<Long> old =
        jdbi.withHandle(
            h ->
                h.createQuery(
                        "SELECT MAX(seq) FROM audit_log WHERE seq IS NOT NULL AND at < :cutoff")
                    .bind("cutoff", cutoff)
                    .mapTo(Long.class)
                    .findOne());
    if (old.isEmpty() || old.get() == null) {
      return 0;
    }
    long bound = old.get();
    for (String sink : options.sinkNames()) {
      bound = Math.min(bound, log.sinkCursor(sink));
    }
    Optional<AuditLog.Checkpoint> anchor = log.latestCheckpoint(bound);
    long pruned = log.prunedThrough();
    if (anchor.isEmpty() || anchor.get().seq() <= pruned) {
      // Deletes a pass cut short left undone.
      return pruned > 0 ? delete(pruned) : 0;
    }
    long through = anchor.get().seq();
    jdbi.useTransaction(
        h -> {
          h.createUpdate(
                  "UPDATE audit_chain SET pruned_through = :c WHERE id = 1 AND pruned_through < :c")
              .bind("c", through)
              .execute();
          h.createUpdate("DELETE FROM audit_checkpoints WHERE seq < :c")
              .bind("c", through)
              .execute();
        });
    long deleted = delete(through);
    LOG.info(
        "audit entries through seq {} were older than {} and taken by every sink: {} deleted",
        through,
        keep,
        deleted);
    return deleted;
  }

  private long delete(long through) {
    long deleted = 0;
    for (int i = 0; i < MAX_BATCHES; i++) {
      int n =
          jdbi.withHandle(
              h ->
                  h.createUpdate(
                          "DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log WHERE seq"
                              + " <= :c ORDER BY seq LIMIT :batch)")
                      .bind("c", through)
                      .bind("batch", BATCH)
                      .execute());
      deleted += n;
      if (n < BATCH) {
        break;
      }
    }
    return deleted;
  }
}
