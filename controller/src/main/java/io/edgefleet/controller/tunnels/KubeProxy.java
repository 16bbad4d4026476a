package io.edgefleet.controller.tunnels;

import io.edgefleet.controller.api.Authenticator;
import io.edgefleet.controller.api.Principal;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.tunnel.TunnelStream;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * kubectl's way to a device's Kubernetes API: a TLS listener of its own (the controller's server
 * certificate, ALPN {@code http/1.1} only) that serves each connection on a virtual thread.
 * Requests go to {@code /devices/<id>/...} or {@code /clusters/<name>/...} (the server URL of the
 * kubeconfigs written here); each one is authenticated with the operator's edgefleet bearer token
 * and needs {@code tunnels:kubectl}, then goes over a {@code kube} stream of the device's
 * connection with its credentials and impersonation headers removed; the agent adds its own
 * credentials and {@code Impersonate-User: edgefleet:<name>}, {@code Impersonate-Group:
 * edgefleet:<role>}. The answer flows back as it comes, and an upgrade (exec, attach, port-forward)
 * turns the connection into raw bytes both ways. One request per connection: the API server is
 * asked to close after its answer, and so is this connection.
 *
 * <p>A dedicated listener rather than a route of the API's Jetty: the upgrades kubectl needs
 * (SPDY/3.1 or WebSocket, whatever it negotiates) pass through as bytes, with no HTTP server in
 * between that would want to understand them.
 */
