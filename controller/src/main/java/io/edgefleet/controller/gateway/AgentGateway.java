package io.edgefleet.controller.gateway;

import io.edgefleet.controller.ControllerException;
import io.edgefleet.controller.devices.DeviceRecord;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.Presence;
import io.edgefleet.controller.pki.ControllerPki;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agents' side of the controller: admits a WebSocket only for a device certificate that is
 * current and not revoked, keeps one connection per device (a newer one replaces an older one),
 * answers {@code hello} with the check-in cadence and feeds heartbeats to {@link Presence}.
 * Thread-safe.
 */
public final class AgentGateway {
  private static final Logger LOG = LoggerFactory.getLogger(AgentGateway.class);
  private static final int MAX_MESSAGE_BYTES = 64 * 1024;

  private final Jdbi jdbi;
  private final DeviceStore store;
  private final Presence presence;
  private final Clock clock;
  private final int heartbeatSeconds;
  private final Duration idleTimeout;
  private final Map<String, Connection> connections = new ConcurrentHashMap<>();
  private final Map<String, AtomicLong> refusals = new ConcurrentHashMap<>();
  private final AtomicLong malformedMessages = new AtomicLong();

  public AgentGateway(
      Jdbi jdbi, DeviceStore store, Presence presence, Clock clock, Duration heartbeat) {
    this.jdbi = jdbi;
    this.store = store;
    this.presence = presence;
    this.clock = clock;
    this.heartbeatSeconds = (int) Math.max(1, heartbeat.toSeconds());
    // Three missed heartbeats and the socket is considered dead.
    this.idleTimeout = heartbeat.multipliedBy(3).plusSeconds(5);
  }

  /**
   * Decides whether the presented client certificate may connect.
   *
   * @return the device id
   * @throws ControllerException with a code the agent acts on
   */
  public String admit(X509Certificate[] peerCertificates) {
    if (peerCertificates == null || peerCertificates.length == 0) {
      throw new ControllerException(
          ErrorCode.CLIENT_CERTIFICATE_REQUIRED,
          "this endpoint needs the device certificate issued at enrollment (mutual TLS)");
    }
    X509Certificate cert = peerCertificates[0];
    String deviceId = ControllerPki.deviceIdOf(cert);
    String serial = ControllerPki.serialOf(cert);
    DeviceRecord d =
        jdbi.withHandle(h -> store.byId(h, deviceId))
            .orElseThrow(
                () -> refused(deviceId, ErrorCode.DEVICE_UNKNOWN, "device " + deviceId + " is not known"));
    boolean revoked =
        jdbi.withHandle(
            h ->
                h.createQuery("SELECT COUNT(*) FROM revoked_certificates WHERE serial = :s")
                        .bind("s", serial)
                        .mapTo(Integer.class)
                        .one()
                    > 0);
    if (d.lifecycle() == DeviceRecord.Lifecycle.DECOMMISSIONED || revoked) {
      throw refused(
          deviceId,
          ErrorCode.DEVICE_DECOMMISSIONED,
          "device "
              + deviceId
              + " was decommissioned and its certificate revoked; it will not be let back in");
    }
    if (d.lifecycle() != DeviceRecord.Lifecycle.ACTIVE || !Objects.equals(serial, d.certificateSerial())) {
      throw refused(
          deviceId,
          ErrorCode.DEVICE_UNKNOWN,
          "certificate " + serial + " is not the current certificate of device " + deviceId);
    }
    return deviceId;
  }

  private ControllerException refused(String deviceId, ErrorCode code, String message) {
    refusals.computeIfAbsent(deviceId, k -> new AtomicLong()).incrementAndGet();
    return new ControllerException(code, message);
  }

  /** The endpoint serving one admitted device's socket. */
  public Session.Listener endpoint(String deviceId) {
    return new Connection(deviceId);
  }

  /** Closes the device's socket, if any, telling the agent why. */
  public void disconnect(String deviceId, int closeCode, String reason) {
    Connection c = connections.get(deviceId);
    if (c != null) {
      c.close(closeCode, reason);
    }
  }

  /** Closes every socket, for shutdown; agents reconnect with backoff. */
  public void closeAll() {
    connections.values().forEach(c -> c.close(DeviceApi.CLOSE_GOING_AWAY, "controller shutting down"));
  }

  public int connectionCount() {
    return connections.size();
  }

  public boolean isConnected(String deviceId) {
    return connections.containsKey(deviceId);
  }

  /** Connection attempts refused for this device since the controller started. */
  public long refusedAttempts(String deviceId) {
    AtomicLong n = refusals.get(deviceId);
    return n == null ? 0 : n.get();
  }

  public long malformedMessages() {
    return malformedMessages.get();
  }

  private final class Connection implements Session.Listener.AutoDemanding {
    private final String deviceId;
    private volatile Session session;

    Connection(String deviceId) {
      this.deviceId = deviceId;
    }

    @Override
    public void onWebSocketOpen(Session s) {
      this.session = s;
      s.setIdleTimeout(idleTimeout);
      s.setMaxTextMessageSize(MAX_MESSAGE_BYTES);
      s.setMaxBinaryMessageSize(MAX_MESSAGE_BYTES);
      Connection previous = connections.put(deviceId, this);
      if (previous != null && previous != this) {
        previous.close(DeviceApi.CLOSE_REPLACED, "replaced by a newer connection of the same device");
      }
      presence.connected(deviceId);
    }

    @Override
    public void onWebSocketText(String text) {
      AgentMessage msg;
      try {
        msg = Json.mapper().readValue(text, AgentMessage.class);
      } catch (Exception e) {
        malformedMessages.incrementAndGet();
        LOG.debug("malformed message from {}: {}", deviceId, e.toString());
        return;
      }
      switch (msg) {
        case AgentMessage.Hello hello -> {
          presence.heartbeat(deviceId);
          recordAgentVersion(hello.agentVersion());
          send(new ControllerMessage.Welcome(deviceId, heartbeatSeconds));
        }
        case AgentMessage.Heartbeat hb -> presence.heartbeat(deviceId);
      }
    }

    @Override
    public void onWebSocketClose(int statusCode, String reason, Callback callback) {
      if (connections.remove(deviceId, this)) {
        presence.disconnected(deviceId);
      }
      callback.succeed();
    }

    @Override
    public void onWebSocketError(Throwable cause) {
      LOG.debug("socket of {} failed: {}", deviceId, cause.toString());
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

    private void recordAgentVersion(String version) {
      if (version == null || version.length() > 64) {
        return;
      }
      jdbi.useHandle(
          h ->
              store
                  .byId(h, deviceId)
                  .filter(d -> !version.equals(d.agentVersion()))
                  .ifPresent(d -> store.setAgentVersion(h, deviceId, version, clock.millis())));
    }
  }
}
