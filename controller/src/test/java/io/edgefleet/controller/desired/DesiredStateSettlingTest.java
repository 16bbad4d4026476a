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
}
