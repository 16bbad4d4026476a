package io.edgefleet.controller.metrics;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;

/**
 * The controller's own metrics, served at {@code /metrics} in the Prometheus text format: HTTP
 * requests, agent connections and WebSocket messages, desired-state recomputations, rollout and
 * alert ticks, telemetry ingestion, the JVM, and the fleet gauges of {@link FleetGauges} computed
 * at scrape time. Each controller has its own registry (never the client library's global one), so
 * several controllers in one JVM do not mix their numbers. Thread-safe.
 *
 * <p>Every label value comes from a bounded set (route templates, not paths; known HTTP methods;
 * message types), so no client can grow the number of series.
 */
public final class ControllerMetrics {
  /** The content type of the Prometheus text exposition format, version 0.0.4. */
  public static final String CONTENT_TYPE = PrometheusTextFormatWriter.CONTENT_TYPE;

  private static final Set<String> METHODS =
      Set.of("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS");

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
  private final Counter httpRequests;
  private final Histogram httpDuration;
  private final Counter websocketMessages;
  private final Counter websocketBytes;
  private final Counter rolloutTicks;
  private final Counter alertTicks;
  private final Counter alertNotifications;
  private final Counter connectionsLimited;
  private final Map<String, String> typeLabels = new ConcurrentHashMap<>();

  /**
   * What the gauges and counters kept elsewhere are read from, at scrape time.
   *
   * @param connectedAgents agents with an open WebSocket
   * @param recomputations desired-state recomputations since the start
   * @param telemetryRecords telemetry records stored since the start
   * @param telemetryRefused telemetry records refused since the start
   * @param telemetryRefusedMessages telemetry messages refused as a whole since the start
   * @param eventsDropped device events dropped beyond their device's allowance
   * @param eventsHeldBack device events held back in the outbox beyond the allowance
   * @param eventsRedated device events whose device time was not believed
   * @param attestations what became of the attestation answers of devices with a TPM
   */
  public record Sources(
      IntSupplier connectedAgents,
      LongSupplier recomputations,
      LongSupplier telemetryRecords,
      LongSupplier telemetryRefused,
      LongSupplier telemetryRefusedMessages,
      LongSupplier eventsDropped,
      LongSupplier eventsHeldBack,
      LongSupplier eventsRedated,
      Attestations attestations) {
    public Sources(
        IntSupplier connectedAgents,
        LongSupplier recomputations,
        LongSupplier telemetryRecords,
        LongSupplier telemetryRefused,
        LongSupplier telemetryRefusedMessages,
        LongSupplier eventsDropped,
        LongSupplier eventsHeldBack,
        LongSupplier eventsRedated) {
      this(
          connectedAgents,
          recomputations,
          telemetryRecords,
          telemetryRefused,
          telemetryRefusedMessages,
          eventsDropped,
          eventsHeldBack,
          eventsRedated,
          Attestations.NONE);
    }
  }

  /**
   * Attestation answers: quotes verified, answers refused, answers shed because the verification
   * queue was full, and answers waiting in it now.
   */
  public record Attestations(
      LongSupplier verified, LongSupplier refused, LongSupplier shed, IntSupplier queued) {
    static final Attestations NONE = new Attestations(() -> 0, () -> 0, () -> 0, () -> 0);
  }

  private final Sources sources;

