package io.edgefleet.controller.replicas;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.health.TestClock;
import io.edgefleet.controller.store.Database;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Two replicas registering in one database: each finds the other while it beats, not after. */
abstract class ReplicaDirectoryContract {
  static final Duration TIMEOUT = Duration.ofSeconds(15);

  @TempDir Path dir;
  Database db;
  final TestClock clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));
  final AtomicReference<String> urlOfA = new AtomicReference<>("https://10.0.0.1:7443");
  ReplicaDirectory a;
  ReplicaDirectory b;

  abstract String databaseUrl(Path dataDir);

  @BeforeEach
  void open() {
    db = Database.open(databaseUrl(dir), null, null);
    a = new ReplicaDirectory(db.jdbi(), clock, "1@a", urlOfA::get, TIMEOUT);
    b = new ReplicaDirectory(db.jdbi(), clock, "2@b", () -> "https://10.0.0.2:7443", TIMEOUT);
  }

  @AfterEach
  void close() {
    db.close();
  }

  @Test
  void aReplicaThatBeatsIsLiveWithItsUrlAndOneSilentPastTheTimeoutIsNot() {
    assertThat(b.live("1@a")).isEmpty();
    assertThat(a.beat()).isTrue();
    assertThat(b.beat()).isTrue();

    assertThat(b.live("1@a"))
        .hasValueSatisfying(
            r -> {
              assertThat(r.url()).isEqualTo(URI.create("https://10.0.0.1:7443"));
              assertThat(r.heartbeat()).isEqualTo(clock.instant());
            });
    assertThat(a.live()).extracting(Replica::name).containsExactly("1@a", "2@b");

    // B goes on beating, A falls silent: A stays live up to the timeout, not a moment longer.
    clock.advance(TIMEOUT);
    assertThat(b.live("1@a")).isPresent();
    clock.advance(Duration.ofMillis(1));
    b.beat();
    assertThat(b.live("1@a")).isEmpty();
    assertThat(a.live()).extracting(Replica::name).containsExactly("2@b");

    // A beats again (restarted at another address): live again, at the new URL.
    urlOfA.set("https://10.0.0.9:7443");
    a.beat();
    assertThat(b.live("1@a")).map(Replica::url).contains(URI.create("https://10.0.0.9:7443"));
  }

  @Test
  void aReplicaThatLeavesIsGoneAtOnceAndRowsOfLongGoneReplicasAreRemoved() {
    a.beat();
    b.beat();
    a.leave();
    assertThat(b.live("1@a")).isEmpty();
    assertThat(b.live("2@b")).isPresent();

    a.beat();
    clock.advance(TIMEOUT.plus(ReplicaDirectory.FORGET_AFTER).plusSeconds(1));
    b.beat();
    long rows =
        db.jdbi()
            .withHandle(
                h ->
                    h.createQuery("SELECT COUNT(*) FROM controller_replicas")
                        .mapTo(Long.class)
                        .one());
    assertThat(rows).as("only B's own row is left").isEqualTo(1);
  }

  @Test
  void aReplicaWhoseUrlIsNotKnownYetDoesNotRegister() {
    urlOfA.set("");
    assertThat(a.beat()).isFalse();
    assertThat(b.live("1@a")).isEmpty();
  }
}
