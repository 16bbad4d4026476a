package io.edgefleet.controller.audit;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.health.TestClock;
import io.edgefleet.controller.pki.SigningKeys;
import io.edgefleet.controller.store.Database;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tamper-evident audit log: a row edited, deleted or inserted with raw SQL is found and named
 * by verification. Run on SQLite ({@code AuditLogTest}) and PostgreSQL ({@code
 * AuditLogPostgresIT}).
 */
abstract class AuditLogContract {
  static final Instant NOW = Instant.parse("2026-12-01T10:00:00Z");

  @TempDir Path dir;
  Database db;
  TestClock clock;
  SigningKeys keys;
  AuditLog audit;
  AuditVerifier verifier;

  abstract String databaseUrl(Path dataDir);

  @BeforeEach
  void open() {
    db = Database.open(databaseUrl(dir), null, null);
    clock = new TestClock(NOW);
    keys = SigningKeys.open(dir.resolve("keys"), clock);
    audit = log(3, Duration.ofHours(1));
    verifier = new AuditVerifier(audit);
  }

  @AfterEach
  void close() {
    db.close();
  }

  AuditLog log(int every, Duration interval) {
    return new AuditLog(
        db.jdbi(),
        clock,
        Optional.of(keys),
        AuditOptions.defaults().withCheckpoints(every, interval));
  }

  /** Records {@code n} entries, one a second, in their own transactions. */
  List<String> record(int n) {
    for (int i = 0; i < n; i++) {
      int k = i;
      db.jdbi()
          .useTransaction(
              h -> audit.record(h, "admin", "device.approve", "dev-" + k, Map.of("n", k)));
      clock.advance(Duration.ofSeconds(1));
    }
    return ids();
  }

  List<String> ids() {
    return db.jdbi()
        .withHandle(
            h -> h.createQuery("SELECT id FROM audit_log ORDER BY seq").mapTo(String.class).list());
  }

  void sql(String statement, Object... args) {
    db.jdbi()
        .useHandle(
            h -> {
              var u = h.createUpdate(statement);
              for (int i = 0; i < args.length; i++) {
                u.bind(i, args[i]);
              }
              u.execute();
            });
  }

