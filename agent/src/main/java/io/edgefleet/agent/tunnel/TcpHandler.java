package io.edgefleet.agent.tunnel;

import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.tunnel.TunnelException;
import io.edgefleet.protocol.tunnel.TunnelStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * The {@code tcp} kind (port-forward): connects from the device to {@code host:port} and joins the
 * connection to the stream. Only the device itself (loopback) may be reached unless the device's
 * configuration names other hosts ({@code --tunnel-host}): a tunnel must not turn the device into
 * an open door to its site's network by the controller's decision alone.
 */
public final class TcpHandler implements StreamHandler {
  private final List<String> allowedHosts;
  private final Duration connectTimeout;

  /**
   * @param allowedHosts hosts besides loopback a stream may reach; {@code *} allows any
   */
  public TcpHandler(List<String> allowedHosts, Duration connectTimeout) {
    this.allowedHosts = allowedHosts.stream().map(h -> h.toLowerCase(Locale.ROOT)).toList();
    this.connectTimeout = connectTimeout;
  }

  @Override
  public void open(TunnelStream s) throws Exception {
    String host = s.params().getOrDefault("host", "127.0.0.1");
    String p = s.params().getOrDefault("port", "");
    int port;
    try {
      port = Integer.parseInt(p);
    } catch (NumberFormatException e) {
      port = -1;
    }
    if (port < 1 || port > 65535) {
      throw new TunnelException(
          ErrorCode.VALIDATION_FAILED, "port must be 1 to 65535, not '" + p + "'");
    }
    InetAddress address;
    try {
      address = InetAddress.getByName(host);
    } catch (UnknownHostException e) {
      throw new TunnelException(
          ErrorCode.TUNNEL_TARGET_UNREACHABLE, "the device cannot resolve the host '" + host + "'");
    }
    if (!allowed(host, address)) {
      throw new TunnelException(
          ErrorCode.TUNNEL_REFUSED,
          "the device allows port-forwarding only to itself (127.0.0.1); "
              + host
              + " is not among the hosts its configuration allows (agent option --tunnel-host)");
    }
    Socket socket = new Socket();
    try {
      socket.connect(new InetSocketAddress(address, port), (int) connectTimeout.toMillis());
      socket.setTcpNoDelay(true);
    } catch (IOException e) {
      Pipes.closeQuietly(socket);
      throw new TunnelException(
          ErrorCode.TUNNEL_TARGET_UNREACHABLE,
          "the device cannot connect to " + host + ":" + port + ": " + e.getMessage());
    }
    Pipes.join(s, socket);
  }

  private boolean allowed(String host, InetAddress address) {
    if (address.isLoopbackAddress() || allowedHosts.contains("*")) {
      return true;
    }
    return allowedHosts.contains(host.toLowerCase(Locale.ROOT))
        || allowedHosts.contains(address.getHostAddress());
  }
}
