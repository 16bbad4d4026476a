package io.edgefleet.controller.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.Presence;
import io.edgefleet.controller.devices.TestDevices;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.CompactTelemetry;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.Telemetry;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.websocket.core.CloseStatus;
import org.eclipse.jetty.websocket.core.CoreSession;
import org.eclipse.jetty.websocket.core.Frame;
import org.eclipse.jetty.websocket.core.FrameHandler;
import org.eclipse.jetty.websocket.core.OpCode;
import org.eclipse.jetty.websocket.core.OutgoingEntry;
import org.eclipse.jetty.websocket.core.exception.BadPayloadException;
import org.eclipse.jetty.websocket.core.exception.MessageTooLargeException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent socket's frame handling on Jetty's core WebSocket API, driven frame by frame: message
 * assembly across frames, the size limits, pings, binary frames and the end of the socket.
 */
class AgentConnectionTest {
  private static final String DEVICE = "dev-1";

  @TempDir Path dir;
  Database db;
  Presence presence;
  AgentGateway gateway;
  final Connections connections = new Connections();
  final List<AgentMessage> reports = new CopyOnWriteArrayList<>();
  final List<String> disconnected = new CopyOnWriteArrayList<>();
  final List<String> kubernetesChanged = new CopyOnWriteArrayList<>();
  FakeSession session;
  FrameHandler socket;
  final List<String> refused = new CopyOnWriteArrayList<>();
  final List<String> traffic = new CopyOnWriteArrayList<>();
  final List<Long> trafficBytes = new CopyOnWriteArrayList<>();
  final List<List<Telemetry>> batches = new CopyOnWriteArrayList<>();

  @BeforeEach
  void open() {
    db = Database.open(Database.sqliteUrl(dir), null, null);
    presence = new Presence(db.jdbi(), Clock.systemUTC());
    AgentGateway.TelemetrySink telemetry =
        new AgentGateway.TelemetrySink() {
          @Override
          public long batch(String deviceId, List<Telemetry> records) {
            batches.add(records);
            return records.stream().mapToLong(Telemetry::seq).max().orElse(0);
          }

          @Override
          public long raw(String deviceId, JsonNode records) {
            return 0;
          }

          @Override
          public void refused(String deviceId, String reason) {
            refused.add(reason);
          }
        };
    gateway =
        new AgentGateway(
            db.jdbi(),
            new DeviceStore(),
            presence,
            connections,
            Clock.systemUTC(),
            Duration.ofSeconds(30),
            Duration.ofSeconds(60),
            (inbound, type, bytes) -> {
              traffic.add((inbound ? "in:" : "out:") + type);
              trafficBytes.add(bytes);
            },
            new AgentGateway.Handlers(
                id -> 0,
                (id, known) -> Optional.empty(),
                telemetry,
                (id, m) -> reports.add(m),
                (id, m) -> {},
                disconnected::add,
                kubernetesChanged::add));
    session = new FakeSession();
    socket = gateway.endpoint(DEVICE);
    Recorded opened = new Recorded();
    socket.onOpen(session, opened);
    assertThat(opened.succeeded).isTrue();
  }

  @AfterEach
  void close() {
    db.close();
  }

  @Test
  void openingRegistersTheDeviceAndAsksForTheFirstFrame() {
    assertThat(connections.isConnected(DEVICE)).isTrue();
    assertThat(presence.snapshot(DEVICE).connected()).isTrue();
    assertThat(session.demands).isEqualTo(1);
    assertThat(session.getIdleTimeout()).isEqualTo(Duration.ofSeconds(95));
    assertThat(session.getMaxTextMessageSize()).isEqualTo(1024 * 1024);
  }

