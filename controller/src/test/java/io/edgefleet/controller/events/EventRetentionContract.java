package io.edgefleet.controller.events;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.Ids;
import io.edgefleet.controller.health.TestClock;
import io.edgefleet.controller.store.Database;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.jdbi.v3.core.statement.PreparedBatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The device side of the event log stays within its retention and size, deleted oldest first in
 * batches; the audit log is not touched. Run on SQLite ({@code EventRetentionTest}) and PostgreSQL
 * ({@code EventRetentionPostgresIT}).
 */
abstract class EventRetentionContract {
  static final Instant NOW = Instant.parse("2026-11-23T01:00:00Z");

  @TempDir Path dir;
  Database db;
  TestClock clock;

  abstract String databaseUrl(Path dataDir);

  @BeforeEach
  void open() {
    db = Database.open(databaseUrl(dir), null, null);
    clock = new TestClock(NOW);
  }

  @AfterEach
  void close() {
    db.close();
  }

  @Test
  void eventsOlderThanTheRetentionArePrunedInBatchesFromBothTables() {
    // Device events and app/health changes of 40, 31, 29 and 1 days ago, 5 of each.
    for (int daysAgo : new int[] {40, 31, 29, 1}) {
      insert("device_events", 5, NOW.minus(Duration.ofDays(daysAgo)));
      insert("fleet_events", 5, NOW.minus(Duration.ofDays(daysAgo)));
    }
    // An audit entry of 60 days ago stays.
    clock.set(NOW.minus(Duration.ofDays(60)));
    AuditLog audit = new AuditLog(db.jdbi(), clock);
    db.jdbi().useHandle(h -> audit.record(h, "admin", "device.approve", "d1", Map.of()));
    clock.set(NOW);
    EventRetention retention =
        new EventRetention(
            db.jdbi(), clock, EventLimits.defaults().withRetention(Duration.ofDays(30)), 3);

    EventRetention.Pruned pruned = retention.prune();

    assertThat(pruned.expired()).isEqualTo(20);
    assertThat(pruned.overCap()).isZero();
    assertThat(ages("device_events")).containsOnly(29L, 1L).hasSize(10);
    assertThat(ages("fleet_events")).containsOnly(29L, 1L).hasSize(10);
    assertThat(count("audit_log")).isEqualTo(1);

    clock.advance(Duration.ofDays(2));
    assertThat(retention.prune().expired()).isEqualTo(10);
    assertThat(retention.prune().total()).as("nothing left to do").isZero();
  }

  @Test
  void theOldestRowsGoWhenATableHoldsMoreThanItsCap() {
    insert("device_events", 1_030, NOW.minus(Duration.ofDays(2)));
    insert("device_events", 20, NOW.minus(Duration.ofDays(1)));
    insert("fleet_events", 999, NOW.minus(Duration.ofDays(3)));
    EventRetention retention =
        new EventRetention(db.jdbi(), clock, EventLimits.defaults().withMaxRows(1_000), 16);

    EventRetention.Pruned pruned = retention.prune();

    assertThat(pruned).isEqualTo(new EventRetention.Pruned(0, 50));
    assertThat(count("device_events")).isEqualTo(1_000);
    assertThat(ages("device_events").stream().filter(a -> a == 1L)).hasSize(20);
    assertThat(count("fleet_events")).isEqualTo(999);
  }

  @Test
  void deviceEventsStoredUnderAFutureDateBeforeTimesWereCheckedAreReDatedOnce() {
    long future = Instant.parse("9999-12-31T00:00:00Z").toEpochMilli();
    db.jdbi()
        .useHandle(
            h -> {
              h.execute(
                  "INSERT INTO device_events (id, device_id, at, kind, message) VALUES"
                      + " ('evt-old', 'd1', ?, 'forged', 'from the future')",
                  future);
              h.execute(
                  "INSERT INTO device_events (id, device_id, at, kind, message, received_at)"
                      + " VALUES ('evt-ok', 'd1', ?, 'k', 'a minute ahead', ?)",
                  NOW.plusSeconds(60).toEpochMilli(),
                  NOW.toEpochMilli());
            });
    EventRetention retention = new EventRetention(db.jdbi(), clock, EventLimits.defaults());

    assertThat(retention.repair()).isEqualTo(1);
    assertThat(retention.repair()).isZero();
    Map<String, Object> row =
        db.jdbi()
            .withHandle(
                h ->
                    h.createQuery(
                            "SELECT at, device_at, received_at FROM device_events WHERE id ="
                                + " 'evt-old'")
                        .map(
                            (rs, ctx) ->
                                Map.<String, Object>of(
                                    "at", rs.getLong(1),
                                    "deviceAt", rs.getLong(2),
                                    "receivedAt", rs.getLong(3)))
                        .one());
    assertThat(row)
        .containsEntry("at", NOW.toEpochMilli())
        .containsEntry("deviceAt", future)
        .containsEntry("receivedAt", NOW.toEpochMilli());
  }

  void insert(String table, int n, Instant at) {
    db.jdbi()
        .useTransaction(
            h -> {
              PreparedBatch b =
                  h.prepareBatch(
                      table.equals("device_events")
                          ? "INSERT INTO device_events (id, device_id, at, kind, message,"
                              + " received_at) VALUES (:id, 'd1', :at, 'k', 'm', :at)"
                          : "INSERT INTO fleet_events (id, device_id, source, at, kind,"
                              + " severity, message) VALUES (:id, 'd1', 'app', :at, 'READY',"
                              + " 'info', 'm')");
              for (int i = 0; i < n; i++) {
                b.bind("id", Ids.next("t")).bind("at", at.toEpochMilli()).add();
              }
              b.execute();
            });
  }

  long count(String table) {
    return db.jdbi()
        .withHandle(h -> h.createQuery("SELECT COUNT(*) FROM " + table).mapTo(Long.class).one());
  }

  /** Age in days of every row. */
  List<Long> ages(String table) {
    return db.jdbi()
        .withHandle(
            h ->
                h.createQuery("SELECT at FROM " + table)
                    .mapTo(Long.class)
                    .map(at -> Duration.ofMillis(clock.millis() - at).toDays())
                    .list());
  }
}
