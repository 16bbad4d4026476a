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
    s.setMaxTextMessageSize(MAX_MESSAGE_BYTES);
    s.setMaxBinaryMessageSize(MAX_MESSAGE_BYTES);
    gateway.register(deviceId, this);
  }

  @Override
  public void onWebSocketText(String text) {
    AgentMessage msg;
    try {
      msg = Json.mapper().readValue(text, AgentMessage.class);
    } catch (Exception e) {
      gateway.malformed(deviceId, e);
      return;
    }
    switch (msg) {
      case AgentMessage.Hello hello -> gateway.hello(this, deviceId, hello.agentVersion());
      case AgentMessage.Heartbeat hb -> {
        gateway.heartbeat(deviceId);
        send(ACK);
      }
      case AgentMessage.AppReport report -> gateway.report(deviceId, report);
      case AgentMessage.Event event -> gateway.report(deviceId, event);
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

  void send(ControllerMessage msg) {
    Session s = session;
    if (s != null && s.isOpen()) {
      s.sendText(Json.write(msg), Callback.NOOP);
    }
  }

  void close(int code, String reason) {
    Session s = session;
    if (s != null && s.isOpen()) {
      s.close(code, reason, Callback.NOOP);
    }
  }
}
