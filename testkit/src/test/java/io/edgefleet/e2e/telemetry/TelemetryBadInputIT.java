package io.edgefleet.e2e.telemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.controller.telemetry.TelemetryIngest;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.Telemetry;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A device that sends malformed and oversized telemetry over its real mutual-TLS socket: every bad
 * record and message is refused and counted, the good ones next to them are stored, and the
 * device's connection, heartbeats and reports keep working.
 */
class TelemetryBadInputIT {
  @TempDir Path dir;

  @Test
  void badTelemetryIsRefusedAndCountedWhileTheConnectionKeepsWorking() throws Exception {
    try (TestController controller = TestController.start(dir.resolve("controller"));
        TestAgents agents = new TestAgents(dir);
        AdminClient admin = controller.admin()) {
      String token = controller.token(Map.of(), null, false);
      AgentOptions options =
          agents.options(
              "a1", agents.bootstrap("t", controller.url(), controller.caFingerprint(), token));
      Agent agent = agents.start(options);
      await()
          .atMost(DeviceSocket.patience())
          .until(() -> agent.status().state() == Agent.State.CONNECTED);
      String id = agent.status().deviceId().orElseThrow();
      agent.close();
      TelemetryIngest ingest = controller.controller().telemetry();

      try (DeviceSocket device = new DeviceSocket(controller.url(), options.stateDir())) {
        device.send(new AgentMessage.Hello("test", 1));
        await()
            .atMost(DeviceSocket.patience())
            .until(() -> !device.received(ControllerMessage.Welcome.class).isEmpty());
        assertThat(device.received(ControllerMessage.Welcome.class).getFirst().telemetrySeconds())
            .as("the controller's default: one summary every 5 minutes")
            .isEqualTo(300);
        heartbeatIsAnswered(device, 1);

        // 1. Larger than the message limit: refused unread, the socket stays.
        String huge =
            "{\"t\":\"tel\",\"records\":[{\"k\":\"e\",\"seq\":1,\"at\":\"2026-11-21T10:00:00Z\","
                + "\"kind\":\"spam\",\"message\":\""
                + "x".repeat(100_000)
                + "\"}]}";
        device.sendText(huge);
        await().atMost(DeviceSocket.patience()).until(() -> ingest.refusedMessages() == 1);
        heartbeatIsAnswered(device, 2);

        // 2. Not JSON at all, but telemetry by its start.
        device.sendText("{\"t\":\"tel\",\"records\":[{\"k\":\"e\",\"seq\":2, NaN]}");
        await().atMost(DeviceSocket.patience()).until(() -> ingest.refusedMessages() == 2);
        heartbeatIsAnswered(device, 3);

        // 3. Good and bad records in one batch: the bad ones are skipped and counted, the good
        // ones stored, and the whole batch acknowledged so it is not sent again.
        Instant now = Instant.now();
        String mixed =
            "{\"t\":\"tel\",\"records\":["
                + event(10, now, "first good one")
                + ",{\"k\":\"e\",\"seq\":0,\"at\":\""
                + now
                + "\",\"kind\":\"k\",\"message\":\"seq zero\"}"
                + ",{\"k\":\"m\",\"seq\":11,\"from\":\""
                + now.minusSeconds(60)
                + "\",\"at\":\""
                + now
                + "\",\"metrics\":{\"cpu\":{\"min\":\"NaN\",\"max\":1,\"mean\":1,\"last\":1,"
                + "\"count\":1}}}"
                + ",{\"k\":\"unknown-kind\",\"seq\":12,\"at\":\""
                + now
                + "\"}"
                + ",{\"k\":\"e\",\"seq\":13,\"at\":\"not a time\",\"kind\":\"k\",\"message\":\"m\"}"
                + ","
                + event(14, now, "second good one")
                + "]}";
        device.sendText(mixed);
        await()
            .atMost(DeviceSocket.patience())
            .until(
                () ->
                    device.received(ControllerMessage.TelemetryAck.class).stream()
                        .anyMatch(a -> a.upTo() == 14));
        assertThat(ingest.refused()).isEqualTo(4);
        heartbeatIsAnswered(device, 4);

        // 4. A well-formed batch with a record of a bad value, from the typed path.
        device.send(
            new AgentMessage.TelemetryBatch(
                List.of(
                    new Telemetry.DeviceEvent(20, now, "app-ready", "info", "web", "ready"),
                    new Telemetry.DeviceEvent(21, now, "k", "catastrophic", null, "bad sev"))));
        await()
            .atMost(DeviceSocket.patience())
            .until(
                () ->
                    device.received(ControllerMessage.TelemetryAck.class).stream()
                        .anyMatch(a -> a.upTo() == 21));
        assertThat(ingest.refused()).isEqualTo(5);

        // Reports still work on the same socket.
        device.send(new AgentMessage.Event("manual-check", "still here", now));
        await()
            .atMost(DeviceSocket.patience())
            .until(() -> kinds(admin, id).contains("manual-check"));
        heartbeatIsAnswered(device, 5);
        assertThat(device.open()).isTrue();
        assertThat(admin.get("/api/v1/devices/" + id).body().path("status").asText())
            .isEqualTo("ONLINE");

        List<String> kinds = kinds(admin, id);
        assertThat(kinds).contains(TelemetryIngest.REFUSED_KIND, "app-ready");
        assertThat(kinds.stream().filter(k -> k.equals("k") || k.equals("spam"))).isEmpty();
        String messages =
            admin.get("/api/v1/devices/" + id + "/events").body().path("items").toString();
        assertThat(messages).contains("first good one", "second good one");
        assertThat(messages).contains("telemetry refused");
        assertThat(controller.controller().connections().isConnected(id)).isTrue();
      }
    }
  }

  private static String event(long seq, Instant at, String message) {
    return "{\"k\":\"e\",\"seq\":"
        + seq
        + ",\"at\":\""
        + at
        + "\",\"kind\":\"app-ready\",\"severity\":\"info\",\"message\":\""
        + message
        + "\"}";
  }

  private static void heartbeatIsAnswered(DeviceSocket device, long seq) throws Exception {
    int acks = device.received(ControllerMessage.Ack.class).size();
    device.send(new AgentMessage.Heartbeat(seq));
    await()
        .atMost(DeviceSocket.patience())
        .until(() -> device.received(ControllerMessage.Ack.class).size() > acks);
    assertThat(device.open()).isTrue();
  }

  private static List<String> kinds(AdminClient admin, String id) {
    return StreamSupport.stream(
            admin
                .get("/api/v1/devices/" + id + "/events?limit=1000")
                .body()
                .path("items")
                .spliterator(),
            false)
        .map(e -> e.path("kind").asText())
        .toList();
  }
}
