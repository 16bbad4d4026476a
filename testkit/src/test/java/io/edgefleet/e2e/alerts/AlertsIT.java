package io.edgefleet.e2e.alerts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import io.edgefleet.agent.Agent;
import io.edgefleet.controller.alerts.AlertOptions;
import io.edgefleet.protocol.Json;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Alerts end to end: a real controller evaluates a "device offline longer than 2s" rule against a
 * real agent that is stopped and started again, and notifies webhook receivers (real HTTP servers
 * on loopback) in each format; one receiver fails first and gets its notification later.
 */
class AlertsIT {
  @TempDir Path dir;

  /** One request a receiver got, with the status it answered. */
  record Delivery(String path, int answered, JsonNode body, long atNanos) {
    /** firing or resolved: the field of the generic and Alertmanager bodies, Slack's text. */
    String status() {
      if (body.has("status")) {
        return body.path("status").asText();
      }
      String text = body.path("text").asText();
      return text.contains("[FIRING]") ? "firing" : text.contains("[RESOLVED]") ? "resolved" : "";
    }
  }

  /** Webhook receivers on one loopback HTTP server; {@code /flaky} answers 500 the first time. */
  static final class Receivers implements AutoCloseable {
    final HttpServer server;
    final List<Delivery> deliveries = new CopyOnWriteArrayList<>();
    final AtomicInteger flakyCalls = new AtomicInteger();

    Receivers() throws IOException {
      server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
      server.createContext(
          "/",
          exchange -> {
            byte[] body;
            try (InputStream in = exchange.getRequestBody()) {
              body = in.readAllBytes();
            }
            String path = exchange.getRequestURI().getPath();
            int status = path.equals("/flaky") && flakyCalls.incrementAndGet() == 1 ? 500 : 200;
            deliveries.add(
                new Delivery(
                    path,
                    status,
                    Json.mapper().readTree(new String(body, StandardCharsets.UTF_8)),
                    System.nanoTime()));
            byte[] answer = (status == 200 ? "ok" : "try later").getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(status, answer.length);
            try (OutputStream out = exchange.getResponseBody()) {
              out.write(answer);
            }
          });
      server.start();
    }

    String url(String path) {
      return "http://127.0.0.1:" + server.getAddress().getPort() + path;
    }

    List<Delivery> to(String path) {
      return deliveries.stream().filter(d -> d.path().equals(path)).toList();
    }

    List<Delivery> delivered(String path, String status) {
      return to(path).stream()
          .filter(d -> d.answered() == 200 && d.status().equals(status))
          .toList();
    }

    /** Every delivery as "path status answer", sorted by path and then in order of arrival. */
    String summary() {
      return deliveries.stream()
          .sorted(java.util.Comparator.comparing(Delivery::path))
          .map(d -> d.path() + " " + d.status() + " " + d.answered())
          .collect(java.util.stream.Collectors.joining(", "));
    }

    @Override
    public void close() {
      server.stop(0);
    }
  }

