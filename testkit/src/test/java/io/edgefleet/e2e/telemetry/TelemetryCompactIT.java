package io.edgefleet.e2e.telemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.telemetry.NodeSampler;
import io.edgefleet.agent.telemetry.TelemetryFeature;
import io.edgefleet.controller.telemetry.TelemetryIngest;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.CompactTelemetry;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.Telemetry;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real agent (real {@code /proc} sampler, real outbox, real mutual-TLS WebSocket) against a real
 * controller sends its summaries in the compact binary form, and they show in the device's metrics
 * API and in {@code /metrics}; then, on the same device's socket, the controller still takes the
 * JSON an older agent sends, and refuses compact messages it cannot read (counted, nothing stored,
 * no acknowledgement) while the connection keeps working.
 */
class TelemetryCompactIT {
  @TempDir Path dir;

  @Test
  void summariesTravelCompactAndOlderAndBrokenFormsAreHandled() throws Exception {
    try (TestController controller =
            TestController.start(
                TestController.config(dir.resolve("controller"))
                    .withTelemetryInterval(Duration.ofSeconds(1)));
        TestAgents agents = new TestAgents(dir);
        AdminClient admin = controller.admin()) {
      String token = controller.token(Map.of(), null, false);
      AgentOptions options =
          agents.options(
              "node", agents.bootstrap("t", controller.url(), controller.caFingerprint(), token));
      TestAgents.WithTelemetry started =
          agents.startWithTelemetry(
              options,
              Clock.systemUTC(),
              NodeSampler.system(),
              TelemetryFeature.Options.defaults()
                  .withSampleEvery(Duration.ofMillis(200))
                  .withDefaultWindow(Duration.ofSeconds(1)));
      TelemetryFeature telemetry = started.telemetry();
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> started.agent().status().state() == Agent.State.CONNECTED);
      String id = started.agent().status().deviceId().orElseThrow();
      TelemetryIngest ingest = controller.controller().telemetry();

      await().atMost(Duration.ofSeconds(30)).until(() -> telemetry.stats().acks() >= 4);
      TelemetryFeature.Stats stats = telemetry.stats();
      assertThat(stats.compactBatches()).isEqualTo(stats.batchesSent());
      assertThat(stats.resends()).isZero();
      assertThat(ingest.refused()).isZero();
      assertThat(ingest.refusedMessages()).isZero();

      JsonNode metrics = admin.get("/api/v1/devices/" + id + "/metrics").body();
      assertThat(metrics.path("summaries").size()).isGreaterThanOrEqualTo(4);
      assertThat(
              metrics.path("latest").path("metrics").path("mem.total.bytes").path("max").asDouble())
          .isPositive();
      assertThat(metrics.path("latest").path("metrics").has("uptime.seconds")).isTrue();
      Telemetry.Metrics latest = ingest.latest(id).orElseThrow();

      String text = admin.get("/metrics").body().asText();
      long compactIn = sample(text, "edgefleet_websocket_messages_total", "telemetry_compact");
      long compactBytes =
          sample(text, "edgefleet_websocket_message_bytes_total", "telemetry_compact");
      assertThat(compactIn).isGreaterThanOrEqualTo(4);
      assertThat(sample(text, "edgefleet_websocket_messages_total", "telemetry_batch")).isZero();
      assertThat(sample(text, "edgefleet_telemetry_records_total", null)).isGreaterThanOrEqualTo(4);
      // Names go once per connection: a compact batch is a fraction of the same batch in JSON.
      int json = Json.writeBytes(new AgentMessage.TelemetryBatch(List.of(latest))).length;
      assertThat(compactBytes / compactIn).isLessThan(json / 3);
      started.agent().close();

      // The same device speaks as an older agent would, and then sends broken compact messages.
      Jdbi db = controller.controller().database().jdbi();
      try (DeviceSocket device = new DeviceSocket(controller.url(), options.stateDir())) {
        device.send(new AgentMessage.Hello("0.0.9", 1));
        await()
            .atMost(DeviceSocket.patience())
            .until(() -> !device.received(ControllerMessage.Welcome.class).isEmpty());
        assertThat(device.received(ControllerMessage.Welcome.class).getFirst().telemetryEncodings())
            .containsExactly(CompactTelemetry.ENCODING);

        Instant now = Instant.now();
        long seq = telemetry.outbox().stats().nextSeq() + 100;
        String old =
            "{\"t\":\"tel\",\"records\":[{\"k\":\"m\",\"seq\":"
                + seq
                + ",\"from\":\""
                + now.minusSeconds(300)
                + "\",\"at\":\""
                + now
                + "\",\"metrics\":{\"cpu.used.percent\":{\"min\":1.5,\"max\":9,\"mean\":3.25,"
                + "\"last\":2,\"count\":60}}}]}";
        device.sendText(old);
        long oldSeq = seq;
        await()
            .atMost(DeviceSocket.patience())
            .until(
                () ->
                    device.received(ControllerMessage.TelemetryAck.class).stream()
                        .anyMatch(a -> a.upTo() == oldSeq));
        assertThat(ingest.latest(id).orElseThrow().seq()).isEqualTo(oldSeq);

        long stored = count(db, id);
        long refusedBefore = ingest.refusedMessages();
        byte[] good =
            new CompactTelemetry.Encoder()
                .encode(
                    List.of(
                        new Telemetry.Metrics(
                            seq + 1,
                            now.minusSeconds(60),
                            now.plusSeconds(1),
                            Map.of("load.1", new Telemetry.Stat(0.5, 0.75, 0.625, 0.5, 12)))))
                .bytes();
        device.sendBinary(Arrays.copyOf(good, good.length - 2)); // cut short
        byte[] oversized = new byte[70 * 1024];
        oversized[0] = 1;
        device.sendBinary(oversized);
        await()
            .atMost(DeviceSocket.patience())
            .until(() -> ingest.refusedMessages() == refusedBefore + 2);
        heartbeatIsAnswered(device, 1);
        assertThat(count(db, id)).as("nothing of a refused message is stored").isEqualTo(stored);
        assertThat(device.received(ControllerMessage.TelemetryAck.class))
            .noneMatch(a -> a.upTo() == seq + 1);

        // The connection goes on taking compact messages.
        device.sendBinary(good);
        await()
            .atMost(DeviceSocket.patience())
            .until(
                () ->
                    device.received(ControllerMessage.TelemetryAck.class).stream()
                        .anyMatch(a -> a.upTo() == seq + 1));
        assertThat(count(db, id)).isEqualTo(stored + 1);
        assertThat(device.open()).isTrue();
        String events =
            admin.get("/api/v1/devices/" + id + "/events").body().path("items").toString();
        assertThat(events).contains("unreadable compact telemetry message");
      }
    }
  }

  private static void heartbeatIsAnswered(DeviceSocket device, long seq) throws Exception {
    int acks = device.received(ControllerMessage.Ack.class).size();
    device.send(new AgentMessage.Heartbeat(seq));
    await()
        .atMost(DeviceSocket.patience())
        .until(() -> device.received(ControllerMessage.Ack.class).size() > acks);
  }

  private static long count(Jdbi db, String id) {
    return db.withHandle(
        h ->
            h.createQuery("SELECT COUNT(*) FROM device_metrics WHERE device_id = :d")
                .bind("d", id)
                .mapTo(Long.class)
                .one());
  }

  /** A sample of /metrics: inbound messages of {@code type}, or the family's one sample. */
  private static long sample(String text, String family, String type) {
    Pattern p =
        Pattern.compile(
            "^"
                + family
                + (type == null ? "(\\{\\})?" : "\\{direction=\"in\",type=\"" + type + "\"\\}")
                + " (\\S+)$",
            Pattern.MULTILINE);
    Matcher m = p.matcher(text);
    return m.find() ? (long) Double.parseDouble(m.group(m.groupCount())) : 0;
  }
}
