package io.edgefleet.controller.devices;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.devices.PresenceTest.MutableClock;
import io.edgefleet.controller.store.Database;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two controller replicas on one database: each sees the devices the other holds, with the time the
 * other last heard from them, and news never goes backwards.
 */
abstract class SharedPresenceContract {
  static final Duration FLUSH = Duration.ofSeconds(2);

  @TempDir Path dir;
  Database db;
  final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
  Presence a;
  Presence b;
  DeviceStatuses statusesOnA;

  abstract String databaseUrl(Path dataDir);

  @BeforeEach
  void open() {
    db = Database.open(databaseUrl(dir), null, null);
    a = new Presence(db.jdbi(), clock, "replica-a", true, FLUSH);
    b = new Presence(db.jdbi(), clock, "replica-b", true, FLUSH);
    statusesOnA = new DeviceStatuses(clock, a, Duration.ofMinutes(6));
  }

  @AfterEach
  void close() {
    db.close();
  }

  @Test
  void aDeviceConnectedToOneReplicaIsOnlineOnTheOtherAndTheHolderIsKnown() {
    assertThat(statusesOnA.presenceStatus("dev-1")).isEqualTo(DeviceStatus.NEVER_SEEN);
    b.connected("dev-1");
    b.flush();
    assertThat(a.refresh()).isEqualTo(1);

    assertThat(statusesOnA.presenceStatus("dev-1")).isEqualTo(DeviceStatus.ONLINE);
    assertThat(a.holder("dev-1")).contains("replica-b");
    assertThat(b.holder("dev-1")).contains("replica-b");
    assertThat(a.snapshot("dev-1").lastSeen()).contains(clock.instant());
    assertThat(a.connectedCount()).as("A holds no connection itself").isZero();
    assertThat(a.flush()).as("what A read is not written back").isZero();

    // What A knows may be one flush and one read behind: not offline for that.
    clock.advance(Duration.ofMinutes(6).plus(FLUSH));
    assertThat(statusesOnA.presenceStatus("dev-1")).isEqualTo(DeviceStatus.ONLINE);
    assertThat(new DeviceStatuses(clock, b, Duration.ofMinutes(6)).presenceStatus("dev-1"))
        .as("B heard nothing for more than 6 minutes itself")
        .isEqualTo(DeviceStatus.OFFLINE);
    clock.advance(Duration.ofMinutes(-6).minus(FLUSH));

    // B keeps hearing the device; A follows at its next read.
    clock.advance(Duration.ofMinutes(4));
    b.heartbeat("dev-1");
    b.flush();
    a.refresh();
    assertThat(a.snapshot("dev-1").lastSeen()).contains(clock.instant());

    // B closes the connection: A sees the device offline, held by nobody.
    clock.advance(Duration.ofSeconds(5));
    b.disconnected("dev-1");
    b.flush();
    a.refresh();
    assertThat(statusesOnA.presenceStatus("dev-1")).isEqualTo(DeviceStatus.OFFLINE);
    assertThat(a.holder("dev-1")).isEmpty();
  }

  @Test
  void aReplicaThatLostADeviceCannotWriteItBackAsDisconnected() {
    a.connected("dev-1");
    a.flush();
    clock.advance(Duration.ofSeconds(30));
    // The device moved to B (say A's link to it broke); A notices the dead socket only later.
    b.connected("dev-1");
    b.flush();
    clock.advance(Duration.ofSeconds(30));
    a.disconnected("dev-1");
    a.flush();
    a.refresh();
    Presence c = new Presence(db.jdbi(), clock, "replica-c", true, FLUSH);
    c.load();
    assertThat(c.holder("dev-1")).contains("replica-b");
    assertThat(a.holder("dev-1")).contains("replica-b");
    assertThat(new DeviceStatuses(clock, c, Duration.ofMinutes(6)).presenceStatus("dev-1"))
        .isEqualTo(DeviceStatus.ONLINE);
  }

  @Test
  void theLateCloseOfAnOlderConnectionNeverHidesTheNewerOne() {
    a.connected("dev-1");
    a.flush();
    clock.advance(Duration.ofSeconds(10));
    // The device gives up on A and connects to B; B writes it at once.
    b.connected("dev-1");
    b.flush();
    // A, busy, handles a message the device sent on the old socket only now, then closes it: its
    // last-seen time is newer than B's connect.
    clock.advance(Duration.ofSeconds(1));
    a.heartbeat("dev-1");
    a.disconnected("dev-1");
    a.flush();
    Presence c = new Presence(db.jdbi(), clock, "replica-c", true, FLUSH);
    c.load();
    assertThat(c.holder("dev-1")).contains("replica-b");
    assertThat(new DeviceStatuses(clock, c, Duration.ofMinutes(6)).presenceStatus("dev-1"))
        .isEqualTo(DeviceStatus.ONLINE);
    // A reads what B wrote and knows where the device is.
    a.refresh();
    assertThat(a.holder("dev-1")).contains("replica-b");
    assertThat(statusesOnA.presenceStatus("dev-1")).isEqualTo(DeviceStatus.ONLINE);

    // Also when A's close reaches the database first: B's newer connection replaces it.
    clock.advance(Duration.ofSeconds(5));
    a.connected("dev-2");
    a.flush();
    clock.advance(Duration.ofSeconds(5));
    b.connected("dev-2");
    clock.advance(Duration.ofSeconds(1));
    a.heartbeat("dev-2");
    a.disconnected("dev-2");
    a.flush();
    b.flush();
    Presence d = new Presence(db.jdbi(), clock, "replica-d", true, FLUSH);
    d.load();
    assertThat(d.holder("dev-2")).contains("replica-b");
    assertThat(new DeviceStatuses(clock, d, Duration.ofMinutes(6)).presenceStatus("dev-2"))
        .isEqualTo(DeviceStatus.ONLINE);
  }

  @Test
  void aKilledReplicasDevicesTurnOfflineWhenNothingIsHeardFromThemAnyMore() {
    b.connected("dev-1");
    b.flush();
    a.refresh();
    // B dies without closing anything: its row still names it as the holder.
    clock.advance(Duration.ofMinutes(7));
    a.refresh();
    assertThat(statusesOnA.presenceStatus("dev-1")).isEqualTo(DeviceStatus.OFFLINE);
    // The device comes back through A.
    a.connected("dev-1");
    a.flush();
    assertThat(statusesOnA.presenceStatus("dev-1")).isEqualTo(DeviceStatus.ONLINE);
    assertThat(a.holder("dev-1")).contains("replica-a");
  }

  @Test
  void readingTheSameRowsAgainChangesNothingAndNewsIsRead() {
    for (int i = 0; i < 50; i++) {
      b.connected("dev-" + i);
    }
    b.flush();
    assertThat(a.refresh()).isEqualTo(50);
    assertThat(a.refresh()).as("the same rows again change nothing").isZero();
    clock.advance(Presence.REREAD.plusSeconds(1));
    a.refresh();
    b.heartbeat("dev-7");
    b.flush();
    assertThat(a.refresh()).isEqualTo(1);
  }

  @Test
  void aSingleProcessDoesNotRead() {
    Presence single = new Presence(db.jdbi(), clock);
    b.connected("dev-1");
    b.flush();
    assertThat(single.refresh()).isZero();
    assertThat(single.holder("dev-1")).isEmpty();
  }
}