  @Test
  void anOfflineDeviceIsNotifiedFiringOnceAndResolvedOnceInEveryFormat() throws Exception {
    AlertOptions alerts =
        AlertOptions.defaults()
            .withTick(Duration.ofMillis(200))
            .withRetry(Duration.ofSeconds(1), Duration.ofSeconds(4), 6);
    try (Receivers hooks = new Receivers();
        TestController controller =
            TestController.start(
                TestController.config(dir.resolve("controller")).withAlerts(alerts));
        TestAgents agents = new TestAgents(dir)) {
      AdminClient admin = controller.admin();
      for (String[] r :
          List.of(
              new String[] {"generic", "generic", "/generic"},
              new String[] {"chat", "slack", "/slack"},
              new String[] {"oncall", "alertmanager", "/am"},
              new String[] {"flaky", "generic", "/flaky"})) {
        AdminClient.Answer created =
            admin.post(
                "/api/v1/alerts/receivers",
                Map.of("name", r[0], "format", r[1], "url", hooks.url(r[2])));
        assertThat(created.status()).as(created.body().toString()).isEqualTo(201);
      }
      AdminClient.Answer rule =
          admin.post(
              "/api/v1/alerts/rules",
              Map.of(
                  "name",
                  "offline",
                  "type",
                  "device-offline",
                  "for",
                  "2s",
                  "severity",
                  "critical"));
      assertThat(rule.status()).as(rule.body().toString()).isEqualTo(201);

      String token = controller.token(Map.of("site", "s1"), null, false);
      Path bootstrap = agents.bootstrap("a1", controller.url(), controller.caFingerprint(), token);
      Agent agent = agents.start(agents.options("a1", bootstrap));
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> agent.status().state() == Agent.State.CONNECTED);
      String id = agent.status().deviceId().orElseThrow();
      // Online: several evaluations, nothing to tell.
      await()
          .during(Duration.ofSeconds(1))
          .atMost(Duration.ofSeconds(2))
          .until(hooks.deliveries::isEmpty);

      long stopped = System.nanoTime();
      agent.close();
      await()
          .atMost(Duration.ofSeconds(20))
          .untilAsserted(
              () ->
                  assertThat(hooks.summary())
                      .as("alerts: %s", admin.get("/api/v1/alerts").body())
                      .isEqualTo(
                          "/am firing 200, /flaky firing 500, /flaky firing 200,"
                              + " /generic firing 200, /slack firing 200"));
      Delivery firing = hooks.delivered("/generic", "firing").getFirst();
      // Not before the device had been offline for 2s.
      assertThat(Duration.ofNanos(firing.atNanos() - stopped))
          .isGreaterThanOrEqualTo(Duration.ofSeconds(2));
      // Exactly once, however many evaluations follow.
      await()
          .during(Duration.ofSeconds(2))
          .atMost(Duration.ofSeconds(3))
          .until(() -> hooks.deliveries.size() == 5);

      JsonNode generic = firing.body();
      assertThat(generic.path("version").asText()).isEqualTo("1");
      assertThat(generic.path("receiver").asText()).isEqualTo("generic");
      assertThat(generic.path("controller").asText()).isEqualTo(controller.url());
      assertThat(generic.path("alert").path("rule").asText()).isEqualTo("offline");
      assertThat(generic.path("alert").path("severity").asText()).isEqualTo("critical");
      assertThat(generic.path("alert").path("subject").asText()).isEqualTo("device/" + id);
      assertThat(generic.path("alert").path("labels").path("device").asText()).isEqualTo(id);
      assertThat(generic.path("alert").path("summary").asText()).contains(id).contains("offline");
      assertThat(generic.path("alert").has("endsAt")).isFalse();

      JsonNode slack = hooks.delivered("/slack", "firing").getFirst().body();
      assertThat(slack.path("text").asText()).startsWith(":rotating_light: [FIRING]").contains(id);
      assertThat(slack.path("blocks").isArray()).isTrue();
      assertThat(slack.path("blocks").get(0).path("text").path("type").asText())
          .isEqualTo("mrkdwn");

      JsonNode am = hooks.delivered("/am", "firing").getFirst().body();
      assertThat(am.path("version").asText()).isEqualTo("4");
      assertThat(am.path("status").asText()).isEqualTo("firing");
      assertThat(am.path("receiver").asText()).isEqualTo("oncall");
      JsonNode amAlert = am.path("alerts").get(0);
      assertThat(amAlert.path("labels").path("alertname").asText()).isEqualTo("offline");
      assertThat(amAlert.path("labels").path("device").asText()).isEqualTo(id);
      assertThat(amAlert.path("annotations").path("summary").asText()).contains("offline");
      assertThat(amAlert.path("endsAt").asText()).isEqualTo("0001-01-01T00:00:00Z");
      assertThat(amAlert.path("fingerprint").asText())
          .isEqualTo(generic.path("alert").path("fingerprint").asText());

      // The failing receiver: refused once with 500, delivered on the retry, after the backoff.
      List<Delivery> flaky = hooks.to("/flaky");
      assertThat(flaky).extracting(Delivery::answered).containsExactly(500, 200);
      assertThat(Duration.ofNanos(flaky.get(1).atNanos() - flaky.get(0).atNanos()))
          .isGreaterThanOrEqualTo(Duration.ofMillis(900));
      assertThat(flaky.get(1).body()).isEqualTo(flaky.get(0).body());

      JsonNode listed = admin.get("/api/v1/alerts").body().path("items");
      assertThat(listed).hasSize(1);
      assertThat(listed.get(0).path("state").asText()).isEqualTo("FIRING");
      assertThat(listed.get(0).path("since").asText()).isNotBlank();
      assertThat(listed.get(0).path("delivery").path("sent").asInt()).isEqualTo(4);

      Agent again = agents.start(agents.options("a1", bootstrap));
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> again.status().state() == Agent.State.CONNECTED);
      await()
          .atMost(Duration.ofSeconds(20))
          .untilAsserted(
              () ->
                  assertThat(hooks.summary())
                      .as("alerts: %s", admin.get("/api/v1/alerts").body())
                      .isEqualTo(
                          "/am firing 200, /am resolved 200, /flaky firing 500, /flaky firing 200,"
                              + " /flaky resolved 200, /generic firing 200, /generic resolved"
                              + " 200, /slack firing 200, /slack resolved 200"));
      await()
          .during(Duration.ofSeconds(2))
          .atMost(Duration.ofSeconds(3))
          .until(() -> hooks.deliveries.size() == 9);
      for (String path : List.of("/generic", "/slack", "/am", "/flaky")) {
        assertThat(hooks.delivered(path, "firing")).as(path).hasSize(1);
        assertThat(hooks.delivered(path, "resolved")).as(path).hasSize(1);
      }
      JsonNode resolved = hooks.delivered("/generic", "resolved").getFirst().body();
      assertThat(resolved.path("alert").path("fingerprint"))
          .isEqualTo(generic.path("alert").path("fingerprint"));
      assertThat(resolved.path("alert").path("endsAt").asText()).isNotBlank();
      assertThat(hooks.delivered("/slack", "resolved").getFirst().body().path("text").asText())
          .startsWith(":white_check_mark: [RESOLVED]");
      JsonNode amResolved = hooks.delivered("/am", "resolved").getFirst().body();
      assertThat(amResolved.path("alerts").get(0).path("status").asText()).isEqualTo("resolved");
      assertThat(amResolved.path("alerts").get(0).path("endsAt").asText())
          .isNotEqualTo("0001-01-01T00:00:00Z");

      JsonNode after = admin.get("/api/v1/alerts").body().path("items").get(0);
      assertThat(after.path("state").asText()).isEqualTo("RESOLVED");
      assertThat(after.path("resolvedAt").asText()).isNotBlank();

      String metrics =
          admin
              .raw(
                  "GET", "/metrics", null, controller.controller().adminToken().orElseThrow(), null)
              .body()
              .asText();
      assertThat(metrics)
          .contains("edgefleet_alert_notifications_total{format=\"generic\",outcome=\"failed\"} 1")
          .contains("edgefleet_alert_notifications_total{format=\"generic\",outcome=\"sent\"} 4")
          .contains("edgefleet_alert_notifications_total{format=\"slack\",outcome=\"sent\"} 2");
    }
  }
}
