package io.edgefleet.controller.alerts;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.devices.Presence;
import io.edgefleet.controller.devices.TestDevices;
import io.edgefleet.controller.health.ControllerLiveness;
import io.edgefleet.controller.secrets.SecretBox;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The alert engine against a real database, advanced by {@code tick(now)} with explicit instants,
 * delivering through a recording sender that can be told to fail. Runs on SQLite ({@code
 * AlertEngineTest}) and PostgreSQL ({@code AlertEnginePostgresIT}): the same SQL on both.
 */
abstract class AlertEngineContract {
  static final Instant T0 = Instant.parse("2026-11-23T10:00:00Z");

  @TempDir Path dir;
  Database db;
  AlertRules rules;
  AlertReceivers receivers;
  AlertEngine engine;
  final AtomicReference<Instant> now = new AtomicReference<>(T0);
  final Map<String, DeviceStatus> status = new ConcurrentHashMap<>();
  final Map<String, Presence.Snapshot> presence = new ConcurrentHashMap<>();
  final Recorder sender = new Recorder();
  final AlertOptions options =
      AlertOptions.defaults().withRetry(Duration.ofSeconds(10), Duration.ofMinutes(1), 4);
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

  abstract String databaseUrl(Path dataDir);

  /** What one delivery carried. */
  record Sent(String receiver, JsonNode body) {
    String status() {
      return body.path("status").asText();
    }
  }

  /** Records deliveries; answers from a script per receiver, then "delivered". */
  static final class Recorder implements WebhookSender {
    final List<Sent> calls = new ArrayList<>();
    final Map<String, Deque<Result>> script = new HashMap<>();

    @Override
    public synchronized Result send(AlertReceivers.Target target, byte[] body) {
      try {
        calls.add(
            new Sent(
                target.name(), Json.mapper().readTree(new String(body, StandardCharsets.UTF_8))));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      Deque<Result> q = script.get(target.name());
      return q == null || q.isEmpty() ? Result.ok(200) : q.poll();
    }

    synchronized void failNext(String receiver, int times, boolean retryable) {
      Deque<Result> q = script.computeIfAbsent(receiver, k -> new ArrayDeque<>());
      for (int i = 0; i < times; i++) {
        q.add(Result.failed(retryable, retryable ? "HTTP 500: boom" : "HTTP 400: bad payload"));
      }
    }

    synchronized List<Sent> to(String receiver) {
      return calls.stream().filter(c -> c.receiver().equals(receiver)).toList();
    }
  }

  @BeforeEach
  void open() {
    db = Database.open(databaseUrl(dir), null, null);
    AuditLog audit = new AuditLog(db.jdbi(), clock);
    rules = new AlertRules(db.jdbi(), clock, audit);
    receivers = new AlertReceivers(db.jdbi(), clock, audit, SecretBox.ofKey(new byte[32]), rules);
    engine = engine();
  }

  @AfterEach
  void close() {
    db.close();
  }

  /** A fresh engine over the same database, as after a controller restart. */
  AlertEngine engine() {
    return engine(UnaryOperator.identity());
  }

  AlertEngine engine(UnaryOperator<Instant> offlineFrom) {
    return new AlertEngine(
        db.jdbi(),
        clock,
        rules,
        receivers,
        new FleetFacts(
            db.jdbi(),
            id -> status.getOrDefault(id, DeviceStatus.ONLINE),
            id ->
                presence.getOrDefault(
                    id, new Presence.Snapshot(Optional.of(now.get()), true, Optional.empty())),
            null,
            offlineFrom),
        sender,
        options,
        () -> "https://controller.test:7443",
        // Deliveries run inside tick(), so each scenario reads them right after it.
        Runnable::run,
        (format, outcome) -> {});
  }

  AlertEngine.Tick tick(Instant at) {
    now.set(at);
    return engine.tick(at);
  }

  void device(String id) {
    TestDevices.insertActive(db.jdbi(), id, Map.of("site", "s1"), T0.minusSeconds(3600));
  }

