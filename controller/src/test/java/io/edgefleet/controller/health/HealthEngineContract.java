package io.edgefleet.controller.health;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.desired.AppStatusService;
import io.edgefleet.controller.devices.DeviceRecord;
import io.edgefleet.controller.devices.DeviceService;
import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.devices.DeviceStatuses;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.DeviceView;
import io.edgefleet.controller.devices.Presence;
import io.edgefleet.controller.devices.TestDevices;
import io.edgefleet.controller.events.DeviceEvents;
import io.edgefleet.controller.events.EventLimits;
import io.edgefleet.controller.store.Database;
import io.edgefleet.controller.telemetry.TelemetryIngest;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.Telemetry;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.jdbi.v3.core.statement.SqlLogger;
import org.jdbi.v3.core.statement.StatementContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The health engine against a real database with the real registry, presence and app status
 * service, advanced by {@code tick(now)} on a clock the test moves. Run on SQLite ({@code
 * HealthEngineTest}) and on PostgreSQL ({@code HealthEnginePostgresIT}).
 */
abstract class HealthEngineContract {
  static final Instant T0 = Instant.parse("2026-11-23T01:00:00Z");
  static final Duration OFFLINE_AFTER = Duration.ofSeconds(90);

  @TempDir Path dir;
  Database db;
  TestClock clock;
  Presence presence;
  DeviceService devices;
  AppStatusService apps;
  HealthEngine health;
  final Map<String, Telemetry.Metrics> metrics = new HashMap<>();

  abstract String databaseUrl(Path dataDir);

  @BeforeEach
  void open() {
    db = Database.open(databaseUrl(dir), null, null);
    clock = new TestClock(T0);
    presence = new Presence(db.jdbi(), clock);
    start();
  }

  /** (Re)starts the controller's part under test on the same database, as after a restart. */
  void start() {
    start(id -> true);
  }

  /** (Re)starts with this allowance for app events. */
  void start(Predicate<String> admitAppEvent) {
    DeviceStatuses statuses = new DeviceStatuses(clock, presence, OFFLINE_AFTER);
    health =
        new HealthEngine(
            db.jdbi(),
            clock,
            HealthPolicy.defaults(),
            id -> Optional.ofNullable(metrics.get(id)),
            statuses,
            admitAppEvent);
    health.load();
    devices =
        new DeviceService(
            db.jdbi(),
            clock,
            new DeviceStore(),
            presence,
            null,
            new AuditLog(db.jdbi(), clock),
            statuses,
            (id, reason) -> {},
            health,
            id -> {});
    apps = new AppStatusService(db.jdbi(), clock, devices::presenceStatus);
  }

  @AfterEach
  void close() {
    db.close();
  }

  // ------------------------------------------------------------------ scenarios

  @Test
  void aFailedAppMakesAnOnlineDeviceDegradedAndSinceSurvivesARestart() {
    device("d1");
    desired("d1", "web", T0.minus(Duration.ofHours(1)));
    presence.connected("d1");
    report("d1", "web", AppState.Phase.READY, "");
    health.tick(at(1));
    assertThat(view("d1").status()).isEqualTo(DeviceStatus.ONLINE);

    clock.set(at(10));
    report("d1", "web", AppState.Phase.FAILED, "web: 1/1 pods in CrashLoopBackOff");
    DeviceView degraded = view("d1");
    assertThat(degraded.status()).isEqualTo(DeviceStatus.DEGRADED);
    assertThat(degraded.statusReason())
        .isEqualTo("app web FAILED: web: 1/1 pods in CrashLoopBackOff");
    assertThat(degraded.statusSince()).isEqualTo(at(10));
    assertThat(health.tick(at(11))).isEqualTo(1);

    // A restart: new services on the same database, the device still connected and failing.
    presence.flush();
    clock.set(at(300));
    presence = new Presence(db.jdbi(), clock);
    presence.load();
    presence.connected("d1");
    start();
    DeviceView after = view("d1");
    assertThat(after.status()).isEqualTo(DeviceStatus.DEGRADED);
    assertThat(after.statusSince()).isEqualTo(at(10));
    assertThat(health.tick(at(301))).isZero();
    assertThat(view("d1").statusSince()).isEqualTo(at(10));

    // Fixed: ONLINE again, since then.
    clock.set(at(400));
    presence.heartbeat("d1");
    report("d1", "web", AppState.Phase.READY, "");
    assertThat(health.tick(at(400))).isEqualTo(1);
    assertThat(view("d1").status()).isEqualTo(DeviceStatus.ONLINE);
    assertThat(view("d1").statusSince()).isEqualTo(at(400));
  }

