package io.edgefleet.controller.health;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.devices.DeviceService;
import io.edgefleet.controller.devices.DeviceStatuses;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.Presence;
import io.edgefleet.controller.devices.TestDevices;
import io.edgefleet.controller.events.EventLog;
import io.edgefleet.controller.rollouts.RolloutEventSource;
import io.edgefleet.controller.rollouts.RolloutReads;
import io.edgefleet.controller.store.Database;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the controller knows of its own absence, and what it does with a device's offline time. */
class ControllerLivenessTest {
  static final Instant T0 = Instant.parse("2026-11-23T10:00:00Z");
  static final Duration GRACE = Duration.ofSeconds(90);

  @TempDir Path dir;
  Database db;
  final TestClock clock = new TestClock(T0);

  @BeforeEach
  void open() {
    db = Database.open(Database.sqliteUrl(dir), null, null);
  }

  @AfterEach
  void close() {
    db.close();
  }

  @Test
  void aRestartRecordsOneFleetWideEventForTheGapSinceTheLastBeat() {
    ControllerLiveness first = ControllerLiveness.start(db.jdbi(), clock, GRACE);
    assertThat(first.lastAlive()).isEmpty();
    clock.advance(Duration.ofSeconds(15));
    first.beat();
    Instant stopped = clock.instant();
    clock.advance(Duration.ofMinutes(3));
    ControllerLiveness second = ControllerLiveness.start(db.jdbi(), clock, GRACE);
    assertThat(second.lastAlive()).contains(stopped);
    Instant restarted = clock.instant();
    assertThat(second.startedAt()).isEqualTo(restarted);
    // The event log shows what was recorded once it settled.
    clock.advance(Duration.ofMinutes(1));

    TestDevices.insertActive(db.jdbi(), "d1", Map.of(), T0);
    Presence presence = new Presence(db.jdbi(), clock);
    AuditLog audit = new AuditLog(db.jdbi(), clock);
    EventLog log =
        new EventLog(
            db.jdbi(),
            clock,
            new DeviceService(
                db.jdbi(),
                clock,
                new DeviceStore(),
                presence,
                null,
                audit,
                new DeviceStatuses(clock, presence, GRACE),
                (id, reason) -> {},
                (d, status, now) -> status,
                id -> {}),
            new RolloutEventSource(new RolloutReads(db.jdbi())),
            audit);
    EventLog.Page all =
        log.list(
            new EventLog.Request(
                Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), 50));
    assertThat(all.items())
        .filteredOn(e -> e.kind().equals(ControllerLiveness.DOWN))
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.source()).isEqualTo("controller");
              assertThat(e.deviceId()).as("about no device").isNull();
              assertThat(e.severity()).isEqualTo("warning");
              assertThat(e.message())
                  .startsWith("controller was down from " + stopped + " to " + restarted + " (3m)");
            });
    // A device's own events do not include the controller's.
    assertThat(
            log.list(
                    new EventLog.Request(
                        Optional.of("d1"),
                        Optional.empty(),
                        Optional.empty(),
                        Optional.empty(),
                        50))
                .items())
        .noneMatch(e -> e.kind().equals(ControllerLiveness.DOWN));
  }

  @Test
  void offlineTimeThatBeganWhileTheControllerLastRanCountsFromTheStartPlusTheGrace() {
    Instant alive = T0;
    Instant started = T0.plus(Duration.ofMinutes(3));
    Instant notBefore = started.plus(GRACE);
    Optional<Instant> last = Optional.of(alive);
    // Heard from shortly before the controller stopped: the controller's absence, not the device's.
    assertThat(ControllerLiveness.offlineSince(T0.minusSeconds(5), started, last, GRACE))
        .isEqualTo(notBefore);
    // Already silent for longer than the grace while the controller ran: its time counts.
    Instant longGone = T0.minus(Duration.ofHours(1));
    assertThat(ControllerLiveness.offlineSince(longGone, started, last, GRACE)).isEqualTo(longGone);
    // Went offline after the grace: nothing to adjust.
    Instant later = notBefore.plusSeconds(1);
    assertThat(ControllerLiveness.offlineSince(later, started, last, GRACE)).isEqualTo(later);
    // The controller never recorded its liveness (its first start with it): every device's time
    // counts from the start plus the grace.
    assertThat(ControllerLiveness.offlineSince(longGone, started, Optional.empty(), GRACE))
        .isEqualTo(notBefore);
    assertThat(ControllerLiveness.offlineSince(null, started, last, GRACE)).isNull();
  }
}
