package io.edgefleet.controller.gateway;

import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.CompactTelemetry;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tunnel.TunnelFrame;
import io.edgefleet.protocol.tunnel.TunnelMux;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Utf8StringBuilder;
import org.eclipse.jetty.websocket.core.CloseStatus;
import org.eclipse.jetty.websocket.core.CoreSession;
import org.eclipse.jetty.websocket.core.Frame;
import org.eclipse.jetty.websocket.core.FrameHandler;
import org.eclipse.jetty.websocket.core.OpCode;
import org.eclipse.jetty.websocket.core.exception.BadPayloadException;
import org.eclipse.jetty.websocket.core.exception.MessageTooLargeException;

/**
 * One admitted device's WebSocket; created only by {@link AgentGateway}.
 *
 * <p>Written against Jetty's core WebSocket API rather than the Jetty WebSocket API: the latter
 * keeps, for the whole life of every socket, a copy of the upgrade request and response that still
 * references the HTTP/1.1 connection it was upgraded from (parser, header tables, channel state),
 * plus a session object and bound method handles per socket. Here a socket costs this object and
 * Jetty's core session. Between messages nothing is buffered: a text message is assembled only
 * while its frames arrive. Binary messages are compact telemetry batches ({@link
 * CompactTelemetry}); their decoder, which holds the metric names this connection was told, is made
 * on the first one.
 */
final class AgentConnection implements FrameHandler {
  private static final ControllerMessage ACK = new ControllerMessage.Ack();

  /** The traffic type of a compact telemetry batch (a binary message). */
  static final String TELEMETRY_COMPACT = "TelemetryCompact";

  /** The traffic type of a tunnel frame (a binary message starting with 0x10). */
  static final String TUNNEL = "Tunnel";

  private static final int MAX_MESSAGE_BYTES = 64 * 1024;
  // Up to this size a message too large for MAX_MESSAGE_BYTES is refused and counted while the
  // socket stays up; only beyond it does the socket close (1009), as it cannot be skipped cheaply.
  private static final int MAX_FRAME_BYTES = 1024 * 1024;

  /** How an attestation answer starts: the one message allowed up to MAX_FRAME_BYTES. */
  private static final String QUOTE_PREFIX = "{\"t\":\"quote\"";

  private final AgentGateway gateway;
  private final String deviceId;
  private volatile CoreSession session;
  // The message being received. Frames of one socket are delivered one at a time (each after the
  // previous one's demand), so these need no lock; they are empty between messages.
  private Utf8StringBuilder text;
  private byte[] binary;
  private int binaryLength;
  private byte messageType = OpCode.UNDEFINED;
  private long messageBytes;
  private CompactTelemetry.Decoder decoder;
  private final TunnelMux tunnels;

  AgentConnection(AgentGateway gateway, String deviceId) {
    this.gateway = gateway;
    this.deviceId = deviceId;
    this.tunnels =
        TunnelMux.controller(this::sendTunnelFrame, gateway.clock(), TunnelMux.MAX_STREAMS);
  }

  /** The tunnel streams of this connection. */
  TunnelMux tunnels() {
    return tunnels;
  }

  /**
   * Hands one tunnel frame to Jetty; the mux waits for it to leave before the next one, so the text
   * messages sent meanwhile (queued by Jetty at once) wait behind at most this frame.
   */
  private CompletableFuture<?> sendTunnelFrame(byte[] frame) {
    CoreSession s = session;
    if (s == null || !s.isOutputOpen()) {
      return CompletableFuture.failedFuture(new java.io.IOException("the socket is closed"));
    }
    CompletableFuture<Void> sent = new CompletableFuture<>();
    s.sendFrame(
        new Frame(OpCode.BINARY, true, ByteBuffer.wrap(frame)),
        Callback.from(() -> sent.complete(null), sent::completeExceptionally),
        false);
    gateway.traffic(false, TUNNEL, frame.length);
    return sent;
  }

  @Override
  public void onOpen(CoreSession s, Callback callback) {
    try {
      this.session = s;
      s.setIdleTimeout(gateway.idleTimeout());
      s.setMaxTextMessageSize(MAX_FRAME_BYTES);
      s.setMaxBinaryMessageSize(MAX_FRAME_BYTES);
      gateway.register(deviceId, this, remote(s));
    } catch (Throwable t) {
      callback.failed(t);
      return;
    }
    callback.succeeded();
    s.demand();
  }

