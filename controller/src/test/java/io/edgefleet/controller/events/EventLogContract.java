package io.edgefleet.controller.events;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.devices.DeviceService;
import io.edgefleet.controller.devices.DeviceStatuses;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.Presence;
import io.edgefleet.controller.devices.TestDevices;
import io.edgefleet.controller.health.TestClock;
import io.edgefleet.controller.rollouts.RolloutEventSource;
import io.edgefleet.controller.rollouts.RolloutReads;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.ErrorCode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The unified event log against a real database: one chronology of all sources in the order things
 * happened, scoped to devices, and a cursor that delivers late events once and never repeats or
 * skips one. Run on SQLite ({@code EventLogTest}) and PostgreSQL ({@code EventLogPostgresIT}).
 */
abstract class EventLogContract {
  static final Instant T0 = Instant.parse("2026-11-23T01:00:00Z");

  @TempDir Path dir;
  Database db;
  TestClock clock;
  AuditLog audit;
  EventLog events;

  abstract String databaseUrl(Path dataDir);

  @BeforeEach
  void open() {
    db = Database.open(databaseUrl(dir), null, null);
    clock = new TestClock(T0);
    audit = new AuditLog(db.jdbi(), clock);
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
    events =
        new EventLog(
            db.jdbi(), clock, devices, new RolloutEventSource(new RolloutReads(db.jdbi())), audit);
    TestDevices.insertActive(db.jdbi(), "d1", Map.of("site", "a"), T0);
    TestDevices.insertActive(db.jdbi(), "d2", Map.of("site", "b"), T0);
  }

  @AfterEach
  void close() {
    db.close();
  }

  @Test
  void aDeviceSeesOneChronologyOfItsOwnRolloutControllerAppAndHealthEvents() {
    history();
    clock.set(at(100));

    EventLog.Page page = list(Optional.of("d1"), Optional.empty(), Optional.empty(), 100);

    assertThat(page.more()).isFalse();
    assertThat(page.items())
        .extracting(e -> e.source() + " " + e.kind())
        .containsExactly(
            "controller device.approve",
            "device desired-state-applied",
            "rollout CREATED",
            "rollout RELEASED",
            "device app-restarted",
            "device disk-warning",
            "app FAILED",
            "health DEGRADED");
    assertThat(page.items().get(1).seq()).isEqualTo(1L);
    assertThat(page.items().get(4).seq()).isEqualTo(2L);
    assertThat(page.items().get(5).seq()).isEqualTo(3L);
    assertThat(page.items().get(0).message()).isEqualTo("device.approve d1 by admin");
    assertThat(page.items().get(0).deviceId()).isEqualTo("d1");
    assertThat(page.items().get(3).message())
        .isEqualTo("rollout ro-1 of pos (1.0 → 2.0): released: d1");
    assertThat(page.items().get(3).rolloutId()).isEqualTo("ro-1");
    assertThat(page.items().get(6).severity()).isEqualTo("error");
    // Received late, but it happened at 20 s: it is second, not last.
    assertThat(page.items().get(1).recordedAt()).isEqualTo(at(50));
  }

  @Test
  void aSelectorOrNoScopeShowsTheOtherDevicesAndTheFleetsEvents() {
    history();
    clock.set(at(100));

    assertThat(list(Optional.empty(), Optional.of("site=b"), Optional.empty(), 100).items())
        .extracting(e -> e.source() + " " + e.kind() + " " + e.deviceId())
        .containsExactly("device booted d2", "rollout CREATED null", "rollout RELEASED null");
    EventLog.Page all = list(Optional.empty(), Optional.empty(), Optional.empty(), 100);
    assertThat(all.items()).hasSize(11);
    assertThat(all.items())
        .extracting(EventLog.Event::kind)
        .contains("onboarding-token.create", "booted");
    // The window: only what happened within the last 75 s.
    assertThat(list(Optional.empty(), Optional.empty(), Optional.of("75s"), 100).items())
        .extracting(EventLog.Event::kind)
        .containsExactly(
            "RELEASED", "RELEASED", "app-restarted", "disk-warning", "FAILED", "DEGRADED");
  }

  @Test
  void aListingKeepsTheNewestEventsAndSaysOlderOnesWereLeftOut() {
    history();
    clock.set(at(100));
    EventLog.Page page = list(Optional.of("d1"), Optional.empty(), Optional.empty(), 3);
    assertThat(page.more()).isTrue();
    assertThat(page.items())
        .extracting(EventLog.Event::kind)
        .containsExactly("disk-warning", "FAILED", "DEGRADED");
  }

