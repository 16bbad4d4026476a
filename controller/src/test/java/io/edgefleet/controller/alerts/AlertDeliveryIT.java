package io.edgefleet.controller.alerts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.devices.Presence;
import io.edgefleet.controller.devices.TestDevices;
import io.edgefleet.controller.secrets.SecretBox;
import io.edgefleet.controller.store.Database;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The alert engine with its real HTTP sender against receivers on loopback sockets: a receiver that
 * drips its answer neither holds up rule evaluation nor another receiver's notifications.
 */
class AlertDeliveryIT {
  static final Instant T0 = Instant.parse("2026-11-23T10:00:00Z");
  static final Duration DEADLINE = Duration.ofSeconds(5);

  @TempDir Path dir;
  Database db;
  AlertRules rules;
  AlertReceivers receivers;
  AlertEngine engine;
  TestReceiver drip;
  TestReceiver ops;
  final AtomicReference<Instant> now = new AtomicReference<>(T0);
  final Map<String, DeviceStatus> status = new ConcurrentHashMap<>();
  final Map<String, Presence.Snapshot> presence = new ConcurrentHashMap<>();
  final Clock clock =
      new Clock() {
        @Override
        public ZoneId getZone() {
          return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
          return this;
        }

        @Override
        public Instant instant() {
          return now.get();
        }
      };

  @BeforeEach
  void open() throws Exception {
    db = Database.open(Database.sqliteUrl(dir), null, null);
    AuditLog audit = new AuditLog(db.jdbi(), clock);
    rules = new AlertRules(db.jdbi(), clock, audit);
    receivers = new AlertReceivers(db.jdbi(), clock, audit, SecretBox.ofKey(new byte[32]), rules);
    engine =
        new AlertEngine(
            db.jdbi(),
            clock,
            rules,
            receivers,
            id -> status.getOrDefault(id, DeviceStatus.ONLINE),
            id ->
                presence.getOrDefault(
                    id, new Presence.Snapshot(Optional.of(now.get()), true, Optional.empty())),
            null,
            UnaryOperator.identity(),
            AlertOptions.defaults().withSendTimeout(DEADLINE),
            () -> "https://controller.test:7443",
            (format, outcome) -> {});
    drip = TestReceiver.start(new TestReceiver.Drip(500, Duration.ofSeconds(1)));
    ops = TestReceiver.start(new TestReceiver.Ok());
    // "drip" sorts first: it is the first receiver every notification goes to.
    receiver("drip", drip.url("/hook"));
    receiver("ops", ops.url("/hook"));
    rules.create(
        AlertEngineContract.json(
            "{\"name\":\"offline\",\"type\":\"device-offline\",\"for\":\"1s\"}"),
        "test");
  }

  @AfterEach
  void close() {
    drip.close();
    ops.close();
    engine.close();
    db.close();
  }

  void receiver(String name, String url) {
    receivers.create(
        AlertEngineContract.json(
            "{\"name\":\"" + name + "\",\"format\":\"generic\",\"url\":\"" + url + "\"}"),
        "test");
  }

  void offline(String id, Instant since) {
    TestDevices.insertActive(db.jdbi(), id, Map.of("site", "s1"), T0.minusSeconds(3600));
    status.put(id, DeviceStatus.OFFLINE);
    presence.put(id, new Presence.Snapshot(Optional.of(since), false, Optional.of(since)));
  }

  /** Runs a tick on its own thread, so a tick that blocks shows as a timeout, not a hung test. */
  CompletableFuture<AlertEngine.Tick> tick(Instant at) {
    now.set(at);
    return CompletableFuture.supplyAsync(() -> engine.tick(at));
  }

  List<String> delivered(TestReceiver r, String device) {
    return r.requests().stream()
        .map(TestReceiver.Request::body)
        .filter(b -> b.contains("\"" + device + "\""))
        .toList();
  }

  @Test
  void aDrippingReceiverDelaysNeitherEvaluationNorAnotherReceiver() throws Exception {
    offline("d1", T0);
    long start = System.nanoTime();
    AlertEngine.Tick first = tick(T0.plusSeconds(5)).get(2, TimeUnit.SECONDS);
    assertThat(first.fired()).isEqualTo(1);
    // The healthy receiver has its notification long before the dripping one's deadline.
    await()
        .atMost(Duration.ofSeconds(2))
        .untilAsserted(() -> assertThat(delivered(ops, "d1")).hasSize(1));
    assertThat(TestReceiver.since(start)).isLessThan(DEADLINE.dividedBy(2));
    assertThat(drip.requests()).hasSize(1);

    // While that delivery still drips, the next evaluation runs and its alert goes out.
    offline("d2", T0.plusSeconds(5));
    long again = System.nanoTime();
    AlertEngine.Tick second = tick(T0.plusSeconds(7)).get(2, TimeUnit.SECONDS);
    assertThat(second.fired()).isEqualTo(1);
    await()
        .atMost(Duration.ofSeconds(2))
        .untilAsserted(() -> assertThat(delivered(ops, "d2")).hasSize(1));
    assertThat(TestReceiver.since(again)).isLessThan(DEADLINE.dividedBy(2));
    assertThat(TestReceiver.since(start)).isLessThan(DEADLINE);

    // The dripping delivery ends at its deadline as a failure to retry, with what it read.
    await()
        .atMost(DEADLINE.plusSeconds(10))
        .untilAsserted(
            () ->
                assertThat(engine.list(Optional.empty(), 10))
                    .filteredOn(a -> a.deviceId().equals("d1"))
                    .singleElement()
                    .satisfies(
                        a -> {
                          assertThat(a.delivery().sent()).isEqualTo(1);
                          assertThat(a.delivery().pending()).isEqualTo(1);
                          assertThat(a.delivery().lastError()).startsWith("HTTP 500");
                        }));
    // And its connection is closed: the receiver's next drip finds it gone.
    await().atMost(Duration.ofSeconds(5)).until(() -> drip.answersCut() == 1);
  }

  @Test
  void closingAbortsADeliveryUnderWayAndHandsItBackUncounted() throws Exception {
    offline("d1", T0);
    tick(T0.plusSeconds(5)).get(2, TimeUnit.SECONDS);
    await()
        .atMost(Duration.ofSeconds(2))
        .untilAsserted(() -> assertThat(delivered(ops, "d1")).hasSize(1));
    await().atMost(Duration.ofSeconds(2)).until(() -> drip.requests().size() == 1);

    long start = System.nanoTime();
    engine.close();
    assertThat(TestReceiver.since(start)).isLessThan(DEADLINE.dividedBy(2));
    record Row(String state, int attempts, long nextAttemptAt, String lastError) {}
    List<Row> rows =
        db.jdbi()
            .withHandle(
                h ->
                    h.createQuery(
                            "SELECT n.state, n.attempts, n.next_attempt_at, n.last_error FROM"
                                + " alert_notifications n JOIN alert_receivers r ON r.id ="
                                + " n.receiver_id WHERE r.name = 'drip'")
                        .map(
                            (rs, ctx) ->
                                new Row(
                                    rs.getString(1), rs.getInt(2), rs.getLong(3), rs.getString(4)))
                        .list());
    // Due again at once after a restart, and not counted against the receiver.
    assertThat(rows).containsExactly(new Row("PENDING", 0, T0.plusSeconds(5).toEpochMilli(), null));
  }
}
