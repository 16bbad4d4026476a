package io.edgefleet.controller.events;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.desired.AppStatusService;
import io.edgefleet.controller.devices.DeviceService;
import io.edgefleet.controller.devices.DeviceStatuses;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.Presence;
import io.edgefleet.controller.devices.TestDevices;
import io.edgefleet.controller.health.TestClock;
import io.edgefleet.controller.rollouts.RolloutEventSource;
import io.edgefleet.controller.rollouts.RolloutReads;
import io.edgefleet.controller.store.Database;
import io.edgefleet.controller.telemetry.TelemetryIngest;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.Telemetry;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What devices may put into the event log: times their clocks cannot be trusted for are placed at
 * arrival, and each device has an allowance of events; live events over it are dropped and
 * summarised, outbox records over it wait on the device. Run on SQLite ({@code DeviceEventsTest})
 * and PostgreSQL ({@code DeviceEventsPostgresIT}).
 */
abstract class DeviceEventsContract {
  static final Instant NOW = Instant.parse("2026-11-23T01:00:00Z");
  static final Instant YEAR_9999 = Instant.parse("9999-12-31T23:00:00Z");
  static final Instant YEAR_1970 = Instant.parse("1970-01-01T00:00:00Z");

  @TempDir Path dir;
  Database db;
  TestClock clock;
  DeviceEvents gate;
  TelemetryIngest ingest;
  AppStatusService apps;
  EventLog log;

  abstract String databaseUrl(Path dataDir);

  @BeforeEach
  void open() {
    db = Database.open(databaseUrl(dir), null, null);
    clock = new TestClock(NOW);
    gate = new DeviceEvents(db.jdbi(), clock, EventLimits.defaults());
    ingest = new TelemetryIngest(db.jdbi(), clock, gate);
    apps = new AppStatusService(db.jdbi(), clock, id -> null);
    AuditLog audit = new AuditLog(db.jdbi(), clock);
    Presence presence = new Presence(db.jdbi(), clock);
    DeviceService devices =
        new DeviceService(
            db.jdbi(),
            clock,
            new DeviceStore(),
            presence,
            null,
            audit,
            new DeviceStatuses(clock, presence, Duration.ofSeconds(90)),
            (id, reason) -> {},
            (d, status, now) -> status,
            id -> {});
    log =
        new EventLog(
            db.jdbi(), clock, devices, new RolloutEventSource(new RolloutReads(db.jdbi())), audit);
    TestDevices.insertActive(db.jdbi(), "d1", Map.of(), NOW.minusSeconds(3600));
    TestDevices.insertActive(db.jdbi(), "d2", Map.of(), NOW.minusSeconds(3600));
  }

  @AfterEach
  void close() {
    db.close();
  }

  @Test
  void eventsDatedInTheYear9999Or1970ArePlacedWhenTheyArriveAndKeepTheDevicesClaim() {
    gate.record("d1", new AgentMessage.Event("forged", "live from the future", YEAR_9999));
    gate.record("d1", new AgentMessage.Event("forged", "live from 1970", YEAR_1970));
    long upTo =
        ingest.batch(
            "d1",
            List.of(
                new Telemetry.DeviceEvent(1, YEAR_9999, "forged", "info", null, "outbox future"),
                new Telemetry.DeviceEvent(2, YEAR_1970, "forged", "info", null, "outbox 1970"),
                new Telemetry.Loss(3, YEAR_9999, 2, "outbox full")));
    assertThat(upTo).isEqualTo(3);
    assertThat(ingest.refused()).isZero();
    assertThat(gate.skewed()).isEqualTo(5);

    // Nothing is stored at the times claimed; every claim is kept.
    assertThat(rows("SELECT COUNT(*) FROM device_events WHERE at <> " + NOW.toEpochMilli()))
        .isZero();
    assertThat(rows("SELECT COUNT(*) FROM device_events WHERE device_at IS NOT NULL")).isEqualTo(5);

    // A minute later an honest event is the newest: the forged ones do not stay on top.
    clock.advance(Duration.ofMinutes(1));
    gate.record("d1", new AgentMessage.Event("honest", "now", clock.instant()));
    List<AppStatusService.DeviceEvent> newest = apps.events("d1", 10);
    assertThat(newest.getFirst().kind()).isEqualTo("honest");
    assertThat(newest.getFirst().deviceAt()).isNull();
    assertThat(newest)
        .filteredOn(e -> e.kind().equals("forged"))
        .allSatisfy(e -> assertThat(e.at()).isEqualTo(NOW))
        .extracting(AppStatusService.DeviceEvent::deviceAt)
        .containsOnly(YEAR_9999, YEAR_1970);

    clock.advance(EventLog.SETTLE);
    EventLog.Page page =
        log.list(
            new EventLog.Request(
                Optional.of("d1"), Optional.empty(), Optional.empty(), Optional.empty(), 100));
    assertThat(page.items()).hasSize(6);
    assertThat(page.items().getLast().kind()).isEqualTo("honest");
    assertThat(page.items())
        .filteredOn(e -> e.kind().equals("forged"))
        .extracting(EventLog.Event::deviceAt)
        .containsOnly(YEAR_9999, YEAR_1970);
    // A follower who started before sees them too: they were recorded when they arrived.
    EventLog.Page followed =
        log.list(
            Optional.of(java.util.Set.of("d1")),
            Instant.EPOCH,
            Optional.of(EventLog.Cursor.complete(NOW.minusSeconds(10).toEpochMilli())),
            100,
            clock.instant());
    assertThat(followed.items()).hasSize(6);
  }