  @Test
  void aFollowerGetsEventsRecordedAfterItsCursorOnceEvenThoseThatHappenedLongAgo() {
    history();
    clock.set(at(100));
    EventLog.Page first = list(Optional.empty(), Optional.empty(), Optional.empty(), 100);

    // Drained from an outbox after an outage: it happened three hours ago.
    deviceEvent("d1", "e-old", 7, T0.minus(Duration.ofHours(3)), at(101), "link-lost");
    audit("d2", "device.tags", at(102));
    // Recorded a moment ago: a transaction of that instant may still be committing.
    deviceEvent("d2", "e-new", 2, at(104), at(104), "booted-again");

    clock.set(at(105));
    EventLog.Page next = follow(first.next(), Optional.empty(), 100);
    assertThat(next.items())
        .extracting(EventLog.Event::kind)
        .containsExactly("link-lost", "device.tags");
    assertThat(next.more()).isFalse();

    clock.set(at(107));
    EventLog.Page later = follow(next.next(), Optional.empty(), 100);
    assertThat(later.items()).extracting(EventLog.Event::kind).containsExactly("booted-again");
    assertThat(follow(later.next(), Optional.empty(), 100).items()).isEmpty();

    // Scoped to a device, the cursor works the same.
    assertThat(follow(first.next(), Optional.of("d1"), 100).items())
        .extracting(EventLog.Event::kind)
        .containsExactly("link-lost");
  }

  @Test
  void pagesCutWithinOneMillisecondNeitherRepeatNorSkipAnEvent() {
    clock.set(at(1));
    EventLog.Page start = list(Optional.empty(), Optional.empty(), Optional.empty(), 100);
    Set<String> expected = new HashSet<>();
    for (int i = 0; i < 5; i++) {
      deviceEvent("d1", "same-" + i, i + 1, at(10), at(10), "k" + i);
      expected.add("device:same-" + i);
    }
    clock.set(at(10));
    audit("d1", "device.tags", at(10));
    audit("d2", "device.tags", at(10));
    for (int i = 0; i < 3; i++) {
      deviceEvent("d2", "later-" + i, i + 1, at(11 + i), at(11 + i), "l" + i);
      expected.add("device:later-" + i);
    }
    clock.set(at(60));
    List<String> seen = new ArrayList<>();
    String cursor = start.next();
    int pages = 0;
    EventLog.Page p;
    do {
      p = follow(cursor, Optional.empty(), 2);
      p.items().forEach(e -> seen.add(e.id()));
      cursor = p.next();
      pages++;
    } while (p.more() && pages < 20);
    assertThat(seen).doesNotHaveDuplicates().hasSize(10);
    assertThat(seen).containsAll(expected);
    assertThat(pages).isEqualTo(5);
  }

  @Test
  void aStreamKeepsItsOwnOrderWhereItsClockDisagrees() {
    history();
    // The device's clock stepped back between its events 4 and 5; a rollout tick read the clock
    // before the rollout it released was committed.
    deviceEvent("d1", "e5", 4, at(45), at(46), "clock-before-step");
    deviceEvent("d1", "e6", 5, at(41), at(47), "clock-after-step");
    db.jdbi()
        .useHandle(
            h ->
                h.execute(
                    "INSERT INTO rollout_events (id, rollout_id, seq, at, kind, batch, message)"
                        + " VALUES ('re-4', 'ro-1', 4, ?, 'SUCCEEDED', NULL, 'done')",
                    at(23).toEpochMilli()));
    clock.set(at(100));
    assertThat(list(Optional.of("d1"), Optional.empty(), Optional.empty(), 100).items())
        .extracting(e -> e.source() + " " + e.kind())
        .containsExactly(
            "controller device.approve",
            "device desired-state-applied",
            "rollout CREATED",
            "rollout RELEASED",
            "rollout SUCCEEDED",
            "device app-restarted",
            "device disk-warning",
            "app FAILED",
            "health DEGRADED",
            "device clock-before-step",
            "device clock-after-step");
  }