  @Test
  void aRefusedDesiredStateIsErrorWhileOnlineButAnOfflineDeviceIsOfflineNotError() {
    device("d1");
    desired("d1", "web", T0);
    issued("d1", T0);
    presence.connected("d1");
    report("d1", "web", AppState.Phase.READY, "");
    health.tick(at(1));
    clock.set(at(5));
    AgentMessage.Event refusal =
        new AgentMessage.Event(
            "desired-state-replayed", "generation 3 is not above the held generation 7", at(5));
    new DeviceEvents(db.jdbi(), clock, EventLimits.defaults()).record("d1", refusal);
    health.reported("d1", refusal);
    health.tick(at(5));
    DeviceView error = view("d1");
    assertThat(error.status()).isEqualTo(DeviceStatus.ERROR);
    assertThat(error.statusReason())
        .contains("generation 3 is not above the held generation 7")
        .contains("restored from an older backup");
    assertThat(error.statusSince()).isEqualTo(at(5));

    clock.set(at(20));
    presence.disconnected("d1");
    DeviceView offline = view("d1");
    assertThat(offline.status()).isEqualTo(DeviceStatus.OFFLINE);
    assertThat(offline.statusReason()).startsWith("connection closed 0s ago");
    assertThat(offline.statusSince()).isEqualTo(at(20));
    health.tick(at(20));
    assertThat(healthEvents("d1")).containsExactly("ERROR", "OFFLINE");

    // A new document clears the refusal once the device is back.
    clock.set(at(60));
    presence.connected("d1");
    assertThat(view("d1").status()).isEqualTo(DeviceStatus.ERROR);
    issued("d1", at(60));
    health.desiredChanged("d1");
    health.tick(at(61));
    assertThat(view("d1").status()).isEqualTo(DeviceStatus.ONLINE);
  }

  @Test
  void aRefusalDeliveredThroughTheOutboxAlsoCounts() {
    device("d1");
    desired("d1", "web", T0);
    issued("d1", T0);
    presence.connected("d1");
    report("d1", "web", AppState.Phase.READY, "");
    clock.set(at(5));
    var sink = health.observing(new TelemetryIngest(db.jdbi(), clock));
    sink.batch(
        "d1",
        List.of(
            new Telemetry.DeviceEvent(
                1,
                at(4),
                "desired-state-bad-signature",
                "error",
                null,
                "the desired state signature does not verify")));
    health.tick(at(6));
    assertThat(view("d1").status()).isEqualTo(DeviceStatus.ERROR);
    assertThat(view("d1").statusReason()).contains("does not trust this controller's signing key");
  }

  @Test
  void appPhaseChangesAreAppEventsAndStatusChangesHealthEvents() {
    device("d1");
    desired("d1", "web", T0);
    presence.connected("d1");
    health.tick(at(1));
    report("d1", "web", AppState.Phase.PROGRESSING, "0/1 ready");
    report("d1", "web", AppState.Phase.PROGRESSING, "0/1 ready");
    clock.set(at(2));
    report("d1", "web", AppState.Phase.FAILED, "crashing");
    health.tick(at(2));
    clock.set(at(3));
    report("d1", "web", AppState.Phase.READY, "");
    health.tick(at(3));
    List<String> appEvents =
        db.jdbi()
            .withHandle(
                h ->
                    h.createQuery(
                            "SELECT message FROM fleet_events WHERE device_id = 'd1' AND source ="
                                + " 'app' ORDER BY at, message")
                        .mapTo(String.class)
                        .list());
    assertThat(appEvents)
        .containsExactly(
            "web r1 PROGRESSING: 0/1 ready",
            "web r1 FAILED: crashing (was PROGRESSING)",
            "web r1 READY (was FAILED)");
    assertThat(healthEvents("d1")).containsExactly("DEGRADED", "ONLINE");
  }

  @Test
  void appEventsBeyondTheDevicesEventAllowanceAreDroppedWhileItsAppsAreStillFollowed() {
    DeviceEvents allowance =
        new DeviceEvents(db.jdbi(), clock, EventLimits.defaults().withRate(2, 1));
    start(allowance::admit);
    device("d1");
    desired("d1", "web", T0);
    presence.connected("d1");
    health.tick(at(1));
    for (int i = 0; i < 10; i++) {
      report("d1", "web", i % 2 == 0 ? AppState.Phase.FAILED : AppState.Phase.READY, "");
    }
    assertThat(rows("SELECT COUNT(*) FROM fleet_events WHERE source = 'app'")).isEqualTo(2);
    assertThat(allowance.dropped()).isEqualTo(8);

    clock.advance(java.time.Duration.ofMinutes(1));
    report("d1", "web", AppState.Phase.FAILED, "crashing");
    assertThat(rows("SELECT COUNT(*) FROM fleet_events WHERE source = 'app'")).isEqualTo(3);
  }