  @Override
  public void onFrame(Frame frame, Callback callback) {
    switch (frame.getOpCode()) {
      case OpCode.TEXT, OpCode.BINARY -> {
        messageType = frame.getOpCode();
        messageBytes = 0;
        data(frame, callback);
      }
      case OpCode.CONTINUATION -> data(frame, callback);
      case OpCode.PING -> pong(frame, callback);
      case OpCode.PONG -> {
        callback.succeeded();
        session.demand();
      }
      // Jetty answers the close frame once the callback completes; the socket's end is then
      // reported to onClosed.
      case OpCode.CLOSE -> callback.succeeded();
      default -> callback.failed(new IllegalStateException("unexpected frame " + frame));
    }
  }

  /** A frame of a text or binary message: assembled up to MAX_FRAME_BYTES, then handled. */
  private void data(Frame frame, Callback callback) {
    CoreSession s = session;
    try {
      messageBytes += frame.getPayloadLength();
      long max =
          messageType == OpCode.TEXT ? s.getMaxTextMessageSize() : s.getMaxBinaryMessageSize();
      if (max > 0 && messageBytes > max) {
        reset();
        callback.failed(
            new MessageTooLargeException(
                String.format("message too large: %,d > %,d bytes", messageBytes, max)));
        return;
      }
      if (messageType == OpCode.TEXT) {
        if (text == null) {
          text =
              new Utf8StringBuilder(
                  frame.isFin()
                      ? Math.max(16, frame.getPayloadLength())
                      : Math.max(s.getInputBufferSize(), frame.getPayloadLength()));
        }
        if (frame.hasPayload()) {
          text.append(frame.getPayload());
        }
      } else if (frame.hasPayload() && messageBytes <= MAX_MESSAGE_BYTES) {
        // Kept only up to the message limit; a larger one is counted to its end and refused.
        ByteBuffer p = frame.getPayload();
        int n = p.remaining();
        if (binary == null || binaryLength + n > binary.length) {
          int want = frame.isFin() ? binaryLength + n : Math.max(4096, 2 * (binaryLength + n));
          binary =
              Arrays.copyOf(
                  binary == null ? new byte[0] : binary, Math.min(MAX_MESSAGE_BYTES, want));
        }
        p.get(binary, binaryLength, n);
        binaryLength += n;
      }
      if (!frame.isFin()) {
        callback.succeeded();
        s.demand();
        return;
      }
      long bytes = messageBytes;
      if (messageType == OpCode.TEXT) {
        String message = text.takeCompleteString(BadPayloadException.InvalidUtf8::new);
        reset();
        onText(message, bytes);
      } else {
        byte[] message = binary == null ? new byte[0] : binary;
        int length = binaryLength;
        reset();
        onBinary(message, length, bytes);
      }
      callback.succeeded();
      s.demand();
    } catch (Throwable t) {
      reset();
      callback.failed(t);
    }
  }

  private void reset() {
    text = null;
    binary = null;
    binaryLength = 0;
    messageType = OpCode.UNDEFINED;
    messageBytes = 0;
  }

  /** Answers a ping with a pong of the same payload; reads on once the pong is out. */
  private void pong(Frame ping, Callback callback) {
    CoreSession s = session;
    Runnable readOn =
        () -> {
          // A failed pong (e.g. the output is already closed) does not fail the socket.
          callback.succeeded();
          s.demand();
        };
    s.sendFrame(
        new Frame(OpCode.PONG, true, ping.getPayload()),
        Callback.from(readOn, x -> readOn.run()),
        false);
  }