  @Test
  void appStatusShowsTheNewestDriftRepairOfTheLastHourPerDeviceAndApp() {
    for (String[] da : new String[][] {{"d1", "web"}, {"d1", "pos"}, {"d2", "web"}}) {
      db.jdbi()
          .useHandle(
              h ->
                  h.createUpdate(
                          "INSERT INTO device_apps (device_id, app, source, desired_revision,"
                              + " desired_since) VALUES (:d, :a, 'fleet', 'r1', :t)")
                      .bind("d", da[0])
                      .bind("a", da[1])
                      .bind("t", NOW.minusSeconds(7200).toEpochMilli())
                      .execute());
    }
    String kind = AppStatusService.DRIFT_KIND;
    ingest.batch(
        "d1",
        List.of(
            new Telemetry.DeviceEvent(
                1, NOW.minus(Duration.ofMinutes(90)), kind, "warning", "web", "long ago"),
            new Telemetry.DeviceEvent(
                2, NOW.minus(Duration.ofMinutes(25)), kind, "warning", "web", "recreated once"),
            new Telemetry.DeviceEvent(
                3, NOW.minus(Duration.ofMinutes(15)), "app-ready", "info", "web", "ready"),
            new Telemetry.DeviceEvent(
                4,
                NOW.minus(Duration.ofMinutes(5)),
                kind,
                "warning",
                "web",
                "recreated Deployment web/web 14 times in the last 10 min")));
    ingest.batch(
        "d2",
        List.of(
            new Telemetry.DeviceEvent(
                1, NOW.minus(Duration.ofMinutes(70)), kind, "warning", "web", "too old")));

    assertThat(apps.byApp("web"))
        .extracting(AppStatusService.DeviceApp::deviceId, AppStatusService.DeviceApp::drift)
        .containsExactly(
            tuple(
                "d1",
                new AppStatusService.Drift(
                    NOW.minus(Duration.ofMinutes(5)),
                    "recreated Deployment web/web 14 times in the last 10 min")),
            tuple("d2", null));
    assertThat(apps.byDevice("d1"))
        .extracting(a -> a.app() + ": " + (a.drift() == null ? null : a.drift().message()))
        .containsExactly(
            "pos: null", "web: recreated Deployment web/web 14 times in the last 10 min");
  }

  @Test
  void aClockSlightlyAheadAndEventsDeliveredDaysLateAreBelieved() {
    Instant slightlyAhead = NOW.plus(Duration.ofMinutes(4));
    Instant tooFarAhead = NOW.plus(Duration.ofMinutes(6));
    Instant daysLate = NOW.minus(Duration.ofDays(10));
    Instant beyondRetention = NOW.minus(Duration.ofDays(31));
    ingest.batch(
        "d1",
        List.of(
            new Telemetry.DeviceEvent(1, daysLate, "k", "info", null, "kept in the outbox"),
            new Telemetry.DeviceEvent(2, beyondRetention, "k", "info", null, "too old"),
            new Telemetry.DeviceEvent(3, slightlyAhead, "k", "info", null, "a bit ahead"),
            new Telemetry.DeviceEvent(4, tooFarAhead, "k", "info", null, "too far ahead")));

    assertThat(stored("d1"))
        .containsExactly(
            List.of(daysLate.toEpochMilli(), -1L),
            List.of(NOW.toEpochMilli(), beyondRetention.toEpochMilli()),
            List.of(slightlyAhead.toEpochMilli(), -1L),
            List.of(NOW.toEpochMilli(), tooFarAhead.toEpochMilli()));
  }

  @Test
  void aBurstOf2000LiveEventsStoresTheAllowanceAndOneEventCountingTheRest() {
    String twoKb = "x".repeat(2000);
    int stored = 0;
    for (int i = 0; i < 2000; i++) {
      if (gate.record("d1", new AgentMessage.Event("spam", twoKb, YEAR_9999))) {
        stored++;
      }
    }
    gate.record("d2", new AgentMessage.Event("other", "another device is not held back", NOW));

    assertThat(stored).isEqualTo(300);
    assertThat(rows("SELECT COUNT(*) FROM device_events WHERE kind = 'spam'")).isEqualTo(300);
    assertThat(rows("SELECT COUNT(*) FROM device_events WHERE device_id = 'd2'")).isEqualTo(1);
    assertThat(gate.dropped()).isEqualTo(1700);

    assertThat(gate.flush()).isEqualTo(1);
    assertThat(gate.flush()).as("nothing new to report").isZero();
    List<String> summaries = summaries("d1");
    assertThat(summaries).hasSize(1);
    assertThat(summaries.getFirst())
        .contains("faster than allowed (300 at once, then 60 a minute)")
        .contains("1700 events dropped");

    // The allowance refills at 60 a minute.
    clock.advance(Duration.ofMinutes(1));
    int later = 0;
    for (int i = 0; i < 100; i++) {
      if (gate.record("d1", new AgentMessage.Event("spam", "x", NOW))) {
        later++;
      }
    }
    assertThat(later).isEqualTo(60);
  }

