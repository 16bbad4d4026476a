package io.edgefleet.controller.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The controller's own metrics in the exposition, parsed as Prometheus parses them. */
class ControllerMetricsTest {

  static final ControllerMetrics.Sources NO_SOURCES =
      new ControllerMetrics.Sources(
          () -> 0, () -> 0, () -> 0, () -> 0, () -> 0, () -> 0, () -> 0, () -> 0);

  private static Map<String, PrometheusText.Family> scrape(ControllerMetrics m) {
    return PrometheusText.parse(new String(m.scrape(), StandardCharsets.UTF_8));
  }

  @Test
  void requestsAreCountedByMethodRouteAndStatusWithTheirLatency() {
    ControllerMetrics m = new ControllerMetrics(NO_SOURCES);
    m.request("GET", "/api/v1/devices/{id}", 200, 3_000_000);
    m.request("GET", "/api/v1/devices/{id}", 200, 40_000_000);
    m.request("GET", "/api/v1/devices/{id}", 404, 1_000_000);
    m.request("BREW", "unmatched", 404, 1_000_000);
    Map<String, PrometheusText.Family> out = scrape(m);

    PrometheusText.Family requests = out.get("edgefleet_http_requests_total");
    assertThat(requests.type()).isEqualTo("counter");
    assertThat(
            requests.value(
                "edgefleet_http_requests_total",
                Map.of("method", "GET", "route", "/api/v1/devices/{id}", "status", "200")))
        .contains(2.0);
    assertThat(
            requests.value(
                "edgefleet_http_requests_total",
                Map.of("method", "GET", "route", "/api/v1/devices/{id}", "status", "404")))
        .contains(1.0);
    // A method nobody serves does not become a label value of its own.
    assertThat(
            requests.value(
                "edgefleet_http_requests_total",
                Map.of("method", "OTHER", "route", "unmatched", "status", "404")))
        .contains(1.0);

    PrometheusText.Family latency = out.get("edgefleet_http_request_duration_seconds");
    assertThat(latency.type()).isEqualTo("histogram");
    Map<String, String> route = Map.of("method", "GET", "route", "/api/v1/devices/{id}");
    assertThat(latency.value("edgefleet_http_request_duration_seconds_count", route)).contains(3.0);
    assertThat(latency.value("edgefleet_http_request_duration_seconds_sum", route))
        .hasValueSatisfying(v -> assertThat(v).isCloseTo(0.044, within(1e-9)));
    assertThat(
            latency.value(
                "edgefleet_http_request_duration_seconds_bucket",
                Map.of("method", "GET", "route", "/api/v1/devices/{id}", "le", "0.005")))
        .contains(2.0);
    assertThat(
            latency.value(
                "edgefleet_http_request_duration_seconds_bucket",
                Map.of("method", "GET", "route", "/api/v1/devices/{id}", "le", "0.05")))
        .contains(3.0);
  }