  long rows(String sql) {
    return db.jdbi().withHandle(h -> h.createQuery(sql).mapTo(Long.class).one());
  }

  @Test
  void aFullDiskFromTheLatestMetricsIsDegraded() {
    device("d1");
    presence.connected("d1");
    clock.set(at(30));
    metrics.put(
        "d1",
        new Telemetry.Metrics(
            4,
            at(0),
            at(29),
            Map.of("disk./.used.percent", new Telemetry.Stat(91, 95, 93, 95.2, 6))));
    DeviceView v = view("d1");
    assertThat(v.status()).isEqualTo(DeviceStatus.DEGRADED);
    assertThat(v.statusReason()).isEqualTo("disk / 95% full");
  }

  @Test
  void listingTenThousandDevicesReadsTheRegistryOnceAndDerivesStatusInMemory() {
    int n = 10_000;
    DeviceStore store = new DeviceStore();
    db.jdbi()
        .useTransaction(
            h -> {
              for (int i = 0; i < n; i++) {
                store.insert(h, record(String.format("d%05d", i), Map.of()), T0.toEpochMilli());
              }
            });
    for (int i = 0; i < n; i += 3) {
      presence.connected(String.format("d%05d", i));
    }
    health.load();
    health.tick(at(1));
    AtomicInteger statements = new AtomicInteger();
    db.jdbi()
        .setSqlLogger(
            new SqlLogger() {
              @Override
              public void logAfterExecution(StatementContext context) {
                statements.incrementAndGet();
              }
            });
    List<DeviceView> all = devices.list(Optional.empty());
    assertThat(all).hasSize(n);
    assertThat(all.stream().filter(v -> v.status() == DeviceStatus.ONLINE)).hasSize(3334);
    assertThat(statements.get()).isEqualTo(1);
  }

  // ------------------------------------------------------------------ helpers

  static Instant at(int seconds) {
    return T0.plusSeconds(seconds);
  }

  DeviceView view(String id) {
    return devices.get(id);
  }

  void device(String id) {
    db.jdbi().useHandle(h -> new DeviceStore().insert(h, record(id, Map.of()), T0.toEpochMilli()));
    health.deviceChanged(id);
  }

  static DeviceRecord record(String id, Map<String, String> tags) {
    DeviceFacts facts =
        new DeviceFacts(
            "h", null, List.of(), "amd64", 1, 8_000_000_000L, 1, "Linux", "6", "t", false, false);
    return TestDevices.active(id, tags, facts, T0);
  }

  /** The device should run {@code app} at revision r1 since {@code since}. */
  void desired(String id, String app, Instant since) {
    db.jdbi()
        .useHandle(
            h ->
                h.createUpdate(
                        "INSERT INTO device_apps (device_id, app, source, desired_revision,"
                            + " desired_since) VALUES (:d, :a, 'catalog', 'r1', :since)")
                    .bind("d", id)
                    .bind("a", app)
                    .bind("since", since.toEpochMilli())
                    .execute());
    health.desiredChanged(id);
  }

  /** The controller issued a new desired-state document for the device at {@code at}. */
  void issued(String id, Instant at) {
    db.jdbi()
        .useHandle(
            h ->
                h.createUpdate(
                        "INSERT INTO device_desired (device_id, generation, fingerprint, payload,"
                            + " signature, updated_at) VALUES (:d, 1, 'f', 'p', 's', :at) ON"
                            + " CONFLICT (device_id) DO UPDATE SET generation ="
                            + " device_desired.generation + 1, updated_at = excluded.updated_at")
                    .bind("d", id)
                    .bind("at", at.toEpochMilli())
                    .execute());
  }

  /** The device reports the app at revision r1, as an agent does over its connection. */
  void report(String id, String app, AppState.Phase phase, String reason) {
    AgentMessage.AppReport r =
        new AgentMessage.AppReport(1, List.of(new AppState(app, "r1", phase, reason)));
    apps.report(id, r);
    health.reported(id, r);
  }

  List<String> healthEvents(String id) {
    return db.jdbi()
        .withHandle(
            h ->
                h.createQuery(
                        "SELECT kind FROM fleet_events WHERE device_id = :d AND source = 'health'"
                            + " ORDER BY at, id")
                    .bind("d", id)
                    .mapTo(String.class)
                    .list());
  }
}