  @Test
  void anUntouchedChainVerifiesWithItsCountsAndCheckpoints() {
    record(10);

    AuditVerifier.Result r = verifier.verify();

    assertThat(r.problem()).isNull();
    assertThat(r.ok()).isTrue();
    assertThat(r.entries()).isEqualTo(10);
    assertThat(r.headSeq()).isEqualTo(10);
    // the first entry (no checkpoint before it), then every 3: 1, 4, 7, 10
    assertThat(r.checkpoints()).isEqualTo(4);
    assertThat(r.lastCheckpointSeq()).isEqualTo(10);
    assertThat(audit.chained(0, 100))
        .extracting(AuditLog.ChainedEntry::seq)
        .containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L);
    assertThat(verifier.verify(5).entries()).isEqualTo(6);
  }

  /** A log that keeps entries {@code keep}, checkpointed every 3 entries. */
  AuditLog keeping(Duration keep, AuditOptions base) {
    return new AuditLog(
        db.jdbi(),
        clock,
        Optional.of(keys),
        base.withCheckpoints(3, Duration.ofHours(1)).withRetention(keep));
  }

  @Test
  void entriesPastTheRetentionGoUpToACheckpointAndTheRestStillVerifies() {
    audit = keeping(Duration.ofDays(30), AuditOptions.defaults());
    verifier = new AuditVerifier(audit);
    record(8); // seq 1..8, checkpoints at 1, 4, 7
    clock.advance(Duration.ofDays(40));
    record(4); // seq 9..12, checkpoint at 10
    AuditRetention retention = new AuditRetention(db.jdbi(), clock, audit);

    // Entries 1..8 are old; the newest checkpoint among them is 7: 1..7 go, 8 stays.
    assertThat(retention.prune()).isEqualTo(7);
    assertThat(audit.prunedThrough()).isEqualTo(7);
    assertThat(audit.chained(0, 100))
        .extracting(AuditLog.ChainedEntry::seq)
        .containsExactly(8L, 9L, 10L, 11L, 12L);
    AuditVerifier.Result r = verifier.verify();
    assertThat(r.problem()).isNull();
    assertThat(r.fromSeq()).isEqualTo(8);
    assertThat(r.entries()).isEqualTo(5);
    assertThat(retention.prune()).isZero();

    // What is left is as tamper-evident as before: an edit, and a forged anchor, are found.
    sql("UPDATE audit_log SET actor = 'mallory' WHERE seq = 9");
    assertThat(verifier.verify().problem().kind()).isEqualTo(AuditVerifier.Kind.EDITED);
    sql("UPDATE audit_log SET actor = 'admin' WHERE seq = 9");
    assertThat(verifier.verify().ok()).isTrue();
    sql("UPDATE audit_checkpoints SET hash = ? WHERE seq = 7", "0".repeat(64));
    assertThat(verifier.verify().problem().kind()).isEqualTo(AuditVerifier.Kind.CHECKPOINT_INVALID);
    sql("DELETE FROM audit_checkpoints WHERE seq = 7");
    AuditVerifier.Problem missing = verifier.verify().problem();
    assertThat(missing.kind()).isEqualTo(AuditVerifier.Kind.DELETED);
    assertThat(missing.message()).contains("checkpoint 7");
  }

  @Test
  void entriesASinkHasNotTakenAreKeptPastTheRetention() {
    audit =
        keeping(
            Duration.ofDays(30),
            AuditOptions.defaults().withWebhook(java.net.URI.create("https://siem.example/in")));
    verifier = new AuditVerifier(audit);
    record(8);
    clock.advance(Duration.ofDays(40));
    record(1);
    AuditRetention retention = new AuditRetention(db.jdbi(), clock, audit);
    assertThat(retention.prune()).isZero();

    sql("INSERT INTO audit_sink_cursors (sink, seq, updated_at) VALUES ('webhook', 5, 0)");
    // Taken up to 5: the newest checkpoint up to it is 4.
    assertThat(retention.prune()).isEqualTo(4);
    assertThat(verifier.verify().ok()).isTrue();
  }

  @Test
  void withoutARetentionNothingIsDeleted() {
    record(5);
    clock.advance(Duration.ofDays(3650));
    assertThat(new AuditRetention(db.jdbi(), clock, audit).prune()).isZero();
    assertThat(ids()).hasSize(5);
  }

  @Test
  void verificationPagesThroughALongChain() {
    audit = log(700, Duration.ofHours(1));
    verifier = new AuditVerifier(audit);
    int n = 2 * AuditVerifier.PAGE + 500;
    db.jdbi()
        .useTransaction(
            h -> {
              for (int i = 0; i < n; i++) {
                audit.record(h, "admin", "x", "t", Map.of("i", i));
              }
            });

    AuditVerifier.Result r = verifier.verify();
    assertThat(r.problem()).isNull();
    assertThat(r.entries()).isEqualTo(n);
    assertThat(r.checkpoints()).isEqualTo(4); // 1, 701, 1401, 2101

    // A deletion right after a page boundary, and one deep in a later page.
    sql("DELETE FROM audit_log WHERE seq = ?", AuditVerifier.PAGE + 1);
    assertThat(verifier.verify().problem().message())
        .isEqualTo(
            "entry after "
                + AuditVerifier.PAGE
                + " is missing (seq "
                + (AuditVerifier.PAGE + 1)
                + " deleted)");
    assertThat(verifier.verify(AuditVerifier.PAGE + 3).ok()).isTrue();
    assertThat(verifier.verify(AuditVerifier.PAGE + 2).problem().message())
        .isEqualTo(
            "entry "
                + (AuditVerifier.PAGE + 1)
                + " (the one before --from) is missing: it was deleted");
    sql("UPDATE audit_log SET detail = '{}' WHERE seq = 2400");
    assertThat(verifier.verify(AuditVerifier.PAGE + 3).problem().seq()).isEqualTo(2400);
  }

  @Test
  void aSinkCursorOnlyMovesForwardFromWhereItWasRead() {
    assertThat(audit.sinkCursor("webhook")).isZero();
    assertThat(audit.advanceSinkCursor("webhook", 0, 100)).isTrue();
    assertThat(audit.advanceSinkCursor("webhook", 0, 50)).isFalse();
    assertThat(audit.advanceSinkCursor("webhook", 100, 200)).isTrue();
    assertThat(audit.advanceSinkCursor("webhook", 100, 150)).isFalse();
    assertThat(audit.sinkCursor("webhook")).isEqualTo(200);
    assertThat(audit.sinkCursor("syslog")).isZero();
  }

  @Test
  void aHandEditedRowIsNamed() {
    List<String> ids = record(6);

    sql("UPDATE audit_log SET actor = 'mallory' WHERE id = ?", ids.get(3));

    AuditVerifier.Result r = verifier.verify();
    assertThat(r.ok()).isFalse();
    assertThat(r.problem().kind()).isEqualTo(AuditVerifier.Kind.EDITED);
    assertThat(r.problem().seq()).isEqualTo(4);
    assertThat(r.problem().message())
        .isEqualTo("entry 4 (" + ids.get(3) + ") was edited: its hash does not match");
  }

  @Test
  void anEditedRowWhoseHashWasRecomputedIsCaughtByTheNextEntry() {
    List<String> ids = record(6); // checkpoints at 1 and 4
    AuditLog.ChainedEntry e = audit.chainedAt(5).orElseThrow();
    AuditLog.ChainedEntry forged =
        new AuditLog.ChainedEntry(
            5, e.id(), e.at(), "mallory", e.action(), e.target(), e.detail(), e.prev(), "");
    sql(
        "UPDATE audit_log SET actor = 'mallory', hash = ? WHERE id = ?",
        AuditChain.hash(e.prev(), forged),
        ids.get(4));

    AuditVerifier.Problem p = verifier.verify().problem();

    assertThat(p.seq()).isEqualTo(6);
    assertThat(p.message()).startsWith("entry 6 (" + ids.get(5) + ") does not follow entry 5");
  }

  @Test
  void aDeletedRowIsNamed() {
    List<String> ids = record(6);

    sql("DELETE FROM audit_log WHERE id = ?", ids.get(3));

    AuditVerifier.Problem p = verifier.verify().problem();
    assertThat(p.kind()).isEqualTo(AuditVerifier.Kind.DELETED);
    assertThat(p.message()).isEqualTo("entry after 3 is missing (seq 4 deleted)");
  }

  @Test
  void anInsertedRowWithoutASequenceNumberIsNamed() {
    record(4);

    sql(
        "INSERT INTO audit_log (id, at, actor, action, target, detail)"
            + " VALUES ('aud-forged', 1, 'admin', 'device.approve', 'dev-x', '{}')");

    AuditVerifier.Problem p = verifier.verify().problem();
    assertThat(p.kind()).isEqualTo(AuditVerifier.Kind.INSERTED);
    assertThat(p.id()).isEqualTo("aud-forged");
    assertThat(p.message()).startsWith("entry aud-forged was inserted");
  }

  @Test
  void anInsertedRowWithAWellFormedHashAfterTheHeadIsNamed() {
    record(4);
    AuditLog.ChainedEntry last = audit.chainedAt(4).orElseThrow();
    long at = clock.millis();
    String hash =
        AuditChain.hash(
            last.hash(),
            AuditChain.canonical(5, "aud-forged", at, "admin", "secret.read", "db", "{}"));
    sql(
        "INSERT INTO audit_log (id, at, actor, action, target, detail, seq, prev_hash, hash)"
            + " VALUES ('aud-forged', ?, 'admin', 'secret.read', 'db', '{}', 5, ?, ?)",
        at,
        last.hash(),
        hash);

    AuditVerifier.Problem p = verifier.verify().problem();
    assertThat(p.kind()).isEqualTo(AuditVerifier.Kind.INSERTED);
    assertThat(p.message())
        .isEqualTo("entry aud-forged at seq 5 was inserted: the chain head is at seq 4");
  }

  @Test
  void anEntryReplacedInTheMiddleIsNamed() {
    List<String> ids = record(6);
    AuditLog.ChainedEntry e = audit.chainedAt(3).orElseThrow();
    sql("DELETE FROM audit_log WHERE id = ?", ids.get(2));
    sql(
        "INSERT INTO audit_log (id, at, actor, action, target, detail, seq, prev_hash, hash)"
            + " VALUES ('aud-forged', ?, 'admin', 'secret.read', 'db', '{}', 3, ?, ?)",
        e.at().toEpochMilli(),
        "0".repeat(64),
        "1".repeat(64));

    AuditVerifier.Problem p = verifier.verify().problem();
    assertThat(p.kind()).isEqualTo(AuditVerifier.Kind.INSERTED);
    assertThat(p.seq()).isEqualTo(3);
    assertThat(p.message()).startsWith("entry 3 (aud-forged) does not follow entry 2");
  }

  @Test
  void deletingTheNewestEntriesAndRewritingTheHeadIsCaughtByTheLatestCheckpoint() {
    record(8); // checkpoints at 1, 4, 7
    AuditLog.ChainedEntry fifth = audit.chainedAt(5).orElseThrow();
    sql("DELETE FROM audit_log WHERE seq > 5");
    sql("UPDATE audit_chain SET seq = 5, head = ? WHERE id = 1", fifth.hash());

    AuditVerifier.Problem p = verifier.verify().problem();
    assertThat(p.kind()).isEqualTo(AuditVerifier.Kind.TRUNCATED);
    assertThat(p.message()).startsWith("entries after 5 are missing: checkpoint 7");
  }

  @Test
  void deletingTheNewestEntriesWithoutRewritingTheHeadIsCaught() {
    record(8);
    sql("DELETE FROM audit_log WHERE seq = 8");

    AuditVerifier.Problem p = verifier.verify().problem();
    assertThat(p.kind()).isEqualTo(AuditVerifier.Kind.TRUNCATED);
    assertThat(p.message())
        .isEqualTo("entries after 7 are missing: the chain head is at seq 8 (seq 8 to 8 deleted)");
  }

  @Test
  void aRewrittenChainIsCaughtByACheckpoint() {
    record(6); // checkpoints at 1 and 4
    // Rewrite entry 2 and re-hash everything after it, head included: only the checkpoint holds.
    sql("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2");
    String prev = audit.chainedAt(1).orElseThrow().hash();
    for (long s = 2; s <= 6; s++) {
      AuditLog.ChainedEntry e = audit.chainedAt(s).orElseThrow();
      String hash = AuditChain.hash(prev, e);
      sql("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?", prev, hash, s);
      prev = hash;
    }
    sql("UPDATE audit_chain SET head = ? WHERE id = 1", prev);

    AuditVerifier.Problem p = verifier.verify().problem();
    assertThat(p.kind()).isEqualTo(AuditVerifier.Kind.CHECKPOINT_MISMATCH);
    assertThat(p.seq()).isEqualTo(4);
    assertThat(p.message()).startsWith("checkpoint 4 does not match entry 4");
  }

  @Test
  void aForgedCheckpointSignatureIsNamed() {
    record(6);
    sql("UPDATE audit_checkpoints SET at = at + 1 WHERE seq = 4");

    AuditVerifier.Problem p = verifier.verify().problem();
    assertThat(p.kind()).isEqualTo(AuditVerifier.Kind.CHECKPOINT_INVALID);
    assertThat(p.message()).startsWith("checkpoint 4 signature invalid");
  }

  @Test
  void aQuietLogIsCheckpointedAfterTheInterval() {
    audit = log(1000, Duration.ofMinutes(10));
    verifier = new AuditVerifier(audit);
    record(3);
    assertThat(audit.latestCheckpoint()).map(AuditLog.Checkpoint::seq).contains(1L);
    assertThat(audit.checkpointIfDue()).isFalse();

    clock.advance(Duration.ofMinutes(10));

    assertThat(audit.checkpointIfDue()).isTrue();
    assertThat(audit.latestCheckpoint()).map(AuditLog.Checkpoint::seq).contains(3L);
    assertThat(audit.checkpointIfDue()).isFalse();
    assertThat(verifier.verify().checkpoints()).isEqualTo(2);
  }

  @Test
  void entriesWrittenBeforeTheChainAreChainedOnceInTimeOrder() {
    sql(
        "INSERT INTO audit_log (id, at, actor, action, target, detail)"
            + " VALUES ('aud-b', 200, 'admin', 'x', 't', '{}'), ('aud-a', 200, 'admin', 'x', 't',"
            + " '{}'), ('aud-c', 100, 'admin', 'x', 't', '{}')");

    audit.chainExisting();
    record(1);

    assertThat(ids()).containsExactly("aud-c", "aud-a", "aud-b", ids().get(3));
    assertThat(verifier.verify().ok()).isTrue();
    // Later rows without a seq are not adopted: they count as inserted.
    sql(
        "INSERT INTO audit_log (id, at, actor, action, target, detail)"
            + " VALUES ('aud-late', 300, 'admin', 'x', 't', '{}')");
    audit.chainExisting();
    assertThat(verifier.verify().problem().id()).isEqualTo("aud-late");
  }

  @Test
  void aRolledBackChangeLeavesNoGap() {
    record(2);
    try {
      db.jdbi()
          .useTransaction(
              h -> {
                audit.record(h, "admin", "x", "t", Map.of());
                throw new IllegalStateException("the change failed");
              });
    } catch (IllegalStateException expected) {
      // rolled back
    }
    record(1);

    assertThat(verifier.verify().ok()).isTrue();
    assertThat(audit.head().seq()).isEqualTo(3);
  }

  @Test
  void concurrentWritersMakeAnExactChain() throws Exception {
    int threads = 8;
    int each = 40;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<?>> done = new ArrayList<>();
    try {
      for (int t = 0; t < threads; t++) {
        int thread = t;
        done.add(
            pool.submit(
                (Callable<Void>)
                    () -> {
                      go.await();
                      for (int i = 0; i < each; i++) {
                        int k = i;
                        db.jdbi()
                            .useTransaction(
                                h -> audit.record(h, "t" + thread, "x", "n" + k, Map.of("i", k)));
                      }
                      return null;
                    }));
      }
      go.countDown();
      // Verifying while entries are being added finds nothing wrong: entries committed after the
      // walk began are neither inserted nor missing.
      List<AuditVerifier.Problem> seen = new ArrayList<>();
      int rounds = 0;
      while (!done.stream().allMatch(Future::isDone) || rounds == 0) {
        AuditVerifier.Result during = verifier.verify();
        if (during.problem() != null) {
          seen.add(during.problem());
        }
        rounds++;
      }
      for (Future<?> f : done) {
        f.get();
      }
      assertThat(seen).isEmpty();
    } finally {
      pool.shutdownNow();
    }

    AuditVerifier.Result r = verifier.verify();
    assertThat(r.problem()).isNull();
    assertThat(r.entries()).isEqualTo(threads * each);
    assertThat(r.headSeq()).isEqualTo(threads * each);
    long distinct =
        db.jdbi()
            .withHandle(
                h ->
                    h.createQuery("SELECT COUNT(DISTINCT seq) FROM audit_log")
                        .mapTo(Long.class)
                        .one());
    assertThat(distinct).isEqualTo((long) threads * each);
  }
}