  @Test
  void aClusterReportUpdatesTheFactsAndANewVersionRendersTheDeviceAgain() {
    TestDevices.insertActive(db.jdbi(), DEVICE, Map.of(), Instant.parse("2026-01-01T00:00:00Z"));

    send(new AgentMessage.Cluster("v1.28.3", List.of("v1", "apps/v1")));
    assertThat(facts().kubernetesVersion()).isEqualTo("v1.28.3");
    assertThat(facts().kubernetesApiVersions()).containsExactly("apps/v1", "v1");
    assertThat(facts().hostname()).as("the other facts stay").isEqualTo("h");
    assertThat(kubernetesChanged).containsExactly(DEVICE);

    // The same cluster again (every reconnect) changes nothing.
    send(new AgentMessage.Cluster("v1.28.3", List.of("apps/v1", "v1")));
    assertThat(kubernetesChanged).containsExactly(DEVICE);

    // A new API group is stored, but renders do not depend on it.
    send(new AgentMessage.Cluster("v1.28.3", List.of("v1", "apps/v1", "batch/v1")));
    assertThat(facts().kubernetesApiVersions()).containsExactly("apps/v1", "batch/v1", "v1");
    assertThat(kubernetesChanged).containsExactly(DEVICE);

    // The cluster was upgraded while the agent stayed connected.
    send(new AgentMessage.Cluster("v1.29.1+k3s1", List.of("v1", "apps/v1", "batch/v1")));
    assertThat(facts().kubernetesVersion()).isEqualTo("v1.29.1+k3s1");
    assertThat(kubernetesChanged).containsExactly(DEVICE, DEVICE);
    assertThat(refused).isEmpty();
  }

  @Test
  void aClusterReportThatIsNotAVersionIsRefusedAsADeviceEvent() {
    TestDevices.insertActive(db.jdbi(), DEVICE, Map.of(), Instant.parse("2026-01-01T00:00:00Z"));
    send(new AgentMessage.Cluster("v1.28.3", List.of("v1")));

    send(new AgentMessage.Cluster("latest; rm -rf /", List.of("v1")));
    send(new AgentMessage.Cluster("v1.30.0", List.of("v1", "Not A Group/v1")));
    send(
        new AgentMessage.Cluster(
            "v1.30.0",
            java.util.stream.IntStream.range(0, 257).mapToObj(i -> "g" + i + ".io/v1").toList()));

    assertThat(refused)
        .containsExactly(
            "the cluster facts were refused: 'latest; rm -rf /' is not a Kubernetes version such"
                + " as v1.30.6 or v1.30.6+k3s1",
            "the cluster facts were refused: 'Not A Group/v1' is not an API group version such as"
                + " v1 or apps/v1",
            "the cluster facts were refused: 257 API group versions were reported; at most 256 are"
                + " kept");
    assertThat(facts().kubernetesVersion()).isEqualTo("v1.28.3");
    assertThat(kubernetesChanged).containsExactly(DEVICE);
  }

  private void send(AgentMessage message) {
    assertThat(frame(new Frame(OpCode.TEXT, true, Json.write(message))).succeeded).isTrue();
  }

  private DeviceFacts facts() {
    return db.jdbi().withHandle(h -> new DeviceStore().byId(h, DEVICE)).orElseThrow().facts();
  }

  @Test
  void aHeartbeatIsAcknowledged() {
    Recorded cb = frame(new Frame(OpCode.TEXT, true, Json.write(new AgentMessage.Heartbeat(7))));

    assertThat(cb.succeeded).isTrue();
    assertThat(session.sentMessages()).containsExactly(new ControllerMessage.Ack());
    assertThat(traffic).containsExactly("in:Heartbeat", "out:Ack");
    assertThat(session.demands).isEqualTo(2);
  }

  @Test
  void aMessageSplitOverFramesIsAssembledBeforeItIsRead() {
    byte[] text = Json.write(new AgentMessage.Heartbeat(1)).getBytes(StandardCharsets.UTF_8);
    int cut = text.length / 2;

    Recorded first = frame(new Frame(OpCode.TEXT, false, ByteBuffer.wrap(text, 0, cut)));
    assertThat(first.succeeded).isTrue();
    assertThat(session.sent).isEmpty();

    Recorded last =
        frame(
            new Frame(
                OpCode.CONTINUATION, true, ByteBuffer.wrap(text, cut, text.length - cut).slice()));
    assertThat(last.succeeded).isTrue();
    assertThat(session.sentMessages()).containsExactly(new ControllerMessage.Ack());
    assertThat(session.demands).as("one demand per frame after the open").isEqualTo(3);
  }