  void offline(String id, Instant since) {
    status.put(id, DeviceStatus.OFFLINE);
    presence.put(id, new Presence.Snapshot(Optional.of(since), false, Optional.of(since)));
  }

  void online(String id) {
    status.put(id, DeviceStatus.ONLINE);
    presence.remove(id);
  }

  void receiver(String name, String format) {
    receivers.create(
        json(
            "{\"name\":\""
                + name
                + "\",\"format\":\""
                + format
                + "\",\"url\":\"https://hooks.test/"
                + name
                + "/secret\"}"),
        "test");
  }

  Rule rule(String json) {
    return rules.create(json(json), "test");
  }

  static JsonNode json(String text) {
    try {
      return Json.mapper().readTree(text);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  // ------------------------------------------------------------------------------- scenarios

  @Test
  void anOfflineDeviceFiresOnceAfterForAndResolvesOnceWhenBack() {
    device("d1");
    receiver("hook", "generic");
    rule("{\"name\":\"offline\",\"type\":\"device-offline\",\"for\":\"2m\"}");
    assertThat(tick(T0).fired()).isZero();

    Instant lost = T0.plusSeconds(10);
    offline("d1", lost);
    tick(T0.plusSeconds(60));
    assertThat(sender.calls).isEmpty();
    assertThat(engine.list(Optional.empty(), 10))
        .singleElement()
        .satisfies(
            a -> {
              assertThat(a.state()).isEqualTo("PENDING");
              assertThat(a.since()).isEqualTo(lost);
            });

    assertThat(tick(lost.plus(Duration.ofMinutes(2))).fired()).isEqualTo(1);
    for (int i = 1; i <= 5; i++) {
      assertThat(tick(lost.plus(Duration.ofMinutes(2 + i))).fired()).isZero();
    }
    assertThat(sender.calls).hasSize(1);
    Sent firing = sender.calls.getFirst();
    assertThat(firing.status()).isEqualTo("firing");
    assertThat(firing.body().path("alert").path("labels").path("device").asText()).isEqualTo("d1");
    assertThat(firing.body().path("alert").path("startsAt").asText()).isEqualTo(lost.toString());
    assertThat(firing.body().path("alert").has("endsAt")).isFalse();

    online("d1");
    Instant back = lost.plus(Duration.ofMinutes(9));
    assertThat(tick(back).resolved()).isEqualTo(1);
    tick(back.plusSeconds(60));
    tick(back.plusSeconds(120));
    assertThat(sender.calls).hasSize(2);
    Sent resolved = sender.calls.get(1);
    assertThat(resolved.status()).isEqualTo("resolved");
    assertThat(resolved.body().path("alert").path("fingerprint").asText())
        .isEqualTo(firing.body().path("alert").path("fingerprint").asText());
    assertThat(resolved.body().path("alert").path("endsAt").asText()).isEqualTo(back.toString());

    AlertEngine.AlertView view = engine.list(Optional.empty(), 10).getFirst();
    assertThat(view.state()).isEqualTo("RESOLVED");
    assertThat(view.resolvedAt()).isEqualTo(back);
    assertThat(view.delivery().sent()).isEqualTo(2);
  }

  @Test
  void aControllerRestartRaisesNoOfflineAlertForDevicesThatReconnectWithinTheGrace() {
    Duration grace = Duration.ofSeconds(90);
    // The controller ran until T0, then was down for three minutes.
    ControllerLiveness.start(db.jdbi(), clock, grace).beat();
    Instant restart = T0.plus(Duration.ofMinutes(3));
    now.set(restart);
    ControllerLiveness liveness = ControllerLiveness.start(db.jdbi(), clock, grace);
    engine = engine(liveness::offlineSince);
    receiver("hook", "generic");
    rule("{\"name\":\"offline\",\"type\":\"device-offline\",\"for\":\"2m\"}");
    for (String d : List.of("d1", "d2", "d3")) {
      device(d);
      // Last heard just before the controller stopped.
      offline(d, T0.minusSeconds(5));
    }
    // Already offline for an hour while the controller ran: its time still counts.
    device("gone");
    offline("gone", T0.minus(Duration.ofHours(1)));

    assertThat(tick(restart).fired()).isEqualTo(1);
    online("d1");
    online("d2");
    assertThat(tick(restart.plusSeconds(30)).fired()).isZero();
    assertThat(tick(restart.plus(grace)).fired()).isZero();
    assertThat(tick(restart.plus(grace).plus(Duration.ofMinutes(2)).minusSeconds(1)).fired())
        .isZero();
    // d3 stayed away past the grace: it is offline, counted from the end of the grace.
    assertThat(tick(restart.plus(grace).plus(Duration.ofMinutes(2))).fired()).isEqualTo(1);

    assertThat(sender.calls)
        .extracting(c -> c.body().path("alert").path("labels").path("device").asText())
        .containsExactly("gone", "d3");
    assertThat(sender.calls).allSatisfy(c -> assertThat(c.status()).isEqualTo("firing"));
    List<String> down =
        db.jdbi()
            .withHandle(
                h ->
                    h.createQuery(
                            "SELECT message FROM fleet_events WHERE source = 'controller'"
                                + " AND kind = 'controller-down'")
                        .mapTo(String.class)
                        .list());
    assertThat(down)
        .singleElement()
        .satisfies(
            m ->
                assertThat(m)
                    .startsWith("controller was down from " + T0 + " to " + restart + " (3m)"));
  }

  @Test
  void aConditionThatClearsBeforeForNeverNotifies() {
    device("d1");
    receiver("hook", "generic");
    rule("{\"name\":\"offline\",\"type\":\"device-offline\",\"for\":\"2m\"}");
    offline("d1", T0);
    tick(T0.plusSeconds(30));
    online("d1");
    tick(T0.plusSeconds(60));
    tick(T0.plusSeconds(600));
    assertThat(sender.calls).isEmpty();
    assertThat(engine.list(Optional.of("all"), 10)).isEmpty();
  }

  @Test
  void theSameConditionLaterFiresAgainAsANewEpisode() {
    device("d1");
    receiver("hook", "generic");
    rule("{\"name\":\"offline\",\"type\":\"device-offline\",\"for\":\"1m\"}");
    offline("d1", T0);
    tick(T0.plusSeconds(61));
    online("d1");
    tick(T0.plusSeconds(120));
    offline("d1", T0.plusSeconds(200));
    tick(T0.plusSeconds(300));
    assertThat(sender.calls)
        .extracting(Sent::status)
        .containsExactly("firing", "resolved", "firing");
    assertThat(sender.calls.get(2).body().path("alert").path("startsAt").asText())
        .isEqualTo(T0.plusSeconds(200).toString());
    assertThat(engine.list(Optional.empty(), 10))
        .singleElement()
        .satisfies(a -> assertThat(a.state()).isEqualTo("FIRING"));
  }

  @Test
  void aFailedDeliveryIsRetriedWithDoublingWaitsAndDeliveredOnce() {
    device("d1");
    receiver("flaky", "generic");
    rule("{\"name\":\"offline\",\"type\":\"device-offline\",\"for\":\"1s\"}");
    sender.failNext("flaky", 2, true);
    offline("d1", T0);
    Instant fired = T0.plusSeconds(5);
    tick(fired);
    assertThat(sender.calls).hasSize(1);
    tick(fired.plusSeconds(9));
    assertThat(sender.calls).hasSize(1);
    tick(fired.plusSeconds(10));
    assertThat(sender.calls).hasSize(2);
    tick(fired.plusSeconds(29));
    assertThat(sender.calls).hasSize(2);
    AlertEngine.AlertView waiting = engine.list(Optional.empty(), 10).getFirst();
    assertThat(waiting.delivery().pending()).isEqualTo(1);
    assertThat(waiting.delivery().lastError()).contains("HTTP 500");
    tick(fired.plusSeconds(30));
    assertThat(sender.calls).hasSize(3);
    for (int i = 1; i <= 5; i++) {
      tick(fired.plusSeconds(30 + 60L * i));
    }
    assertThat(sender.calls).hasSize(3).extracting(Sent::status).containsOnly("firing");
    AlertEngine.AlertView done = engine.list(Optional.empty(), 10).getFirst();
    assertThat(done.delivery().sent()).isEqualTo(1);
    assertThat(done.delivery().pending()).isZero();
    assertThat(done.delivery().lastError()).isNull();
  }

  @Test
  void theBackoffDoublesFromTheBaseUpToTheCap() {
    assertThat(
            List.of(1, 2, 3, 4, 5, 6, 60).stream()
                .map(n -> AlertEngine.backoff(n, options).toSeconds())
                .toList())
        .containsExactly(10L, 20L, 40L, 60L, 60L, 60L, 60L);
    AlertOptions defaults = AlertOptions.defaults();
    assertThat(AlertEngine.backoff(1, defaults)).isEqualTo(Duration.ofSeconds(10));
    assertThat(AlertEngine.backoff(7, defaults)).isEqualTo(Duration.ofSeconds(640));
    assertThat(AlertEngine.backoff(8, defaults)).isEqualTo(Duration.ofMinutes(15));
    assertThat(AlertEngine.backoff(Integer.MAX_VALUE, defaults)).isEqualTo(Duration.ofMinutes(15));
  }

  @Test
  void aNotificationIsGivenUpAfterTheLastAttemptAndAtOnceOnAnAnswerRetryingCannotChange() {
    device("d1");
    receiver("down", "generic");
    receiver("picky", "slack");
    rule(
        "{\"name\":\"offline\",\"type\":\"device-offline\",\"for\":\"1s\",\"receivers\":[\"down\"]}");
    rule(
        "{\"name\":\"offline-slack\",\"type\":\"device-offline\",\"for\":\"1s\",\"receivers\":[\"picky\"]}");
    sender.failNext("down", 10, true);
    sender.failNext("picky", 10, false);
    offline("d1", T0);
    Instant t = T0.plusSeconds(5);
    for (int i = 0; i < 12; i++) {
      tick(t.plus(Duration.ofMinutes(i)));
    }
    // One device, two rules, one receiver each.
    assertThat(sender.to("down")).hasSize(options.maxAttempts());
    assertThat(sender.to("picky")).hasSize(1);
    List<AlertEngine.AlertView> alerts = engine.list(Optional.empty(), 10);
    assertThat(alerts).hasSize(2).allSatisfy(a -> assertThat(a.delivery().failed()).isEqualTo(1));
    assertThat(alerts)
        .extracting(a -> a.delivery().lastError())
        .containsExactlyInAnyOrder("HTTP 500: boom", "HTTP 400: bad payload");
  }

  @Test
  void aReceiverThatFailsIsNotTriedForItsOtherNotificationsUntilTheNextTick() {
    device("d1");
    device("d2");
    receiver("down", "generic");
    rule("{\"name\":\"offline\",\"type\":\"device-offline\",\"for\":\"1s\"}");
    sender.failNext("down", 1, true);
    offline("d1", T0);
    offline("d2", T0);
    Instant t = T0.plusSeconds(5);
    assertThat(tick(t).fired()).isEqualTo(2);
    // The first failed: the second would likely cost a timeout too, so it waits.
    assertThat(sender.to("down")).hasSize(1);
    tick(t.plusSeconds(1));
    assertThat(sender.to("down")).hasSize(2);
    // The failed one after its backoff.
    tick(t.plusSeconds(10));
    assertThat(sender.to("down")).hasSize(3);
    assertThat(sender.to("down"))
        .extracting(c -> c.body().path("alert").path("labels").path("device").asText())
        .containsExactly("d1", "d2", "d1");
    assertThat(engine.list(Optional.empty(), 10))
        .allSatisfy(a -> assertThat(a.delivery().sent()).isEqualTo(1));
  }

  @Test
  void aResolveIsNeverDeliveredBeforeItsFiring() {
    device("d1");
    receiver("flaky", "alertmanager");
    rule("{\"name\":\"offline\",\"type\":\"device-offline\",\"for\":\"1s\"}");
    sender.failNext("flaky", 1, true);
    offline("d1", T0);
    tick(T0.plusSeconds(5));
    online("d1");
    tick(T0.plusSeconds(6));
    assertThat(sender.calls).hasSize(1);
    tick(T0.plusSeconds(15));
    assertThat(sender.calls)
        .extracting(s -> s.body().path("status").asText())
        .containsExactly("firing", "firing", "resolved");
  }

  @Test
  void aRestartNeitherLosesNorRepeatsANotification() {
    device("d1");
    receiver("flaky", "generic");
    rule("{\"name\":\"offline\",\"type\":\"device-offline\",\"for\":\"1s\"}");
    sender.failNext("flaky", 1, true);
    offline("d1", T0);
    tick(T0.plusSeconds(5));
    assertThat(sender.calls).hasSize(1);

    engine = engine();
    tick(T0.plusSeconds(16));
    assertThat(sender.calls).hasSize(2);
    engine = engine();
    tick(T0.plusSeconds(30));
    tick(T0.plusSeconds(90));
    assertThat(sender.calls).hasSize(2);
    assertThat(engine.list(Optional.empty(), 10).getFirst().delivery().sent()).isEqualTo(1);
  }

  @Test
  void aRepeatIntervalNotifiesAgainWhileTheAlertFires() {
    device("d1");
    receiver("hook", "generic");
    rule("{\"name\":\"offline\",\"type\":\"device-offline\",\"for\":\"1m\",\"repeat\":\"1h\"}");
    offline("d1", T0);
    tick(T0.plusSeconds(60));
    tick(T0.plus(Duration.ofMinutes(59)));
    assertThat(sender.calls).hasSize(1);
    assertThat(tick(T0.plus(Duration.ofMinutes(61))).repeated()).isEqualTo(1);
    tick(T0.plus(Duration.ofMinutes(62)));
    assertThat(sender.calls).hasSize(2).extracting(Sent::status).containsOnly("firing");
    assertThat(sender.calls.get(1).body().path("alert").path("startsAt").asText())
        .isEqualTo(T0.toString());
  }

  @Test
  void onlyTheRulesReceiversAreNotifiedAndEveryReceiverWhenItNamesNone() {
    device("d1");
    receiver("ops", "generic");
    receiver("chat", "slack");
    rule(
        "{\"name\":\"to-ops\",\"type\":\"device-offline\",\"for\":\"1s\",\"receivers\":[\"ops\"]}");
    rule("{\"name\":\"to-all\",\"type\":\"device-offline\",\"for\":\"1s\"}");
    offline("d1", T0);
    tick(T0.plusSeconds(5));
    assertThat(sender.to("ops")).hasSize(2);
    assertThat(sender.to("chat")).hasSize(1);
    assertThat(sender.to("chat").getFirst().body().path("text").asText())
        .contains("[FIRING]")
        .contains("d1 is offline");
  }

  @Test
  void deletingARuleResolvesItsFiringAlerts() {
    device("d1");
    receiver("hook", "generic");
    Rule r = rule("{\"name\":\"offline\",\"type\":\"device-offline\",\"for\":\"1s\"}");
    offline("d1", T0);
    tick(T0.plusSeconds(5));
    rules.delete(r.name(), "test");
    tick(T0.plusSeconds(6));
    assertThat(sender.calls).extracting(Sent::status).containsExactly("firing", "resolved");
    assertThat(sender.calls.get(1).body().path("alert").path("description").asText())
        .contains("rule was deleted");
  }

  @Test
  void everyRuleTypeFiresFromWhatTheDatabaseHolds() {
    device("d1");
    device("d2");
    receiver("hook", "generic");
    rule("{\"name\":\"app\",\"type\":\"app-failed\",\"app\":\"web\"}");
    rule("{\"name\":\"disk\",\"type\":\"disk-usage\",\"percent\":90}");
    rule("{\"name\":\"cert\",\"type\":\"certificate-expiring\",\"within\":\"30d\"}");
    rule("{\"name\":\"paused\",\"type\":\"rollout-paused\",\"for\":\"10m\"}");
    rule("{\"name\":\"cluster\",\"type\":\"cluster-degraded\",\"selector\":\"region=eu\"}");
    db.jdbi()
        .useHandle(
            h -> {
              h.execute(
                  "INSERT INTO device_apps (device_id, app, source, desired_revision,"
                      + " desired_since, running_revision, phase, reason, reported_at) VALUES"
                      + " ('d1', 'web', 'catalog', 'r2', 0, 'r2', 'FAILED', 'ImagePullBackOff', 1),"
                      + " ('d2', 'web', 'catalog', 'r2', 0, 'r1', 'FAILED', 'old revision', 1),"
                      + " ('d2', 'pos', 'catalog', 'r2', 0, 'r2', 'FAILED', 'other app', 1)");
              h.execute(
                  "INSERT INTO device_metrics (device_id, seq, from_at, at, metrics, received_at)"
                      + " VALUES ('d1', 1, 0, 1, ?, 1), ('d1', 2, 1, 2, ?, 2), ('d2', 7, 0, 1, ?,"
                      + " 1)",
                  "{\"disk./.used.percent\":{\"min\":1,\"max\":99,\"mean\":50,\"last\":99,\"count\":3}}",
                  "{\"disk./.used.percent\":{\"min\":1,\"max\":99,\"mean\":50,\"last\":40,\"count\":3}}",
                  "{\"disk./data.used.percent\":{\"min\":91,\"max\":93,\"mean\":92,\"last\":92.5,\"count\":3}}");
              h.execute(
                  "UPDATE devices SET certificate_expires_at = ? WHERE id = 'd2'",
                  T0.plus(Duration.ofDays(5)).toEpochMilli());
              h.execute(
                  "INSERT INTO rollouts (id, seq, subject, app, source, to_revision, policy, state,"
                      + " batch, reason, created_by, created_at, updated_at) VALUES ('ro-1', 1,"
                      + " 'catalog/web', 'web', 'catalog', 'r2', '{}', 'PAUSED', 0, 'batch 1"
                      + " failed', 'test', 0, ?)",
                  T0.toEpochMilli());
              for (String[] c :
                  new String[][] {
                    {"fra-1", "DEGRADED", "{\"region\":\"eu\"}", "0"},
                    {"fra-2", "READY", "{\"region\":\"eu\"}", "0"},
                    {"fra-3", "DEGRADED", "{\"region\":\"eu\"}", "1"},
                    {"sjc-1", "DEGRADED", "{\"region\":\"us\"}", "0"}
                  }) {
                h.execute(
                    "INSERT INTO clusters (name, selector, servers_min, servers_max, agents_min,"
                        + " agents_max, kubernetes_version, labels, config, grace_seconds, state,"
                        + " reasons, deactivated, token_key_id, token_sealed, token_version,"
                        + " created_by, created_at, updated_at) VALUES (?, 'pool=a', 3, 3, 0, 0,"
                        + " 'v1.30.2+k3s1', ?, '{}', 300, ?, ?, ?, 'k1', 'sealed', 1, 'test', 0, 0)",
                    c[0],
                    c[2],
                    c[1],
                    "[\"1 of 3 servers is running\"]",
                    Integer.parseInt(c[3]));
              }
            });
    tick(T0.plusSeconds(1));
    assertThat(engine.list(Optional.of("firing"), 100))
        .extracting(AlertEngine.AlertView::subject)
        .containsExactlyInAnyOrder(
            "device/d1/app/web", "device/d2/disk//data", "device/d2/certificate", "cluster/fra-1");
    // The rollout has been paused for 1s of its 10m.
    assertThat(engine.list(Optional.of("pending"), 100))
        .extracting(AlertEngine.AlertView::subject)
        .containsExactly("rollout/ro-1");
    tick(T0.plus(Duration.ofMinutes(10)));
    assertThat(engine.list(Optional.of("firing"), 100)).hasSize(5);
    assertThat(sender.calls).hasSize(5);
    assertThat(engine.firingCounts())
        .extracting(AlertEngine.Count::rule)
        .containsExactly("app", "cert", "cluster", "disk", "paused");
  }
}