  @Test
  void outboxRecordsOverTheAllowanceWaitOnTheDeviceAndAllArriveAsItRefills() {
    // An agent that drains 2,000 buffered events in batches of 1,000 and sends again what was not
    // acknowledged.
    List<Telemetry> outbox = new ArrayList<>();
    LongStream.rangeClosed(1, 2000)
        .forEach(
            seq ->
                outbox.add(
                    new Telemetry.DeviceEvent(
                        seq, NOW.minusSeconds(3600), "buffered", "info", null, "x".repeat(2000))));
    long acked = ingest.batch("d1", outbox.subList(0, 1000));
    assertThat(acked).isEqualTo(300);
    assertThat(rows("SELECT COUNT(*) FROM device_events")).isEqualTo(300);
    // Sent again at once: nothing more is taken, and the held-back records are not counted twice.
    assertThat(ingest.batch("d1", outbox.subList((int) acked, (int) acked + 1000))).isEqualTo(300);
    assertThat(gate.heldBack()).isEqualTo(1000);
    assertThat(gate.dropped()).isZero();
    assertThat(gate.flush()).isEqualTo(1);
    assertThat(summaries("d1").getFirst()).contains("1000 records held back in its outbox");

    int rounds = 0;
    while (acked < 2000) {
      clock.advance(Duration.ofMinutes(5));
      int from = (int) acked;
      acked = ingest.batch("d1", outbox.subList(from, Math.min(from + 1000, 2000)));
      assertThat(acked).isGreaterThan(from);
      rounds++;
    }
    assertThat(rounds).isEqualTo(6); // 1,700 more at 300 per 5 minutes
    assertThat(rows("SELECT COUNT(DISTINCT seq) FROM device_events WHERE kind = 'buffered'"))
        .isEqualTo(2000);
    assertThat(ingest.duplicates()).isZero();
  }

  @Test
  void metricSummariesInABatchWithHeldBackEventsAreAcknowledgedOnlyUpToThem() {
    EventLimits two = EventLimits.defaults().withRate(2, 1);
    DeviceEvents small = new DeviceEvents(db.jdbi(), clock, two);
    TelemetryIngest limited = new TelemetryIngest(db.jdbi(), clock, small);
    Telemetry.Metrics early =
        new Telemetry.Metrics(
            1, NOW.minusSeconds(60), NOW, Map.of("cpu", new Telemetry.Stat(1, 1, 1, 1, 1)));
    Telemetry.Metrics late =
        new Telemetry.Metrics(
            5, NOW.minusSeconds(60), NOW, Map.of("cpu", new Telemetry.Stat(2, 2, 2, 2, 2)));

    long acked =
        limited.batch(
            "d1",
            List.of(
                new Telemetry.DeviceEvent(2, NOW, "a", "info", null, "x"),
                new Telemetry.DeviceEvent(3, NOW, "b", "info", null, "x"),
                new Telemetry.DeviceEvent(4, NOW, "c", "info", null, "x"),
                early,
                late));

    assertThat(acked).isEqualTo(3);
    assertThat(rows("SELECT COUNT(*) FROM device_events")).isEqualTo(2);
    assertThat(rows("SELECT COUNT(*) FROM device_metrics")).isEqualTo(1);
  }

  long rows(String sql) {
    return db.jdbi().withHandle(h -> h.createQuery(sql).mapTo(Long.class).one());
  }

  /** (at, device_at or -1) of the device's events by seq. */
  List<List<Long>> stored(String device) {
    return db.jdbi()
        .withHandle(
            h ->
                h.createQuery(
                        "SELECT at, device_at FROM device_events WHERE device_id = :d ORDER BY"
                            + " seq")
                    .bind("d", device)
                    .map(
                        (rs, ctx) -> {
                          long at = rs.getLong(1);
                          long deviceAt = rs.getLong(2);
                          return List.of(at, rs.wasNull() ? -1L : deviceAt);
                        })
                    .list());
  }

  List<String> summaries(String device) {
    return db.jdbi()
        .withHandle(
            h ->
                h.createQuery(
                        "SELECT message FROM device_events WHERE device_id = :d AND kind = :k"
                            + " ORDER BY at, id")
                    .bind("d", device)
                    .bind("k", DeviceEvents.RATE_KIND)
                    .mapTo(String.class)
                    .list());
  }
}