  @Test
  void aMultiByteCharacterCutBetweenFramesSurvives() {
    String message = "{\"t\":\"event\",\"kind\":\"note\",\"message\":\"h\u00e9llo \u20ac\"}";
    byte[] text = message.getBytes(StandardCharsets.UTF_8);
    int cut = message.indexOf('\u00e9') + 1; // inside the two bytes of the é

    frame(new Frame(OpCode.TEXT, false, ByteBuffer.wrap(text, 0, cut)));
    frame(
        new Frame(
            OpCode.CONTINUATION, true, ByteBuffer.wrap(text, cut, text.length - cut).slice()));

    assertThat(reports)
        .singleElement()
        .isInstanceOfSatisfying(
            AgentMessage.Event.class, e -> assertThat(e.message()).isEqualTo("h\u00e9llo \u20ac"));
  }

  @Test
  void aMessageOverTheMessageLimitIsRefusedAndTheSocketReadsOn() {
    String big = "{\"t\":\"tel\",\"records\":[],\"pad\":\"" + "x".repeat(70 * 1024) + "\"}";

    Recorded cb = frame(new Frame(OpCode.TEXT, true, big));

    assertThat(cb.succeeded).isTrue();
    assertThat(refused).singleElement().asString().contains("the limit is 65536 bytes");
    assertThat(traffic).containsExactly("in:Oversized");
    assertThat(session.closeCode).isNull();

    Recorded next = frame(new Frame(OpCode.TEXT, true, Json.write(new AgentMessage.Heartbeat(2))));
    assertThat(next.succeeded).isTrue();
    assertThat(session.sentMessages()).containsExactly(new ControllerMessage.Ack());
  }

  @Test
  void aMessageOverTheFrameLimitFailsTheSocketWith1009() {
    ByteBuffer half = ByteBuffer.wrap(new byte[600 * 1024]);
    java.util.Arrays.fill(half.array(), (byte) 'x');

    assertThat(frame(new Frame(OpCode.TEXT, false, half.duplicate())).succeeded).isTrue();
    Recorded tooMuch = frame(new Frame(OpCode.CONTINUATION, true, half.duplicate()));

    assertThat(tooMuch.failure)
        .isInstanceOfSatisfying(
            MessageTooLargeException.class,
            e -> assertThat(e.getStatusCode()).isEqualTo(CloseStatus.MESSAGE_TOO_LARGE));
  }

  @Test
  void invalidUtf8FailsTheSocket() {
    Recorded cb =
        frame(new Frame(OpCode.TEXT, true, ByteBuffer.wrap(new byte[] {'{', (byte) 0xC3, '}'})));

    assertThat(cb.failure).isInstanceOf(BadPayloadException.class);
  }

  @Test
  void aPingIsAnsweredWithItsPayload() {
    Recorded cb = frame(new Frame(OpCode.PING, true, "are you there"));

    assertThat(cb.succeeded).isTrue();
    assertThat(session.sent).singleElement().satisfies(f -> assertPong(f, "are you there"));
    assertThat(session.demands).isEqualTo(2);
  }

  @Test
  void aBinaryMessageIsACompactTelemetryBatchAndIsAcknowledged() {
    Instant at = Instant.parse("2026-11-21T10:05:00Z");
    List<Telemetry> records =
        List.of(
            new Telemetry.DeviceEvent(4, at, "app-ready", "info", "web", "ready"),
            new Telemetry.Metrics(
                5,
                at.minusSeconds(300),
                at,
                Map.of("cpu.used.percent", new Telemetry.Stat(1, 9, 4.5, 2, 60))));
    byte[] bytes = new CompactTelemetry.Encoder().encode(records).bytes();
    int cut = bytes.length / 2;

    Recorded first = frame(new Frame(OpCode.BINARY, false, ByteBuffer.wrap(bytes, 0, cut)));
    Recorded last =
        frame(
            new Frame(
                OpCode.CONTINUATION,
                true,
                ByteBuffer.wrap(bytes, cut, bytes.length - cut).slice()));

    assertThat(first.succeeded).isTrue();
    assertThat(last.succeeded).isTrue();
    assertThat(batches).containsExactly(records);
    assertThat(session.sentMessages()).containsExactly(new ControllerMessage.TelemetryAck(5));
    assertThat(traffic).containsExactly("in:TelemetryCompact", "out:TelemetryAck");
    assertThat(trafficBytes.getFirst()).isEqualTo(bytes.length);
    assertThat(session.demands).isEqualTo(3);
  }