  @Test
  void websocketTicksTelemetryAndJvmMetricsAreExposed() {
    AtomicLong recomputed = new AtomicLong(12);
    ControllerMetrics m =
        new ControllerMetrics(
            new ControllerMetrics.Sources(
                () -> 7,
                recomputed::get,
                () -> 1500,
                () -> 3,
                () -> 2,
                () -> 1700,
                () -> 40,
                () -> 5));
    m.websocketMessage(true, "Heartbeat", 23);
    m.websocketMessage(true, "Heartbeat", 23);
    m.websocketMessage(true, "TelemetryBatch", 1274);
    m.websocketMessage(true, "TelemetryCompact", 180);
    m.websocketMessage(false, "Ack", 11);
    m.rolloutTick(true);
    m.rolloutTick(false);
    m.alertTick(true);
    m.alertNotification("slack", "sent");
    // Sources are read at scrape time.
    recomputed.set(13);
    Map<String, PrometheusText.Family> out = scrape(m);
    assertThat(
            out.get("edgefleet_websocket_messages_total")
                .value(
                    "edgefleet_websocket_messages_total",
                    Map.of("direction", "in", "type", "heartbeat")))
        .contains(2.0);
    assertThat(
            out.get("edgefleet_websocket_messages_total")
                .value(
                    "edgefleet_websocket_messages_total",
                    Map.of("direction", "in", "type", "telemetry_batch")))
        .contains(1.0);
    assertThat(
            out.get("edgefleet_websocket_messages_total")
                .value(
                    "edgefleet_websocket_messages_total",
                    Map.of("direction", "out", "type", "ack")))
        .contains(1.0);
    assertThat(
            out.get("edgefleet_websocket_messages_total")
                .value(
                    "edgefleet_websocket_messages_total",
                    Map.of("direction", "in", "type", "telemetry_compact")))
        .contains(1.0);
    assertThat(
            out.get("edgefleet_websocket_message_bytes_total")
                .value(
                    "edgefleet_websocket_message_bytes_total",
                    Map.of("direction", "in", "type", "heartbeat")))
        .contains(46.0);
    assertThat(
            out.get("edgefleet_websocket_message_bytes_total")
                .value(
                    "edgefleet_websocket_message_bytes_total",
                    Map.of("direction", "in", "type", "telemetry_compact")))
        .contains(180.0);
    assertThat(
            out.get("edgefleet_rollout_ticks_total")
                .value("edgefleet_rollout_ticks_total", Map.of("outcome", "failed")))
        .contains(1.0);
    assertThat(
            out.get("edgefleet_alert_notifications_total")
                .value(
                    "edgefleet_alert_notifications_total",
                    Map.of("format", "slack", "outcome", "sent")))
        .contains(1.0);
    assertThat(out.get("edgefleet_agents_connected").value("edgefleet_agents_connected", Map.of()))
        .contains(7.0);
    assertThat(
            out.get("edgefleet_desired_state_recomputations_total")
                .value("edgefleet_desired_state_recomputations_total", Map.of()))
        .contains(13.0);
    assertThat(
            out.get("edgefleet_telemetry_records_total")
                .value("edgefleet_telemetry_records_total", Map.of()))
        .contains(1500.0);
    assertThat(
            out.get("edgefleet_telemetry_refused_total")
                .value("edgefleet_telemetry_refused_total", Map.of()))
        .contains(3.0);
    assertThat(
            out.get("edgefleet_telemetry_refused_messages_total")
                .value("edgefleet_telemetry_refused_messages_total", Map.of()))
        .contains(2.0);
    assertThat(
            out.get("edgefleet_device_events_limited_total")
                .value("edgefleet_device_events_limited_total", Map.of("outcome", "dropped")))
        .contains(1700.0);
    assertThat(
            out.get("edgefleet_device_events_limited_total")
                .value("edgefleet_device_events_limited_total", Map.of("outcome", "redated")))
        .contains(5.0);

    assertThat(
            out.get("jvm_memory_used_bytes").value("jvm_memory_used_bytes", Map.of("area", "heap")))
        .hasValueSatisfying(v -> assertThat(v).isPositive());
    assertThat(out.get("jvm_threads_current").value("jvm_threads_current", Map.of()))
        .hasValueSatisfying(v -> assertThat(v).isGreaterThanOrEqualTo(1));
    assertThat(out.get("jvm_gc_collection_seconds").type()).isEqualTo("summary");
    assertThat(out.get("jvm_gc_collection_seconds").samples()).isNotEmpty();
  }

  @Test
  void theParserItselfRefusesWhatPrometheusRefuses() {
    assertThatThrownBy(() -> PrometheusText.parse("a{b=\"c\"} 1"))
        .hasMessageContaining("line feed");
    assertThatThrownBy(() -> PrometheusText.parse("a{b=c} 1\n")).hasMessageContaining("quoted");
    assertThatThrownBy(() -> PrometheusText.parse("a{b=\"\\t\"} 1\n"))
        .hasMessageContaining("escape");
    assertThatThrownBy(() -> PrometheusText.parse("a 1\na 2\n")).hasMessageContaining("duplicate");
    assertThatThrownBy(() -> PrometheusText.parse("# TYPE a counter\na -1\n"))
        .hasMessageContaining("negative");
    assertThatThrownBy(() -> PrometheusText.parse("# TYPE a gauge\n# TYPE a gauge\na 1\n"))
        .hasMessageContaining("second TYPE");
    assertThatThrownBy(() -> PrometheusText.parse("a 1\nb 1\na{x=\"1\"} 1\n"))
        .hasMessageContaining("not together");
    assertThatThrownBy(() -> PrometheusText.parse("1a 1\n")).hasMessageContaining("metric name");
    assertThatThrownBy(() -> PrometheusText.parse("a one\n")).hasMessageContaining("value");
    assertThatThrownBy(
            () ->
                PrometheusText.parse(
                    "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                        + "h_count 1\nh_sum 1\n"))
        .hasMessageContaining("cumulative");
  }
}
