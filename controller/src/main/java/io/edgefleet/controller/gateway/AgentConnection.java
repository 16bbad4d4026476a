package io.edgefleet.controller.gateway;

import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.Json;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;

/**
 * One admitted device's WebSocket. Public because Jetty binds listener methods by method handle;
 * created only by {@link AgentGateway}.
 */
public final class AgentConnection implements Session.Listener.AutoDemanding {
  private static final ControllerMessage ACK = new ControllerMessage.Ack();
  private static final int MAX_MESSAGE_BYTES = 64 * 1024;
  // Up to this size a message too large for MAX_MESSAGE_BYTES is refused and counted while the
  // socket stays up; only beyond it does the socket close (1009), as it cannot be skipped cheaply.
  private static final int MAX_FRAME_BYTES = 1024 * 1024;

  private final AgentGateway gateway;
  private final String deviceId;
  private volatile Session session;

  AgentConnection(AgentGateway gateway, String deviceId) {
    this.gateway = gateway;
    this.deviceId = deviceId;
  }

  @Override
  public void onWebSocketOpen(Session s) {
    this.session = s;
    s.setIdleTimeout(gateway.idleTimeout());
    s.setMaxTextMessageSize(MAX_FRAME_BYTES);
    s.setMaxBinaryMessageSize(MAX_FRAME_BYTES);
    gateway.register(deviceId, this);
  }

  @Override
  public void onWebSocketText(String text) {
    if (text.length() > MAX_MESSAGE_BYTES) {
      gateway.oversized(deviceId, text.length(), MAX_MESSAGE_BYTES);
      gateway.traffic(true, "Oversized");
      return;
    }
    AgentMessage msg;
    try {
      msg = Json.mapper().readValue(text, AgentMessage.class);
    } catch (Exception e) {
      gateway.traffic(true, "Unreadable");
      // A telemetry batch with one bad record is still read record by record.
      if (!gateway.telemetryText(this, deviceId, text)) {
        gateway.malformed(deviceId, e);
      }
      return;
    }
    gateway.traffic(true, msg.getClass().getSimpleName());
    switch (msg) {
      case AgentMessage.Hello hello -> gateway.hello(this, deviceId, hello.agentVersion());
      case AgentMessage.Heartbeat hb -> {
        gateway.heartbeat(deviceId);
        send(ACK);
      }
      case AgentMessage.AppReport report -> gateway.report(deviceId, report);
      case AgentMessage.Event event -> gateway.report(deviceId, event);
      case AgentMessage.LogLines lines -> gateway.logLines(deviceId, lines);
      case AgentMessage.TelemetryBatch batch -> gateway.telemetry(this, deviceId, batch);
    }
  }

  @Override
  public void onWebSocketClose(int statusCode, String reason, Callback callback) {
    gateway.unregister(deviceId, this);
    callback.succeed();
  }

  @Override
  public void onWebSocketError(Throwable cause) {
    gateway.unregister(deviceId, this);
  }

  /** Queues a message; false if the socket is not open. */
  boolean send(ControllerMessage msg) {
    Session s = session;
    if (s != null && s.isOpen()) {
      s.sendText(Json.write(msg), Callback.NOOP);
      gateway.traffic(false, msg.getClass().getSimpleName());
      return true;
    }
    return false;
  }

  void close(int code, String reason) {
    Session s = session;
    if (s != null && s.isOpen()) {
      s.close(code, reason, Callback.NOOP);
    }
  }
}
