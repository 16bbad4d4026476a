package io.edgefleet.agent.tunnel;

import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.tunnel.TunnelException;
import io.edgefleet.protocol.tunnel.TunnelStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Supplier;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * The {@code kube} kind: one HTTP/1.1 request of kubectl, already authenticated by the controller,
 * sent to the device's own Kubernetes API server with the device's credentials and {@code
 * Impersonate-User}/{@code Impersonate-Group} from the stream's parameters, so the cluster's RBAC
 * decides what the operator may do. The request's own credentials and impersonation headers are
 * dropped here too, whatever the controller sent. The answer flows back as it comes (a watch,
 * {@code logs -f}); an upgrade (101, for exec, attach and port-forward) turns the stream into raw
 * bytes both ways. Every request carries {@code Connection: close} unless it asks for an upgrade:
 * one request per stream.
 */
public final class KubeHandler implements StreamHandler {
  /** The largest request head taken. */
  static final int MAX_HEAD = 64 * 1024;

  /** Where the device's Kubernetes API server is and how to authenticate to it. */
  public record Api(URI server, SSLContext ssl, Optional<String> token) {}

  private final Supplier<Api> api;
  private final Duration connectTimeout;

  /**
   * @param api the API server, read when a stream opens; throws {@link IllegalStateException} with
   *     a message for the operator when the device has none
   */
  public KubeHandler(Supplier<Api> api, Duration connectTimeout) {
    this.api = api;
    this.connectTimeout = connectTimeout;
  }

  @Override
  public void open(TunnelStream s) throws Exception {
    String user = s.params().getOrDefault("user", "");
    if (user.isBlank()) {
      throw new TunnelException(
          ErrorCode.VALIDATION_FAILED, "a kube stream needs the user to impersonate");
    }
    List<String> groups =
        List.of(s.params().getOrDefault("groups", "").split(",")).stream()
            .map(String::strip)
            .filter(g -> !g.isEmpty())
            .toList();
    InputStream in = s.input();
    byte[] head = readHead(in);
    Api a;
    try {
      a = api.get();
    } catch (RuntimeException e) {
      throw new TunnelException(
          ErrorCode.TUNNEL_TARGET_UNREACHABLE,
          "the device has no usable Kubernetes API: " + e.getMessage());
    }
    byte[] request = rewrite(head, a, user, groups);
    Socket socket = connect(a);
    OutputStream toServer = socket.getOutputStream();
    toServer.write(request);
    toServer.flush();
    Pipes.join(s, socket);
  }

  private Socket connect(Api a) throws TunnelException {
    URI u = a.server();
    boolean tls = !"http".equalsIgnoreCase(u.getScheme());
    int port = u.getPort() > 0 ? u.getPort() : tls ? 443 : 80;
    Socket raw = new Socket();
    try {
      raw.connect(new InetSocketAddress(u.getHost(), port), (int) connectTimeout.toMillis());
      raw.setTcpNoDelay(true);
      if (!tls) {
        return raw;
      }
      SSLSocket ssl =
          (SSLSocket) a.ssl().getSocketFactory().createSocket(raw, u.getHost(), port, true);
      SSLParameters p = ssl.getSSLParameters();
      p.setApplicationProtocols(new String[] {"http/1.1"});
      ssl.setSSLParameters(p);
      ssl.startHandshake();
      return ssl;
    } catch (IOException e) {
      Pipes.closeQuietly(raw);
      throw new TunnelException(
          ErrorCode.TUNNEL_TARGET_UNREACHABLE,
          "the device cannot reach its Kubernetes API server at " + u + ": " + e.getMessage());
    }
  }

  /** Reads up to the blank line that ends an HTTP head; bytes after it stay in the stream. */
  static byte[] readHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int state = 0; // how much of CR LF CR LF was seen
    while (true) {
      int b = in.read();
      if (b < 0) {
        throw new TunnelException(ErrorCode.BAD_REQUEST, "the request ended inside its head");
      }
      head.write(b);
      if (head.size() > MAX_HEAD) {
        throw new TunnelException(
            ErrorCode.BODY_TOO_LARGE, "a request head has at most " + MAX_HEAD + " bytes");
      }
      state =
          switch (state) {
            case 0, 2 -> b == '\r' ? state + 1 : 0;
            case 1 -> b == '\n' ? 2 : b == '\r' ? 1 : 0;
            case 3 -> b == '\n' ? 4 : b == '\r' ? 1 : 0;
            default -> 0;
          };
      if (state == 4) {
        return head.toByteArray();
      }
    }
  }

  /**
   * The head as sent to the API server: the device's credentials and the impersonation of the
   * operator instead of whatever the request carried.
   */
  static byte[] rewrite(byte[] head, Api a, String user, List<String> groups)
      throws TunnelException {
    String text = new String(head, StandardCharsets.ISO_8859_1);
    String[] lines = text.split("\r\n");
    if (lines.length == 0 || !lines[0].matches("[A-Z]+ /\\S* HTTP/1\\.1")) {
      throw new TunnelException(
          ErrorCode.BAD_REQUEST, "not an HTTP/1.1 request line: " + abbreviate(lines[0]));
    }
    boolean upgrade = false;
    List<String> kept = new ArrayList<>();
    for (int i = 1; i < lines.length; i++) {
      String line = lines[i];
      int colon = line.indexOf(':');
      if (colon <= 0) {
        throw new TunnelException(ErrorCode.BAD_REQUEST, "malformed header: " + abbreviate(line));
      }
      String name = line.substring(0, colon).strip().toLowerCase(Locale.ROOT);
      String value = line.substring(colon + 1).strip();
      if (name.equals("connection")) {
        upgrade |= value.toLowerCase(Locale.ROOT).contains("upgrade");
        continue;
      }
      if (name.equals("authorization")
          || name.startsWith("impersonate-")
          || name.equals("host")
          || name.startsWith("proxy-")
          || name.equals("keep-alive")) {
        continue;
      }
      kept.add(line);
    }
    upgrade &= kept.stream().anyMatch(l -> l.toLowerCase(Locale.ROOT).startsWith("upgrade:"));
    StringBuilder out = new StringBuilder();
    out.append(lines[0]).append("\r\n");
    URI u = a.server();
    out.append("Host: ").append(u.getHost());
    if (u.getPort() > 0) {
      out.append(':').append(u.getPort());
    }
    out.append("\r\n");
    for (String k : kept) {
      out.append(k).append("\r\n");
    }
    a.token().ifPresent(t -> out.append("Authorization: Bearer ").append(t).append("\r\n"));
    out.append("Impersonate-User: ").append(clean(user)).append("\r\n");
    for (String g : groups) {
      out.append("Impersonate-Group: ").append(clean(g)).append("\r\n");
    }
    out.append(upgrade ? "Connection: Upgrade\r\n" : "Connection: close\r\n");
    out.append("\r\n");
    return out.toString().getBytes(StandardCharsets.ISO_8859_1);
  }

  private static String clean(String v) throws TunnelException {
    if (v.length() > 256 || !v.matches("[A-Za-z0-9:@._\\-]+")) {
      throw new TunnelException(
          ErrorCode.VALIDATION_FAILED, "not a user or group name: " + abbreviate(v));
    }
    return v;
  }

  private static String abbreviate(String s) {
    return s.length() > 80 ? s.substring(0, 80) + "..." : s;
  }
}