  @Test
  void aBinaryMessageThatIsNotACompactBatchIsRefusedAndTheSocketReadsOn() {
    Recorded cb = frame(new Frame(OpCode.BINARY, true, ByteBuffer.wrap(new byte[] {1, 2, 3})));

    assertThat(cb.succeeded).isTrue();
    assertThat(batches).isEmpty();
    assertThat(refused).singleElement().asString().startsWith("unreadable compact telemetry");
    assertThat(session.sent).isEmpty();

    Recorded text = frame(new Frame(OpCode.TEXT, true, Json.write(new AgentMessage.Heartbeat(3))));
    assertThat(text.succeeded).isTrue();
    assertThat(session.sentMessages()).containsExactly(new ControllerMessage.Ack());
  }

  @Test
  void aBinaryMessageOverTheMessageLimitIsRefusedWithoutBeingKept() {
    byte[] chunk = new byte[40 * 1024];
    frame(new Frame(OpCode.BINARY, false, ByteBuffer.wrap(chunk)));
    Recorded last = frame(new Frame(OpCode.CONTINUATION, true, ByteBuffer.wrap(chunk)));

    assertThat(last.succeeded).isTrue();
    assertThat(refused).singleElement().asString().contains("81920 bytes was refused");
    assertThat(traffic).containsExactly("in:Oversized");
    assertThat(batches).isEmpty();
    assertThat(session.closeCode).isNull();
  }

  @Test
  void theEndOfTheSocketUnregistersTheDevice() {
    Recorded cb = new Recorded();
    socket.onClosed(new CloseStatus(CloseStatus.NORMAL, "bye"), cb);

    assertThat(cb.succeeded).isTrue();
    assertThat(connections.isConnected(DEVICE)).isFalse();
    assertThat(presence.snapshot(DEVICE).connected()).isFalse();
    assertThat(connections.send(DEVICE, new ControllerMessage.Ack())).isFalse();
    assertThat(disconnected).containsExactly(DEVICE);
  }

  @Test
  void anErrorUnregistersTheDevice() {
    Recorded cb = new Recorded();
    socket.onError(new java.io.IOException("reset"), cb);

    assertThat(cb.succeeded).isTrue();
    assertThat(connections.isConnected(DEVICE)).isFalse();
  }

  @Test
  void theConnectionsSendAndCloseThroughTheSession() {
    assertThat(connections.send(DEVICE, new ControllerMessage.Nudge(4))).isTrue();
    assertThat(session.sentMessages()).containsExactly(new ControllerMessage.Nudge(4));

    connections.disconnect(DEVICE, 4001, "go away");
    assertThat(session.closeCode).isEqualTo(4001);
  }

  private Recorded frame(Frame frame) {
    Recorded cb = new Recorded();
    socket.onFrame(frame, cb);
    return cb;
  }

  private static void assertPong(Frame f, String payload) {
    assertThat(f.getOpCode()).isEqualTo(OpCode.PONG);
    assertThat(f.getPayloadAsUTF8()).isEqualTo(payload);
  }

  static final class Recorded implements Callback {
    boolean succeeded;
    Throwable failure;

    @Override
    public void succeeded() {
      succeeded = true;
    }

    @Override
    public void failed(Throwable x) {
      failure = x;
    }
  }

  /** Jetty's empty session plus what the handler did to it. */
  static final class FakeSession extends CoreSession.Empty {
    final List<Frame> sent = new CopyOnWriteArrayList<>();
    int demands;
    Integer closeCode;

    @Override
    public void demand() {
      demands++;
    }

    @Override
    public void sendFrame(OutgoingEntry entry) {
      sent.add(entry.getFrame());
      entry.getCallback().succeeded();
    }

    @Override
    public void close(int statusCode, String reason, Callback callback) {
      closeCode = statusCode;
      callback.succeeded();
    }

    List<ControllerMessage> sentMessages() {
      List<ControllerMessage> out = new ArrayList<>();
      for (Frame f : sent) {
        if (f.getOpCode() == OpCode.TEXT) {
          try {
            out.add(Json.mapper().readValue(f.getPayloadAsUTF8(), ControllerMessage.class));
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        }
      }
      return out;
    }
  }
}