  void onText(String text, long bytes) {
    // A quote carries the boot event log, which may take up to a whole frame.
    int limit = text.startsWith(QUOTE_PREFIX) ? MAX_FRAME_BYTES : MAX_MESSAGE_BYTES;
    if (bytes > limit) {
      gateway.oversized(deviceId, bytes, limit);
      gateway.traffic(true, "Oversized", bytes);
      return;
    }
    AgentMessage msg;
    try {
      msg = Json.mapper().readValue(text, AgentMessage.class);
    } catch (Exception e) {
      gateway.traffic(true, "Unreadable", bytes);
      // A telemetry batch with one bad record is still read record by record.
      if (!gateway.telemetryText(this, deviceId, text)) {
        gateway.malformed(deviceId, e);
      }
      return;
    }
    gateway.traffic(true, msg.getClass().getSimpleName(), bytes);
    // Any message shows the device is there: an agent that sends other messages skips heartbeats.
    gateway.heard(deviceId);
    switch (msg) {
      case AgentMessage.Hello hello -> gateway.hello(this, deviceId, hello);
      case AgentMessage.Heartbeat hb -> send(ACK);
      case AgentMessage.AppReport report -> gateway.report(deviceId, report);
      case AgentMessage.Event event -> gateway.report(deviceId, event);
      case AgentMessage.LogLines lines -> gateway.logLines(deviceId, lines);
      case AgentMessage.TelemetryBatch batch -> gateway.telemetry(this, deviceId, batch);
      case AgentMessage.Cluster cluster -> gateway.cluster(deviceId, cluster);
      case AgentMessage.AttestationAnswer answer -> gateway.attestationAnswer(deviceId, answer);
      case AgentMessage.ClusterNode node -> gateway.clusterNode(deviceId, node);
      case AgentMessage.AgentSlots slots -> gateway.report(deviceId, slots);
      case AgentMessage.ArtifactReport artifacts -> gateway.report(deviceId, artifacts);
    }
  }

  /** A binary message: a tunnel frame (0x10) or a compact telemetry batch. */
  void onBinary(byte[] message, int length, long bytes) {
    if (length > 0 && message[0] == TunnelFrame.MARK && bytes <= MAX_MESSAGE_BYTES) {
      gateway.traffic(true, TUNNEL, bytes);
      gateway.heard(deviceId);
      tunnels.received(ByteBuffer.wrap(message, 0, length));
      return;
    }
    if (bytes > MAX_MESSAGE_BYTES) {
      gateway.oversized(deviceId, bytes, MAX_MESSAGE_BYTES);
      gateway.traffic(true, "Oversized", bytes);
      return;
    }
    gateway.traffic(true, TELEMETRY_COMPACT, bytes);
    gateway.heard(deviceId);
    if (decoder == null) {
      decoder = gateway.telemetryDecoder();
    }
    gateway.telemetryCompact(this, deviceId, ByteBuffer.wrap(message, 0, length), decoder);
  }

  @Override
  public void onError(Throwable cause, Callback callback) {
    tunnels.linkLost(
        ErrorCode.DEVICE_DISCONNECTED, "link lost: the connection failed: " + cause.getMessage());
    gateway.unregister(deviceId, this, "connection failed: " + cause.getMessage());
    callback.succeeded();
  }

  @Override
  public void onClosed(CloseStatus closeStatus, Callback callback) {
    tunnels.linkLost(ErrorCode.DEVICE_DISCONNECTED, "link lost: " + why(closeStatus));
    gateway.unregister(deviceId, this, why(closeStatus));
    callback.succeeded();
  }

  private static String remote(CoreSession s) {
    java.net.SocketAddress a = s.getRemoteAddress();
    return a instanceof java.net.InetSocketAddress inet && inet.getAddress() != null
        ? inet.getAddress().getHostAddress()
        : String.valueOf(a);
  }

  /**
   * Why a socket ended, for the log: the agent left, the link died, or the controller closed it.
   */
  private static String why(CloseStatus status) {
    if (status == null) {
      return "the connection ended";
    }
    String reason = status.getReason() == null ? "" : status.getReason();
    return switch (status.getCode()) {
      case CloseStatus.NORMAL -> "the agent closed the connection" + suffix(reason);
      case CloseStatus.SHUTDOWN -> "going away" + suffix(reason);
      case CloseStatus.NO_CLOSE, CloseStatus.NO_CODE ->
          "the connection broke or timed out" + suffix(reason);
      default -> "closed (" + status.getCode() + ")" + suffix(reason);
    };
  }

  private static String suffix(String reason) {
    return reason.isBlank() ? "" : ": " + reason;
  }

  /** Queues a message; false if the socket is not open. */
  boolean send(ControllerMessage msg) {
    CoreSession s = session;
    if (s != null && s.isOutputOpen()) {
      byte[] bytes = Json.writeBytes(msg);
      s.sendFrame(new Frame(OpCode.TEXT, true, ByteBuffer.wrap(bytes)), Callback.NOOP, false);
      gateway.traffic(false, msg.getClass().getSimpleName(), bytes.length);
      return true;
    }
    return false;
  }

  void close(int code, String reason) {
    CoreSession s = session;
    if (s != null && s.isOutputOpen()) {
      s.close(code, reason, Callback.NOOP);
    }
  }
}
