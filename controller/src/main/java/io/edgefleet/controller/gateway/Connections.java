package io.edgefleet.controller.gateway;

import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.tunnel.TunnelMux;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The devices' live connections, one per device: how the rest of the controller reaches a connected
 * device (sends it a message, cuts it off) and counts connections. The {@link AgentGateway} adds a
 * connection when it admits a device's socket and removes it when the socket ends. Thread-safe.
 */
public final class Connections {
  private final Map<String, AgentConnection> connections = new ConcurrentHashMap<>();

  /** Sends a message over the device's connection; false if it has none. */
  public boolean send(String deviceId, ControllerMessage message) {
    AgentConnection c = connections.get(deviceId);
    return c != null && c.send(message);
  }

  /** Tells a connected device that a newer desired state exists; a no-op if it is offline. */
  public void nudge(String deviceId, long generation) {
    send(deviceId, new ControllerMessage.Nudge(generation));
  }

  /** Closes the device's socket, if any, telling the agent why. */
  public void disconnect(String deviceId, int closeCode, String reason) {
    AgentConnection c = connections.get(deviceId);
    if (c != null) {
      c.close(closeCode, reason);
    }
  }

  /** Closes every socket, for shutdown; agents reconnect with backoff. */
  public void closeAll() {
    connections
        .values()
        .forEach(c -> c.close(DeviceApi.CLOSE_GOING_AWAY, "controller shutting down"));
  }

  /**
   * The tunnel streams of the device's current connection, if it has one. Its streams end
   * (DEVICE_DISCONNECTED, "link lost: ...") when that connection does, also when a newer one
   * replaces it.
   */
  public Optional<TunnelMux> tunnels(String deviceId) {
    AgentConnection c = connections.get(deviceId);
    return c == null ? Optional.empty() : Optional.of(c.tunnels());
  }

  public int count() {
    return connections.size();
  }

  public boolean isConnected(String deviceId) {
    return connections.containsKey(deviceId);
  }

  /** Makes {@code c} the device's connection; answers the one it replaces, if any. */
  AgentConnection put(String deviceId, AgentConnection c) {
    return connections.put(deviceId, c);
  }

  /** Removes {@code c} if it is still the device's connection; false if it was replaced. */
  boolean remove(String deviceId, AgentConnection c) {
    return connections.remove(deviceId, c);
  }
}
