package io.edgefleet.controller.devices;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.store.Database;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PresenceTest {
  @TempDir Path dir;
  Database db;
  MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));

  @BeforeEach
  void open() {
    db = Database.open(Database.sqliteUrl(dir), null, null);
  }

  @AfterEach
  void close() {
    db.close();
  }

  @Test
  void heartbeatsStayInMemoryUntilAFlushWritesOneRowPerDevice() {
    Presence presence = new Presence(db.jdbi(), clock);
    presence.connected("dev-1");
    for (int i = 0; i < 100; i++) {
      clock.advance(Duration.ofSeconds(1));
      presence.heartbeat("dev-1");
      presence.heartbeat("dev-2");
    }
    assertThat(rows()).isZero();
    assertThat(presence.flush()).isEqualTo(2);
    assertThat(rows()).isEqualTo(2);
    assertThat(presence.flush()).as("nothing changed since the last flush").isZero();

    clock.advance(Duration.ofSeconds(5));
    presence.heartbeat("dev-2");
    assertThat(presence.flush()).isEqualTo(1);
    assertThat(lastSeen("dev-2")).isEqualTo(clock.millis());
  }

  @Test
  void aRestartedControllerRemembersWhenDevicesWereLastSeen() {
    Presence before = new Presence(db.jdbi(), clock);
    before.heartbeat("dev-1");
    before.flush();
    Instant seen = clock.instant();

    Presence after = new Presence(db.jdbi(), clock);
    after.load();
    Presence.Snapshot s = after.snapshot("dev-1");
    assertThat(s.lastSeen()).contains(seen);
    assertThat(s.connected()).isFalse();
    assertThat(after.flush()).as("loaded values are not dirty").isZero();
  }

  @Test
  void disconnectIsRecorded() {
    Presence presence = new Presence(db.jdbi(), clock);
    presence.connected("dev-1");
    clock.advance(Duration.ofSeconds(3));
    presence.disconnected("dev-1");
    Presence.Snapshot s = presence.snapshot("dev-1");
    assertThat(s.connected()).isFalse();
    assertThat(s.disconnectedAt()).contains(clock.instant());
    assertThat(presence.connectedCount()).isZero();
  }

  private int rows() {
    return db.jdbi()
        .withHandle(
            h -> h.createQuery("SELECT COUNT(*) FROM device_presence").mapTo(Integer.class).one());
  }

  private long lastSeen(String id) {
    return db.jdbi()
        .withHandle(
            h ->
                h.createQuery("SELECT last_seen FROM device_presence WHERE device_id = :id")
                    .bind("id", id)
                    .mapTo(Long.class)
                    .one());
  }

  static final class MutableClock extends Clock {
    private Instant now;

    MutableClock(Instant now) {
      this.now = now;
    }

    void advance(Duration d) {
      now = now.plus(d);
    }

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }
}
