package io.edgefleet.controller.desired;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.TestDevices;
import io.edgefleet.controller.pki.SigningKeys;
import io.edgefleet.controller.store.Database;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A device is "settling" from the moment its recomputation is asked for until it ran: rollouts do
 * not release a device before its document says what it is to download ahead.
 */
class DesiredStateSettlingTest {
  static final Instant T0 = Instant.parse("2026-11-23T01:00:00Z");

  @TempDir Path dir;
  Database db;
  DesiredStateEngine desired;
  final CountDownLatch reading = new CountDownLatch(1);
  final CountDownLatch go = new CountDownLatch(1);

  /** A catalog whose first read waits until the test lets it go. */
  final AppCatalog slow =
      new AppCatalog() {
        @Override
        public List<App> apps() {
          reading.countDown();
          try {
            go.await(30, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return List.of();
        }

        @Override
        public Rendered render(App app, Map<String, String> tags, String kubeVersion) {
          throw new IllegalArgumentException("no apps");
        }
      };

  @AfterEach
  void close() {
    go.countDown();
    desired.close();
    db.close();
  }

  @Test
  void aDeviceSettlesFromItsRequestUntilItsRecomputationRan() throws Exception {
    db = Database.open(Database.sqliteUrl(dir), null, null);
    Clock clock = Clock.fixed(T0, ZoneOffset.UTC);
    desired =
        new DesiredStateEngine(
            db.jdbi(),
            clock,
            new DeviceStore(),
            new BundleStore(db.jdbi(), clock),
            SigningKeys.open(dir.resolve("pki"), clock),
            slow,
            ReleaseGate.OPEN,
            (id, nudge) -> {});
    TestDevices.insertActive(db.jdbi(), "dev-1", Map.of(), T0);
    TestDevices.insertActive(db.jdbi(), "dev-2", Map.of(), T0);
    assertThat(desired.settling("dev-1")).isFalse();

    desired.request("dev-1");
    assertThat(desired.settling("dev-1")).isTrue();
    assertThat(desired.settling("dev-2")).isFalse();
    // Taken from the queue and being computed: still settling.
    assertThat(reading.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(desired.settling("dev-1")).isTrue();
    go.countDown();
    await().atMost(Duration.ofSeconds(10)).until(() -> !desired.settling("dev-1"));

    desired.requestAll();
    assertThat(desired.settling("dev-2")).isTrue();
    await().atMost(Duration.ofSeconds(10)).until(() -> !desired.settling("dev-2"));
  }

  /**
   * A rollout asks whether a device settles inside its transaction, holding SQLite's only
   * connection, while the worker lists every device for a recomputation of all: the worker must not
   * wait for that connection while holding what settling() needs (they deadlocked until the pool's
   * 30 s timeout, and every other request of the controller waited with them).
   */
  @Test
  void settlingAnswersWhileTheCallerHoldsTheOnlyConnectionAndAllDevicesAreListed()
      throws Exception {
    db = Database.open(Database.sqliteUrl(dir), null, null);
    Clock clock = Clock.fixed(T0, ZoneOffset.UTC);
    go.countDown();
    desired =
        new DesiredStateEngine(
            db.jdbi(),
            clock,
            new DeviceStore(),
            new BundleStore(db.jdbi(), clock),
            SigningKeys.open(dir.resolve("pki"), clock),
            slow,
            ReleaseGate.OPEN,
            (id, nudge) -> {});
    TestDevices.insertActive(db.jdbi(), "dev-1", Map.of(), T0);
    java.util.concurrent.ExecutorService other =
        java.util.concurrent.Executors.newSingleThreadExecutor();
    try {
      boolean answered =
          db.jdbi()
              .inTransaction(
                  h -> {
                    desired.requestAll();
                    // The worker is now waiting for the connection this transaction holds.
                    await()
                        .atMost(Duration.ofSeconds(10))
                        .until(DesiredStateSettlingTest::workerWaitsForAConnection);
                    java.util.concurrent.Future<Boolean> settling =
                        other.submit(() -> desired.settling("dev-1"));
                    return settling.get(5, TimeUnit.SECONDS);
                  });
      assertThat(answered).isTrue();
      await().atMost(Duration.ofSeconds(10)).until(() -> !desired.settling("dev-1"));
    } finally {
      other.shutdownNow();
    }
  }

  private static boolean workerWaitsForAConnection() {
    return Thread.getAllStackTraces().entrySet().stream()
        .filter(e -> e.getKey().getName().equals("edgefleet-desired-state"))
        .anyMatch(
            e ->
                java.util.Arrays.stream(e.getValue())
                    .anyMatch(f -> f.getClassName().contains("HikariPool")));
  }
}