  @Test
  void sourcesInterleaveByTimeWithEqualTimesInSequenceThenIdOrder() {
    interleaved();
    clock.set(at(100));

    assertThat(list(Optional.empty(), Optional.empty(), Optional.empty(), 100).items())
        .extracting(e -> e.id().replaceFirst(":aud.*", ":aud") + " " + e.kind())
        .containsExactly(
            "device:a1 k-a1",
            "rollout:re-1 CREATED",
            "app:f-a FAILED",
            "controller:aud device.tags",
            "device:b1 k-b1",
            "rollout:re-2 RELEASED",
            "controller:aud device.approve",
            "health:f-h DEGRADED",
            "controller:aud onboarding-token.create",
            "device:a2 k-a2",
            "rollout:re-3 RELEASED");

    EventLog.Page all = list(Optional.empty(), Optional.empty(), Optional.empty(), 100);
    assertThat(all.more()).isFalse();
    EventLog.Event created = all.items().get(1);
    assertThat(created.message()).isEqualTo("rollout ro-1 of pos (2.0): created by admin");
    assertThat(created.severity()).isEqualTo("info");
    assertThat(created.deviceId()).isNull();
    assertThat(created.app()).isEqualTo("pos");
    assertThat(created.seq()).isEqualTo(1L);
    EventLog.Event token = all.items().get(8);
    assertThat(token.message()).isEqualTo("onboarding-token.create tok-1 by admin");
    assertThat(token.deviceId()).isNull();
    assertThat(token.seq()).isNull();
    assertThat(all.items().get(3).deviceId()).isEqualTo("d1");
    assertThat(all.items().get(3).recordedAt()).isEqualTo(at(10));

    // The newest four: the cut falls between two sources at the same time.
    EventLog.Page newest = list(Optional.empty(), Optional.empty(), Optional.empty(), 4);
    assertThat(newest.more()).isTrue();
    assertThat(newest.items())
        .extracting(e -> e.source() + " " + e.kind())
        .containsExactly(
            "health DEGRADED",
            "controller onboarding-token.create",
            "device k-a2",
            "rollout RELEASED");

    // One device: its rollouts' events of the whole rollout and of its own batch only.
    assertThat(list(Optional.of("d1"), Optional.empty(), Optional.empty(), 100).items())
        .extracting(e -> e.source() + " " + e.kind())
        .containsExactly(
            "device k-a1",
            "rollout CREATED",
            "app FAILED",
            "controller device.tags",
            "rollout RELEASED",
            "health DEGRADED",
            "device k-a2");
    assertThat(list(Optional.empty(), Optional.of("site=b"), Optional.empty(), 100).items())
        .extracting(e -> e.id().replaceFirst(":aud.*", ":aud"))
        .containsExactly("rollout:re-1", "device:b1", "controller:aud", "rollout:re-3");
    // A window from 12 s on, and the same for one device.
    assertThat(list(Optional.empty(), Optional.empty(), Optional.of("88s"), 100).items())
        .extracting(EventLog.Event::id)
        .hasSize(7)
        .startsWith("device:b1", "rollout:re-2");
    assertThat(list(Optional.of("d2"), Optional.empty(), Optional.of("86s"), 100).items())
        .extracting(e -> e.id().replaceFirst(":aud.*", ":aud"))
        .containsExactly("controller:aud", "rollout:re-3");
  }

  @Test
  void aFollowerPagesThroughAllSourcesInRecordedOrder() {
    clock.set(at(1));
    EventLog.Page start = list(Optional.empty(), Optional.empty(), Optional.empty(), 100);
    interleaved();
    clock.set(at(100));

    List<List<String>> pages = new ArrayList<>();
    List<String> cursors = new ArrayList<>();
    String cursor = start.next();
    EventLog.Page p;
    do {
      p = follow(cursor, Optional.empty(), 3);
      pages.add(p.items().stream().map(e -> e.id().replaceFirst(":aud.*", ":aud")).toList());
      cursor = p.next();
      cursors.add(cursor);
    } while (p.more() && pages.size() < 20);
    assertThat(pages)
        .containsExactly(
            List.of("device:a1", "app:f-a", "controller:aud"),
            List.of("rollout:re-1", "device:b1", "rollout:re-2"),
            List.of("controller:aud", "health:f-h", "controller:aud"),
            List.of("device:a2", "rollout:re-3"));
    // The cursor names the time recorded and the last id delivered at it.
    assertThat(cursors.get(0)).isEqualTo(encoded("v1:" + at(10).toEpochMilli() + ":device:a1"));
    assertThat(cursors.get(1)).isEqualTo(encoded("v1:" + at(12).toEpochMilli() + ":rollout:re-2"));
    assertThat(cursors.get(3)).isEqualTo(encoded("v1:" + at(98).toEpochMilli()));
    assertThat(follow(cursors.get(3), Optional.empty(), 3).items()).isEmpty();

    // One at a time: each source is cut at its own pages and none is repeated or skipped.
    List<String> one = new ArrayList<>();
    cursor = start.next();
    int calls = 0;
    do {
      p = follow(cursor, Optional.empty(), 1);
      p.items().forEach(e -> one.add(e.id().replaceFirst(":aud.*", ":aud")));
      cursor = p.next();
      calls++;
    } while (p.more() && calls < 40);
    assertThat(one)
        .containsExactly(
            "app:f-a",
            "controller:aud",
            "device:a1",
            "rollout:re-1",
            "device:b1",
            "rollout:re-2",
            "controller:aud",
            "health:f-h",
            "controller:aud",
            "device:a2",
            "rollout:re-3");
    assertThat(calls).isEqualTo(CALLS_ONE_AT_A_TIME);

    // Scoped to a device, pages of two.
    List<String> d2 = new ArrayList<>();
    cursor = start.next();
    calls = 0;
    do {
      p = follow(cursor, Optional.of("d2"), 2);
      d2.add(
          p.items().stream()
              .map(e -> e.id().replaceFirst(":aud.*", ":aud"))
              .reduce((a, b) -> a + "," + b)
              .orElse(""));
      cursor = p.next();
      calls++;
    } while (p.more() && calls < 20);
    assertThat(d2).containsExactly("rollout:re-1,device:b1", "controller:aud,rollout:re-3");
  }