public final class KubeProxy implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(KubeProxy.class);

  /** The largest request head taken. */
  static final int MAX_HEAD = 64 * 1024;

  /**
   * Streams of one device that kubectl requests may hold at once (of the device's 16): kubectl's
   * discovery sends a burst of parallel requests; those beyond wait for a slot instead of failing,
   * and other kinds (port-forward, shell) keep room.
   */
  static final int KUBE_STREAMS_PER_DEVICE = 12;

  /** How long a request waits for one of its device's slots. */
  static final Duration SLOT_WAIT = Duration.ofSeconds(30);

  /** How long a client may take to send its request head. */
  static final Duration HEAD_TIMEOUT = Duration.ofSeconds(30);

  private static final Pattern TARGET =
      Pattern.compile("/(devices|clusters)/([A-Za-z0-9][A-Za-z0-9._\\-]{0,62})(/\\S*)");

  /** Where the device of a cluster's requests comes from. */
  public interface Directory {
    /** Whether the device exists (visibility is checked separately). */
    boolean deviceExists(String deviceId);

    /** The cluster's server members, or empty if there is no such cluster. */
    Optional<List<String>> clusterServers(String cluster);
  }

  private final Tunnels tunnels;
  private final Authenticator operators;
  private final Directory directory;
  private final Predicate<String> connected;
  private final Supplier<String> advertisedUrl;
  private final X509Certificate ca;
  private final SSLServerSocket server;
  private final Semaphore connections;
  private final Map<String, Semaphore> slots = new java.util.concurrent.ConcurrentHashMap<>();
  private volatile boolean closed;

  /**
   * Binds the listener.
   *
   * @param connected whether a device is connected now
   * @param advertisedUrl the controller's URL; kubeconfigs use its host with this listener's port
   * @param maxConnections connections served at once; more are answered 503 at once
   */
  public KubeProxy(
      String host,
      int port,
      X509Certificate serverCertificate,
      PrivateKey serverKey,
      X509Certificate ca,
      Tunnels tunnels,
      Authenticator operators,
      Directory directory,
      Predicate<String> connected,
      Supplier<String> advertisedUrl,
      int maxConnections) {
    this.tunnels = tunnels;
    this.operators = operators;
    this.directory = directory;
    this.connected = connected;
    this.advertisedUrl = advertisedUrl;
    this.ca = ca;
    this.connections = new Semaphore(maxConnections);
    try {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      char[] pw = "edgefleet".toCharArray();
      ks.setKeyEntry("server", serverKey, pw, new Certificate[] {serverCertificate, ca});
      KeyManagerFactory kmf =
          KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(ks, pw);
      SSLContext ssl = SSLContext.getInstance("TLS");
      ssl.init(kmf.getKeyManagers(), null, null);
      SSLServerSocket s = (SSLServerSocket) ssl.getServerSocketFactory().createServerSocket();
      SSLParameters p = s.getSSLParameters();
      p.setApplicationProtocols(new String[] {"http/1.1"});
      p.setProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
      s.setSSLParameters(p);
      s.setReuseAddress(true);
      s.bind(new InetSocketAddress(InetAddress.getByName(host), port), 128);
      this.server = s;
    } catch (IOException | java.security.GeneralSecurityException e) {
      throw new IllegalStateException(
          "cannot listen for kubectl on " + host + ":" + port + ": " + e.getMessage(), e);
    }
  }

  /** Starts accepting. */
  public void start() {
    Thread.ofPlatform().daemon().name("edgefleet-kube-proxy").start(this::accept);
  }

  public int port() {
    return server.getLocalPort();
  }

  private void accept() {
    while (!closed) {
      Socket s;
      try {
        s = server.accept();
      } catch (IOException e) {
        if (!closed) {
          LOG.warn("the kubectl listener failed: {}", e.toString());
        }
        return;
      }
      if (!connections.tryAcquire()) {
        Thread.ofVirtual().start(() -> refuseBusy(s));
        continue;
      }
      Thread.ofVirtual()
          .name("edgefleet-kube")
          .start(
              () -> {
                try {
                  serve(s);
                } finally {
                  connections.release();
                }
              });
    }
  }

  private void refuseBusy(Socket s) {
    try (s) {
      s.setSoTimeout((int) HEAD_TIMEOUT.toMillis());
      status(s.getOutputStream(), 503, "the controller serves too many kubectl connections; retry");
    } catch (IOException e) {
      // the client went away
    }
  }

  private void serve(Socket socket) {
    try (socket) {
      socket.setSoTimeout((int) HEAD_TIMEOUT.toMillis());
      ((SSLSocket) socket).startHandshake();
      InputStream in = new BufferedInputStream(socket.getInputStream(), 16 * 1024);
      OutputStream out = socket.getOutputStream();
      byte[] head;
      try {
        head = readHead(in);
      } catch (HeadException e) {
        status(out, e.status, e.getMessage());
        drain(socket, in);
        return;
      }
      Request r;
      try {
        r = Request.parse(head);
      } catch (HeadException e) {
        status(out, e.status, e.getMessage());
        drain(socket, in);
        return;
      }
      Slot slot = new Slot();
      try {
        TunnelStream stream;
        try {
          stream = open(r, slot);
        } catch (ControllerException e) {
          status(out, e.code().httpStatus(), e.getMessage());
          drain(socket, in);
          return;
        }
        socket.setSoTimeout(0); // a watch or logs -f may stay quiet for long
        stream.output().write(r.forward());
        pipe(socket, in, out, stream);
      } finally {
        slot.release();
      }
    } catch (SocketTimeoutException e) {
      LOG.debug("kubectl connection timed out before its request");
    } catch (IOException e) {
      LOG.debug("kubectl connection failed: {}", e.toString());
    }
  }

  /** The device slot a request holds, released when the request is done. */
  private static final class Slot {
    Semaphore held;

    void release() {
      if (held != null) {
        held.release();
        held = null;
      }
    }
  }

  /**
   * Reads what the client still sends (nothing, normally) for a moment before the connection
   * closes, so that the answer is not lost to a reset.
   */
  private static void drain(Socket socket, InputStream in) {
    try {
      socket.setSoTimeout(1000);
      byte[] b = new byte[4096];
      long total = 0;
      int n;
      while (total < MAX_HEAD && (n = in.read(b)) >= 0) {
        total += n;
      }
    } catch (IOException e) {
      // gone or quiet: close now
    }
  }

  private TunnelStream open(Request r, Slot slot) {
    String token = r.bearer();
    if (token.isEmpty()) {
      throw new ControllerException(
          ErrorCode.UNAUTHENTICATED,
          "missing bearer token: write a kubeconfig with `edgefleet kubeconfig DEVICE`");
    }
    Principal caller = operators.authenticate(token);
    if (!caller.allows("tunnels:kubectl")) {
      throw new ControllerException(
          ErrorCode.PERMISSION_DENIED,
          "kubectl through the tunnel needs tunnels:kubectl; ask an administrator");
    }
    // Only devices of projects where one of the caller's roles grants kubectl are reachable.
    Principal p = operators.narrowTo(caller, "tunnels:kubectl");
    String device = r.kind().equals("devices") ? r.name() : clusterDevice(r.name(), p);
    if (!directory.deviceExists(device) || !operators.sees(p, device)) {
      throw ControllerException.notFound("device", device);
    }
    Semaphore s = slots.computeIfAbsent(device, d -> new Semaphore(KUBE_STREAMS_PER_DEVICE));
    try {
      if (!s.tryAcquire(SLOT_WAIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
        throw new ControllerException(
            ErrorCode.TUNNEL_LIMIT,
            "device "
                + device
                + " has "
                + KUBE_STREAMS_PER_DEVICE
                + " kubectl requests under way (watches, logs -f); end one and try again");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ControllerException(ErrorCode.UNAVAILABLE, "the controller is stopping");
    }
    slot.held = s;
    Map<String, String> params = new LinkedHashMap<>();
    params.put("user", "edgefleet:" + p.name());
    params.put(
        "groups",
        String.join(
            ",",
            operators.rolesOn(caller, device).stream().map(role -> "edgefleet:" + role).toList()));
    return tunnels
        .open(device, "kube", params, r.method() + " " + abbreviate(r.path(), 400), p)
        .stream();
  }

  /** A connected server member of the cluster the principal may see. */
  private String clusterDevice(String cluster, Principal p) {
    List<String> servers =
        directory
            .clusterServers(cluster)
            .orElseThrow(() -> ControllerException.notFound("cluster", cluster));
    List<String> visible = servers.stream().filter(d -> operators.sees(p, d)).toList();
    if (visible.isEmpty()) {
      throw ControllerException.notFound("cluster", cluster);
    }
    return visible.stream()
        .filter(connected)
        .findFirst()
        .orElseThrow(
            () ->
                new ControllerException(
                    ErrorCode.DEVICE_NOT_CONNECTED,
                    "no server of cluster "
                        + cluster
                        + " is connected ("
                        + String.join(", ", visible)
                        + "); try again once one is online"));
  }

  /**
   * kubectl's bytes to the stream on a virtual thread, the stream's bytes to kubectl here; the
   * connection closes when the device's answer ended.
   */
  private static void pipe(Socket socket, InputStream in, OutputStream out, TunnelStream stream)
      throws IOException {
    Thread up =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    byte[] buf = new byte[16 * 1024];
                    int n;
                    while ((n = in.read(buf)) >= 0) {
                      stream.output().write(buf, 0, n);
                    }
                    stream.closeOutput();
                  } catch (IOException e) {
                    if (!stream.ended().isDone()) {
                      stream.closeOutput();
                    }
                  }
                });
    InputStream down = stream.input();
    byte[] buf = new byte[16 * 1024];
    int n;
    try {
      while ((n = down.read(buf)) >= 0) {
        out.write(buf, 0, n);
        if (down.available() == 0) {
          out.flush();
        }
      }
      out.flush();
    } catch (IOException e) {
      if (!stream.ended().isDone()) {
        stream.reset(ErrorCode.TUNNEL_CLOSED, "kubectl's connection closed: " + e.getMessage());
      }
    } finally {
      stream.closeOutput();
      stream.closeInput();
      up.interrupt();
    }
  }

  static byte[] readHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int state = 0;
    while (state < 4) {
      int b = in.read();
      if (b < 0) {
        throw new HeadException(400, "the request ended inside its head");
      }
      head.write(b);
      if (head.size() > MAX_HEAD) {
        throw new HeadException(431, "a request head has at most " + MAX_HEAD + " bytes");
      }
      state =
          switch (state) {
            case 0, 2 -> b == '\r' ? state + 1 : 0;
            case 1 -> b == '\n' ? 2 : b == '\r' ? 1 : 0;
            case 3 -> b == '\n' ? 4 : b == '\r' ? 1 : 0;
            default -> 0;
          };
    }
    return head.toByteArray();
  }

  /** A request head: where it goes and what to forward. */
  record Request(String method, String kind, String name, String path, List<String> headers) {
    static Request parse(byte[] head) throws HeadException {
      String[] lines = new String(head, StandardCharsets.ISO_8859_1).split("\r\n");
      String[] first = lines[0].split(" ");
      if (first.length != 3 || !first[2].equals("HTTP/1.1") || !first[0].matches("[A-Z]{1,16}")) {
        throw new HeadException(400, "not an HTTP/1.1 request line");
      }
      Matcher m = TARGET.matcher(first[1]);
      if (!m.matches()) {
        throw new HeadException(
            404,
            "no such path: kubectl's server URL ends with /devices/<id> or /clusters/<name>"
                + " (write one with `edgefleet kubeconfig`)");
      }
      List<String> headers = new ArrayList<>();
      for (int i = 1; i < lines.length; i++) {
        if (lines[i].isEmpty()) {
          continue;
        }
        if (lines[i].indexOf(':') <= 0) {
          throw new HeadException(400, "malformed header line");
        }
        headers.add(lines[i]);
      }
      return new Request(first[0], m.group(1), m.group(2), m.group(3), headers);
    }

    String bearer() {
      for (String h : headers) {
        int c = h.indexOf(':');
        if (h.substring(0, c).strip().equalsIgnoreCase("authorization")) {
          String v = h.substring(c + 1).strip();
          return v.regionMatches(true, 0, "Bearer ", 0, 7) ? v.substring(7).strip() : "";
        }
      }
      return "";
    }

    /** The head for the device: the path without its prefix, no credentials, no impersonation. */
    byte[] forward() {
      StringBuilder b = new StringBuilder();
      b.append(method).append(' ').append(path).append(" HTTP/1.1\r\n");
      for (String h : headers) {
        String name = h.substring(0, h.indexOf(':')).strip().toLowerCase(Locale.ROOT);
        if (name.equals("authorization") || name.startsWith("impersonate-")) {
          continue;
        }
        b.append(h).append("\r\n");
      }
      b.append("\r\n");
      return b.toString().getBytes(StandardCharsets.ISO_8859_1);
    }
  }

  static final class HeadException extends IOException {
    final int status;

    HeadException(int status, String message) {
      super(message);
      this.status = status;
    }
  }

  /**
   * Answers an error as plain text: kubectl prints a text answer as the server's message (a JSON
   * Status it shows only for some requests, "unknown" for the discovery it starts with).
   */
  static void status(OutputStream out, int code, String message) throws IOException {
    String reason =
        switch (code) {
          case 400 -> "Bad Request";
          case 401 -> "Unauthorized";
          case 403 -> "Forbidden";
          case 404 -> "Not Found";
          case 409 -> "Conflict";
          case 429 -> "Too Many Requests";
          case 431 -> "Request Header Fields Too Large";
          case 503 -> "Service Unavailable";
          default -> "Internal Server Error";
        };
    byte[] body = (message + "\n").getBytes(StandardCharsets.UTF_8);
    String head =
        "HTTP/1.1 "
            + code
            + " "
            + reason
            + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "
            + body.length
            + "\r\nConnection: close\r\n\r\n";
    out.write(head.getBytes(StandardCharsets.ISO_8859_1));
    out.write(body);
    out.flush();
  }

  private static String abbreviate(String s, int max) {
    return s.length() > max ? s.substring(0, max) + "..." : s;
  }

  /** A kubeconfig for a device's API server through this listener. */
  public String deviceKubeconfig(String deviceId, Principal p, String token) {
    if (!directory.deviceExists(deviceId) || !operators.sees(p, deviceId)) {
      throw ControllerException.notFound("device", deviceId);
    }
    return kubeconfig("devices", deviceId, p, token);
  }

  /** A kubeconfig for a cluster: its requests go to one of its connected servers. */
  public String clusterKubeconfig(String cluster, Principal p, String token) {
    List<String> servers =
        directory
            .clusterServers(cluster)
            .orElseThrow(() -> ControllerException.notFound("cluster", cluster));
    if (servers.stream().noneMatch(d -> operators.sees(p, d))) {
      throw ControllerException.notFound("cluster", cluster);
    }
    return kubeconfig("clusters", cluster, p, token);
  }

  private String kubeconfig(String kind, String name, Principal p, String token) {
    if (token.isEmpty()) {
      throw new ControllerException(ErrorCode.UNAUTHENTICATED, "the request carried no token");
    }
    URI base = URI.create(advertisedUrl.get());
    String server = "https://" + hostPort(base.getHost()) + "/" + kind + "/" + name;
    String ctx = "edgefleet-" + name;
    String user = "edgefleet-" + p.name();
    String caData;
    try {
      String pem =
          "-----BEGIN CERTIFICATE-----\n"
              + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                  .encodeToString(ca.getEncoded())
              + "\n-----END CERTIFICATE-----\n";
      caData = Base64.getEncoder().encodeToString(pem.getBytes(StandardCharsets.US_ASCII));
    } catch (java.security.cert.CertificateEncodingException e) {
      throw new IllegalStateException(e);
    }
    return "apiVersion: v1\n"
        + "kind: Config\n"
        + "clusters:\n"
        + "- name: "
        + ctx
        + "\n  cluster:\n    server: "
        + server
        + "\n    certificate-authority-data: "
        + caData
        + "\nusers:\n- name: "
        + user
        + "\n  user:\n    token: "
        + token
        + "\ncontexts:\n- name: "
        + ctx
        + "\n  context:\n    cluster: "
        + ctx
        + "\n    user: "
        + user
        + "\ncurrent-context: "
        + ctx
        + "\n";
  }

  private String hostPort(String host) {
    String h = host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
    return h + ":" + port();
  }

  @Override
  public void close() {
    closed = true;
    try {
      server.close();
    } catch (IOException e) {
      // closing anyway
    }
  }
}