  public ControllerMetrics(Sources sources) {
    this.sources = sources;
    httpRequests =
        Counter.builder()
            .name("edgefleet_http_requests_total")
            .help("HTTP requests answered, by method, route template and status")
            .labelNames("method", "route", "status")
            .register(registry);
    httpDuration =
        Histogram.builder()
            .name("edgefleet_http_request_duration_seconds")
            .help("Time from request to answer, by method and route template")
            .labelNames("method", "route")
            .classicOnly()
            .classicUpperBounds(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
            .withoutExemplars()
            .register(registry);
    websocketMessages =
        Counter.builder()
            .name("edgefleet_websocket_messages_total")
            .help("Messages on the agents' WebSockets, by direction (in, out) and type")
            .labelNames("direction", "type")
            .register(registry);
    websocketBytes =
        Counter.builder()
            .name("edgefleet_websocket_message_bytes_total")
            .help(
                "Payload bytes of the messages on the agents' WebSockets (without WebSocket, TLS"
                    + " and TCP/IP framing), by direction (in, out) and type")
            .labelNames("direction", "type")
            .register(registry);
    CounterWithCallback.builder()
        .name("edgefleet_desired_state_recomputations_total")
        .help("Desired states computed for a device, changed or not")
        .callback(cb -> cb.call(sources.recomputations().getAsLong()))
        .register(registry);
    rolloutTicks =
        Counter.builder()
            .name("edgefleet_rollout_ticks_total")
            .help("Rollout engine ticks, by outcome (ok, failed)")
            .labelNames("outcome")
            .register(registry);
    alertTicks =
        Counter.builder()
            .name("edgefleet_alert_ticks_total")
            .help("Alert engine ticks, by outcome (ok, failed)")
            .labelNames("outcome")
            .register(registry);
    alertNotifications =
        Counter.builder()
            .name("edgefleet_alert_notifications_total")
            .help(
                "Alert notification deliveries, by receiver format and outcome (sent, failed,"
                    + " gave_up)")
            .labelNames("format", "outcome")
            .register(registry);
    connectionsLimited =
        Counter.builder()
            .name("edgefleet_http_connections_limited_total")
            .help(
                "HTTP connections closed for breaking a limit, by reason (header_timeout,"
                    + " idle_timeout, address_limit, body_timeout)")
            .labelNames("reason")
            .register(registry);
    GaugeWithCallback.builder()
        .name("edgefleet_agents_connected")
        .help("Agents with an open WebSocket to this controller")
        .callback(cb -> cb.call(sources.connectedAgents().getAsInt()))
        .register(registry);
    CounterWithCallback.builder()
        .name("edgefleet_telemetry_records_total")
        .help("Telemetry records (metric summaries, events, losses) stored from agents")
        .callback(cb -> cb.call(sources.telemetryRecords().getAsLong()))
        .register(registry);
    CounterWithCallback.builder()
        .name("edgefleet_telemetry_refused_total")
        .help("Telemetry records refused as malformed or oversized")
        .callback(cb -> cb.call(sources.telemetryRefused().getAsLong()))
        .register(registry);
    CounterWithCallback.builder()
        .name("edgefleet_telemetry_refused_messages_total")
        .help(
            "Telemetry messages refused as a whole (larger than 64 KiB, not JSON, or a compact"
                + " batch that cannot be read); they are not acknowledged")
        .callback(cb -> cb.call(sources.telemetryRefusedMessages().getAsLong()))
        .register(registry);
    CounterWithCallback.builder()
        .name("edgefleet_device_events_limited_total")
        .help(
            "Device events beyond their device's allowance (dropped, held back in the outbox) or"
                + " whose device time was not believed (redated)")
        .labelNames("outcome")
        .callback(
            cb -> {
              cb.call(sources.eventsDropped().getAsLong(), "dropped");
              cb.call(sources.eventsHeldBack().getAsLong(), "held_back");
              cb.call(sources.eventsRedated().getAsLong(), "redated");
            })
        .register(registry);
    CounterWithCallback.builder()
        .name("edgefleet_attestations_total")
        .help(
            "Attestation answers of devices with a TPM: quotes verified (matching or not),"
                + " answers refused (replayed, late, or quotes that did not verify), answers shed"
                + " because the verification queue was full (the device is challenged again)")
        .labelNames("outcome")
        .callback(
            cb -> {
              cb.call(sources.attestations().verified().getAsLong(), "verified");
              cb.call(sources.attestations().refused().getAsLong(), "refused");
              cb.call(sources.attestations().shed().getAsLong(), "shed");
            })
        .register(registry);
    GaugeWithCallback.builder()
        .name("edgefleet_attestation_queue")
        .help("Attestation answers waiting for verification")
        .callback(cb -> cb.call(sources.attestations().queued().getAsInt()))
        .register(registry);
    registry.register(new JvmMetrics());
  }

  /** Adds collectors computed at scrape time, such as the fleet gauges. */
  public void register(MultiCollector collector) {
    registry.register(collector);
  }

  /** Counts the artifact bytes the device download route sent ({@code bytes} reads the total). */
  public void deviceArtifactBytes(java.util.function.LongSupplier bytes) {
    CounterWithCallback.builder()
        .name("edgefleet_device_artifact_bytes_total")
        .help("Artifact bytes sent to devices by the device download route (ranges included)")
        .callback(cb -> cb.call(bytes.getAsLong()))
        .register(registry);
  }

  /**
   * Counts one answered HTTP request; {@code route} is the route template or {@code unmatched} (see
   * {@link io.edgefleet.controller.api.HttpApi.RequestObserver}).
   */
  public void request(String method, String route, int status, long nanos) {
    String m = method == null ? "OTHER" : method.toUpperCase(Locale.ROOT);
    if (!METHODS.contains(m)) {
      m = "OTHER";
    }
    httpRequests.labelValues(m, route, Integer.toString(status)).inc();
    httpDuration.labelValues(m, route).observe(nanos / 1e9);
  }

  /**
   * Counts one WebSocket message of {@code bytes} payload bytes; {@code type} is the message
   * record's simple name ({@code TelemetryBatch}), shown in snake case ({@code telemetry_batch}).
   */
  public void websocketMessage(boolean inbound, String type, long bytes) {
    String label = typeLabels.computeIfAbsent(type, ControllerMetrics::snake);
    String direction = inbound ? "in" : "out";
    websocketMessages.labelValues(direction, label).inc();
    websocketBytes.labelValues(direction, label).inc(bytes);
  }

  static String snake(String camel) {
    return camel.replaceAll("([a-z0-9])([A-Z])", "$1_$2").toLowerCase(Locale.ROOT);
  }

  public void rolloutTick(boolean ok) {
    rolloutTicks.labelValues(ok ? "ok" : "failed").inc();
  }

  public void alertTick(boolean ok) {
    alertTicks.labelValues(ok ? "ok" : "failed").inc();
  }

  /** Counts one delivery attempt of an alert notification. */
  public void alertNotification(String format, String outcome) {
    alertNotifications.labelValues(format, outcome).inc();
  }

  /** Counts one connection closed (or request refused) for breaking a listener limit. */
  public void connectionLimited(String reason) {
    connectionsLimited.labelValues(reason).inc();
  }

  /** Every metric in the Prometheus text format (version 0.0.4). */
  public byte[] scrape() {
    ByteArrayOutputStream out = new ByteArrayOutputStream(32 * 1024);
    try {
      writer.write(out, registry.scrape());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the metrics", e);
    }
    return out.toByteArray();
  }
}