  @Test
  void badParametersAreRefusedWithAStableCodeAndAClearMessage() {
    assertThatThrownBy(() -> follow("not-a-cursor", Optional.empty(), 10))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.VALIDATION_FAILED))
        .hasMessageContaining("cursor as returned in 'next'");
    assertThatThrownBy(() -> list(Optional.empty(), Optional.empty(), Optional.of("yesterday"), 10))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.VALIDATION_FAILED))
        .hasMessageContaining("since must be a duration");
    assertThatThrownBy(() -> list(Optional.empty(), Optional.of("site in ("), Optional.empty(), 10))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.VALIDATION_FAILED))
        .hasMessageContaining("selector");
    assertThatThrownBy(() -> list(Optional.of("d9"), Optional.empty(), Optional.empty(), 10))
        .isInstanceOfSatisfying(
            ControllerException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND));
    assertThat(EventLog.since(Optional.of("2026-11-23T00:00:00Z"), T0))
        .isEqualTo(Instant.parse("2026-11-23T00:00:00Z"));
  }

  // ------------------------------------------------------------------ helpers

  static Instant at(int seconds) {
    return T0.plusSeconds(seconds);
  }

  EventLog.Page list(
      Optional<String> device, Optional<String> selector, Optional<String> since, int limit) {
    return events.list(new EventLog.Request(device, selector, since, Optional.empty(), limit));
  }

  EventLog.Page follow(String after, Optional<String> device, int limit) {
    return events.list(
        new EventLog.Request(
            device, Optional.empty(), Optional.empty(), Optional.of(after), limit));
  }

  /**
   * d1: approved at 10; reported an event at 20 (received at 50); part of rollout ro-1 (created at
   * 24, its batch released at 25; d2's batch at 26); two events at 30 (seq 2 and 3, received in
   * reverse); app FAILED at 35; DEGRADED at 40. d2: booted at 22. A token created at 5.
   */
  void history() {
    audit("tok-1", "onboarding-token.create", at(5));
    audit("d1", "device.approve", at(10));
    deviceEvent("d1", "e1", 1, at(20), at(50), "desired-state-applied");
    deviceEvent("d2", "e2", 1, at(22), at(22), "booted");
    deviceEvent("d1", "e4", 3, at(30), at(31), "disk-warning");
    deviceEvent("d1", "e3", 2, at(30), at(32), "app-restarted");
    db.jdbi()
        .useHandle(
            h -> {
              h.execute(
                  "INSERT INTO rollouts (id, seq, subject, app, source, from_revision, to_revision,"
                      + " policy, state, batch, reason, created_by, created_at, updated_at) VALUES"
                      + " ('ro-1', 1, 'catalog/pos', 'pos', 'catalog', '1.0', '2.0', '{}',"
                      + " 'PROGRESSING', 0, '', 'admin', ?, ?)",
                  at(24).toEpochMilli(),
                  at(24).toEpochMilli());
              h.execute(
                  "INSERT INTO rollout_devices (rollout_id, device_id, batch, state) VALUES"
                      + " ('ro-1', 'd1', 0, 'RELEASED'), ('ro-1', 'd2', 1, 'RELEASED')");
              h.execute(
                  "INSERT INTO rollout_events (id, rollout_id, seq, at, kind, batch, message)"
                      + " VALUES ('re-1', 'ro-1', 1, ?, 'CREATED', NULL, 'created by admin'),"
                      + " ('re-2', 'ro-1', 2, ?, 'RELEASED', 0, 'released: d1'),"
                      + " ('re-3', 'ro-1', 3, ?, 'RELEASED', 1, 'released: d2')",
                  at(24).toEpochMilli(),
                  at(25).toEpochMilli(),
                  at(26).toEpochMilli());
              h.execute(
                  "INSERT INTO fleet_events (id, device_id, source, at, kind, severity, app,"
                      + " message) VALUES ('f-1', 'd1', 'app', ?, 'FAILED', 'error', 'web', 'web"
                      + " r1 FAILED'), ('f-2', 'd1', 'health', ?, 'DEGRADED', 'warning', NULL,"
                      + " 'ONLINE → DEGRADED: app web FAILED')",
                  at(35).toEpochMilli(),
                  at(40).toEpochMilli());
            });
  }

  /** Follower calls of one event each to page through {@link #interleaved()}. */
  static final int CALLS_ONE_AT_A_TIME = 11;

  static String encoded(String cursor) {
    return Base64.getUrlEncoder()
        .withoutPadding()
        .encodeToString(cursor.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * Every source at 10 s (d1: a device event, an app change, an audit entry; rollout ro-1 created);
   * at 12 s d2's event and d1's batch released; at 14 s d1 degraded and d2 approved; a token
   * created at 15 s; at 16 s d1's next event and d2's batch released. Recorded when they happened.
   */
  void interleaved() {
    audit("d1", "device.tags", at(10));
    deviceEvent("d1", "a1", 1, at(10), at(10), "k-a1");
    deviceEvent("d2", "b1", 1, at(12), at(12), "k-b1");
    audit("d2", "device.approve", at(14));
    audit("tok-1", "onboarding-token.create", at(15));
    deviceEvent("d1", "a2", 2, at(16), at(16), "k-a2");
    db.jdbi()
        .useHandle(
            h -> {
              h.execute(
                  "INSERT INTO rollouts (id, seq, subject, app, source, from_revision, to_revision,"
                      + " policy, state, batch, reason, created_by, created_at, updated_at) VALUES"
                      + " ('ro-1', 1, 'catalog/pos', 'pos', 'catalog', NULL, '2.0', '{}',"
                      + " 'PROGRESSING', 0, '', 'admin', ?, ?)",
                  at(10).toEpochMilli(),
                  at(10).toEpochMilli());
              h.execute(
                  "INSERT INTO rollout_devices (rollout_id, device_id, batch, state) VALUES"
                      + " ('ro-1', 'd1', 0, 'RELEASED'), ('ro-1', 'd2', 1, 'RELEASED')");
              h.execute(
                  "INSERT INTO rollout_events (id, rollout_id, seq, at, kind, batch, message)"
                      + " VALUES ('re-1', 'ro-1', 1, ?, 'CREATED', NULL, 'created by admin'),"
                      + " ('re-2', 'ro-1', 2, ?, 'RELEASED', 0, 'released: d1'),"
                      + " ('re-3', 'ro-1', 3, ?, 'RELEASED', 1, 'released: d2')",
                  at(10).toEpochMilli(),
                  at(12).toEpochMilli(),
                  at(16).toEpochMilli());
              h.execute(
                  "INSERT INTO fleet_events (id, device_id, source, at, kind, severity, app,"
                      + " message) VALUES ('f-a', 'd1', 'app', ?, 'FAILED', 'error', 'web', 'web"
                      + " r1 FAILED'), ('f-h', 'd1', 'health', ?, 'DEGRADED', 'warning', NULL,"
                      + " 'ONLINE → DEGRADED: app web FAILED')",
                  at(10).toEpochMilli(),
                  at(14).toEpochMilli());
            });
  }

  void deviceEvent(String device, String id, long seq, Instant at, Instant received, String kind) {
    db.jdbi()
        .useHandle(
            h ->
                h.execute(
                    "INSERT INTO device_events (id, device_id, at, kind, message, seq, severity,"
                        + " received_at) VALUES (?, ?, ?, ?, ?, ?, 'info', ?)",
                    id,
                    device,
                    at.toEpochMilli(),
                    kind,
                    kind + " on " + device,
                    seq,
                    received.toEpochMilli()));
  }

  void audit(String target, String action, Instant at) {
    Instant before = clock.instant();
    clock.set(at);
    db.jdbi().useHandle(h -> audit.record(h, "admin", action, target, Map.of()));
    clock.set(before);
  }
}
