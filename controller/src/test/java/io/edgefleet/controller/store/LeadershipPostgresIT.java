package io.edgefleet.controller.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Replicas on one real PostgreSQL elect one leader, and another takes over when it goes. */
class LeadershipPostgresIT {
  private static TestPostgres postgres;

  @BeforeAll
  static void startPostgres() {
    postgres = TestPostgres.start();
  }

  @AfterAll
  static void stopPostgres() {
    postgres.close();
  }

  Database db1;
  Database db2;
  Leadership one;
  Leadership two;

  @BeforeEach
  void open() {
    String url = postgres.newDatabaseUrl("leader");
    db1 = Database.open(url, null, null);
    db2 = Database.open(url, null, null);
    one = new Leadership(db1, "one");
    two = new Leadership(db2, "two");
  }

  @AfterEach
  void close() {
    one.close();
    two.close();
    db1.close();
    db2.close();
  }

  @Test
  void exactlyOneLeadsAndOnlyItsJobsRun() {
    one.check();
    two.check();
    one.check();
    assertThat(List.of(one.leader(), two.leader())).containsExactly(true, false);
    AtomicInteger runs = new AtomicInteger();
    one.ifLeader(runs::incrementAndGet).run();
    two.ifLeader(runs::incrementAndGet).run();
    assertThat(runs).hasValue(1);
  }

  @Test
  void whenTheLeaderStopsAnotherTakesOverAndRedoesWhatTheLeaderMayHaveLeftHalfDone() {
    one.close();
    two.close();
    AtomicInteger electedOne = new AtomicInteger();
    AtomicInteger electedTwo = new AtomicInteger();
    one = new Leadership(db1, "one", electedOne::incrementAndGet);
    two = new Leadership(db2, "two", electedTwo::incrementAndGet);
    one.check();
    two.check();
    one.check();
    assertThat(electedOne).as("once, when it took the lead").hasValue(1);
    assertThat(electedTwo).hasValue(0);
    one.close();
    two.check();
    two.check();
    assertThat(electedTwo).hasValue(1);
    assertThat(two.leader()).isTrue();
    assertThat(one.leader()).isFalse();
    // It does not take the lead back while the other holds it.
    one.check();
    assertThat(one.leader()).isFalse();
  }

  @Test
  void aLeaderWhoseSessionDiesLosesTheLeadAndAnotherTakesIt() {
    one.check();
    two.check();
    // The leader's session ends as a killed process's or a cut-off host's would.
    db2.jdbi()
        .useHandle(
            h ->
                h.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                        + " AND objid = ? AND granted",
                    (int) (Leadership.KEY & 0xffffffffL)));
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              two.check();
              one.check();
              return two.leader() && !one.leader();
            });
  }

  @Test
  void onSqliteTheOneProcessLeads(@TempDir Path dir) {
    try (Database sqlite = Database.open(Database.sqliteUrl(dir), null, null);
        Leadership only = new Leadership(sqlite, "only")) {
      only.check();
      assertThat(only.leader()).isTrue();
    }
  }
}
