package io.edgefleet.controller.api;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.pki.ControllerPki;
import io.edgefleet.controller.pki.RememberingTrustManager;
import io.edgefleet.protocol.ApiError;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.io.ArrayByteBufferPool;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.websocket.core.server.WebSocketMappings;
import org.eclipse.jetty.websocket.core.server.WebSocketServerComponents;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The controller's HTTPS listener: the REST API, the enrollment endpoint and the agents' WebSocket,
 * all on one TLS port. Client certificates are requested but optional at the TLS layer; each route
 * decides what it needs. Errors are answered as {@link ApiError} with the status of their {@link
 * ErrorCode}.
 */
public final class HttpApi implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(HttpApi.class);
  private static final char[] KEYSTORE_PASSWORD = "edgefleet".toCharArray();
  private static final long MAX_POOLED_BYTES = 64L * 1024 * 1024;

  /** Client certificate chains remembered as verified (≈ 100 B each). */
  private static final int REMEMBERED_CHAINS = 250_000;

  private final Server server;
  private final ServerConnector connector;
  private final ScheduledExecutorService timer;
  private final ConnectionGuard guard;
  private final Root root;

  /** Sees every answered request (WebSocket upgrades aside), e.g. to count it. */
  @FunctionalInterface
  public interface RequestObserver {
    /** The route label of a request that matched no route: paths are not bounded, routes are. */
    String UNMATCHED = "unmatched";

    /**
     * Called on the request's thread once the answer's status is set.
     *
     * @param route the route template, e.g. {@code /api/v1/devices/{id}}, or {@link #UNMATCHED}
     */
    void observe(String method, String route, int status, long nanos);
  }

  /**
   * @param requests sees every answered request, e.g. to count it
   * @param limitBroken called with a reason label each time a connection is closed for breaking a
   *     limit
   */
  public HttpApi(
      String host,
      int port,
      ControllerPki pki,
      Router router,
      AdminTokens adminTokens,
      DeviceSockets gateway,
      HttpLimits limits,
      ConsoleAssets console,
      RequestObserver requests,
      Consumer<String> limitBroken) {
    this(
        host,
        port,
        pki,
        router,
        adminTokens.authenticator(),
        gateway,
        limits,
        console,
        requests,
        limitBroken);
  }

  /**
   * @param operators who an operator's bearer token belongs to and what it may do
   * @param requests sees every answered request, e.g. to count it
   * @param limitBroken called with a reason label each time a connection is closed for breaking a
   *     limit
   */
  public HttpApi(
      String host,
      int port,
      ControllerPki pki,
      Router router,
      Authenticator operators,
      DeviceSockets gateway,
      HttpLimits limits,
      ConsoleAssets console,
      RequestObserver requests,
      Consumer<String> limitBroken) {
    QueuedThreadPool threads = new QueuedThreadPool(200, 4);
    threads.setName("edgefleet-http");
    // A connection storm (every device reconnecting after a restart or a network outage) grows
    // the pool to its maximum, as handlers wait for the database. With Jetty's defaults (60 s idle,
    // one thread evicted per idle period) the pool then stays near 200 threads for hours, each
    // idle thread keeping its thread-local caches (Jackson's buffer recycler, NIO's temporary
    // buffer cache: ~30 KB of heap) and its stack. Here a thread idle for 15 s may go, up to 64
    // every 15 s, so the pool is back to what the load needs within a minute or so.
    threads.setIdleTimeout(15_000);
    threads.setMaxEvictCount(64);
    // Buffers returned to Jetty's pool stay pooled up to a bound that defaults to an eighth of the
    // heap each for heap and direct buffers; after a storm of TLS handshakes (~17 KB records) that
    // could be hundreds of MB kept for nothing. A connection does not hold pooled buffers while
    // idle, so the pool only has to cover the buffers in use at once.
    ArrayByteBufferPool buffers =
        new ArrayByteBufferPool(0, -1, -1, Integer.MAX_VALUE, MAX_POOLED_BYTES, MAX_POOLED_BYTES);
    server = new Server(threads, null, buffers);
    server.setErrorHandler(new JsonErrors());

    SslContextFactory.Server ssl =
        new SslContextFactory.Server() {
          @Override
          protected javax.net.ssl.TrustManager[] getTrustManagers(
              KeyStore trustStore, java.util.Collection<? extends java.security.cert.CRL> crls)
              throws Exception {
            // A device reconnecting with the certificate it had is not verified twice.
            return RememberingTrustManager.wrap(
                super.getTrustManagers(trustStore, crls),
                java.time.Clock.systemUTC(),
                REMEMBERED_CHAINS);
          }
        };
    ssl.setKeyStore(keyStore(pki));
    ssl.setKeyStorePassword(new String(KEYSTORE_PASSWORD));
    ssl.setTrustStore(trustStore(pki.caCertificate()));
    ssl.setWantClientAuth(true);
    ssl.setIncludeProtocols("TLSv1.3", "TLSv1.2");
    ssl.setSniRequired(false);

    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    // The router decodes each path segment exactly once from the raw path, so an escaped '%'
    // cannot be decoded twice; malformed UTF-8 in a segment is answered 400 with our error code.
    http.setUriCompliance(
        UriCompliance.DEFAULT.with(
            "edgefleet",
            UriCompliance.Violation.AMBIGUOUS_PATH_ENCODING,
            UriCompliance.Violation.BAD_UTF8_ENCODING,
            UriCompliance.Violation.TRUNCATED_UTF8_ENCODING));
    SecureRequestCustomizer secure = new SecureRequestCustomizer();
    secure.setSniHostCheck(false);
    http.addCustomizer(secure);

    connector =
        new ServerConnector(
            server, new SslConnectionFactory(ssl, "http/1.1"), new HttpConnectionFactory(http));
    connector.setHost(host);
    connector.setPort(port);
    connector.setReuseAddress(true);
    // Jetty's idle timeout restarts with each byte: it only catches a peer that went silent
    // (such as a stalled answer). The absolute deadlines are the guard's and the body reader's.
    connector.setIdleTimeout(60_000);
    server.addConnector(connector);

    timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "edgefleet-http-timer");
              t.setDaemon(true);
              return t;
            });
    guard =
        new ConnectionGuard(
            limits, System::nanoTime, timer, reason -> limitBroken.accept(reason.label()));
    connector.addEventListener(guard);
    // Past this many connections the listener stops accepting until one closes, rather than
    // failing accept() for lack of file descriptors; meanwhile idle ones time out sooner.
    NetworkConnectionLimit cap = new NetworkConnectionLimit(limits.maxConnections(), connector);
    cap.setEndPointIdleTimeout(limits.idleTimeout().toMillis());
    server.addBean(cap);

    // The agents' sockets use Jetty's core WebSocket API: see AgentConnection for why.
    WebSocketMappings ws =
        new WebSocketMappings(WebSocketServerComponents.ensureWebSocketComponents(server));
    root =
        new Root(
            router, operators, gateway, ws, limits, console, guard, timer, requests, limitBroken);
    server.setHandler(root);
  }

  public void start() {
    try {
      server.start();
    } catch (Exception e) {
      try {
        server.stop();
      } catch (Exception ignored) {
        // The original failure is the one worth reporting.
      }
      throw new IllegalStateException(
          "cannot listen on "
              + connector.getHost()
              + ":"
              + connector.getPort()
              + ": "
              + e.getMessage()
              + " (is another controller running? choose another port with --listen)",
          e);
    }
  }

  /** The port actually bound (useful when 0 was asked for). */
  public int port() {
    return connector.getLocalPort();
  }

  @Override
  public void close() {
    try {
      server.stop();
    } catch (Exception e) {
      LOG.warn("error while stopping the HTTP server: {}", e.toString());
    } finally {
      guard.close();
      timer.shutdownNow();
    }
  }

  private static KeyStore keyStore(ControllerPki pki) {
    try {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      ks.setKeyEntry(
          "server",
          pki.serverKey(),
          KEYSTORE_PASSWORD,
          new X509Certificate[] {pki.serverCertificate(), pki.caCertificate()});
      return ks;
    } catch (Exception e) {
      throw new IllegalStateException("cannot build the server key store", e);
    }
  }

  private static KeyStore trustStore(X509Certificate ca) {
    try {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      ks.setCertificateEntry("edgefleet-ca", ca);
      return ks;
    } catch (Exception e) {
      throw new IllegalStateException("cannot build the server trust store", e);
    }
  }

  /** Where the QR code of a pending device points. */
  public static final String APPROVE_PAGE = "/console/approve";

  private static final class Root extends Handler.Abstract {
    private static final String ROUTE_ATTRIBUTE = "edgefleet.route";

    /** The routes about one device, whose {@code id} a project's selectors may hide. */
    private static final String DEVICE_ROUTES = "/api/v1/devices/{id}";

    private final byte[] approvePage = resource("/console/approve.html");
    private final Router router;
    private final Authenticator operators;
    private final DeviceSockets gateway;
    private final WebSocketMappings ws;
    private final HttpLimits limits;
    private final ConsoleAssets console;
    private final ConnectionGuard guard;
    private final ScheduledExecutorService timer;
    private final RequestObserver observer;
    private final Consumer<String> limitObserver;

    Root(
        Router router,
        Authenticator operators,
        DeviceSockets gateway,
        WebSocketMappings ws,
        HttpLimits limits,
        ConsoleAssets console,
        ConnectionGuard guard,
        ScheduledExecutorService timer,
        RequestObserver observer,
        Consumer<String> limitObserver) {
      this.router = router;
      this.observer = observer;
      this.limitObserver = limitObserver;
      this.operators = operators;
      this.gateway = gateway;
      this.ws = ws;
      this.limits = limits;
      this.console = console;
      this.guard = guard;
      this.timer = timer;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
      long started = System.nanoTime();
      String path = Request.getPathInContext(request);
      Connection connection = request.getConnectionMetaData().getConnection();
      guard.answering(connection);
      if (path.equals(DeviceApi.CONNECT)) {
        // Upgraded sockets leave the guard; a refused upgrade is answered like any request.
        return serve(request, response, answered(callback, connection));
      }
      Callback observed =
          Callback.from(
              answered(callback, connection),
              () -> {
                try {
                  Object route = request.getAttribute(ROUTE_ATTRIBUTE);
                  observer.observe(
                      request.getMethod(),
                      route == null ? RequestObserver.UNMATCHED : route.toString(),
                      response.getStatus(),
                      System.nanoTime() - started);
                } catch (RuntimeException e) {
                  LOG.debug("request observer failed: {}", e.toString());
                }
              });
      SecurityHeaders.apply(response);
      return serve(request, response, observed);
    }

    private Callback answered(Callback callback, Connection connection) {
      return Callback.from(callback, () -> guard.answered(connection));
    }

    private boolean serve(Request request, Response response, Callback callback) {
      String method = request.getMethod();
      String path = Request.getPathInContext(request);
      try {
        if (path.equals(DeviceApi.CONNECT)) {
          return connect(request, response, callback);
        }
        if (path.equals(APPROVE_PAGE) && method.equals("GET")) {
          request.setAttribute(ROUTE_ATTRIBUTE, APPROVE_PAGE);
          refuseBody(request);
          // A static page without data: the approval itself is an authenticated API call.
          response.setStatus(200);
          response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/html; charset=utf-8");
          response
              .getHeaders()
              .put(
                  "Content-Security-Policy",
                  "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline';"
                      + " frame-ancestors 'none'");
          response.write(true, ByteBuffer.wrap(approvePage), callback);
          return true;
        }
        if (method.equals("GET") || method.equals("HEAD")) {
          Optional<String> page = console.route(request.getHttpURI().getPath());
          if (page.isPresent()) {
            request.setAttribute(ROUTE_ATTRIBUTE, page.get());
            refuseBody(request);
            return console.serve(request, response, callback);
          }
        }
        Optional<Router.Match> match = router.match(method, request.getHttpURI().getPath());
        if (match.isEmpty()) {
          Set<String> allowed = router.methodsFor(request.getHttpURI().getPath());
          if (!allowed.isEmpty()) {
            response.getHeaders().put(HttpHeader.ALLOW, String.join(", ", allowed));
            throw new ControllerException(
                ErrorCode.METHOD_NOT_ALLOWED,
                method + " is not supported on " + path + "; use " + String.join(" or ", allowed));
          }
          throw new ControllerException(
              ErrorCode.ROUTE_NOT_FOUND,
              "no such endpoint: "
                  + method
                  + " "
                  + path
                  + " (the API is described at /api/v1/openapi.json)");
        }
        Router.Route route = match.get().route();
        request.setAttribute(ROUTE_ATTRIBUTE, route.template());
        String actor = "anonymous";
        Optional<DeviceSockets.Admission> device = Optional.empty();
        Optional<Principal> principal = Optional.empty();
        switch (route.access()) {
          case ADMIN -> {
            principal = Optional.of(authorize(request, route, match.get().pathParams()));
            actor = principal.get().name();
          }
          case DEVICE -> {
            device = Optional.of(gateway.admit(peerCertificates(request)));
            actor = "device:" + device.get().deviceId();
          }
          case OPEN -> {}
        }
        Map<String, String> query = query(request);
        String who = actor;
        Optional<DeviceSockets.Admission> admitted = device;
        Optional<Principal> operator = principal;
        Consumer<byte[]> handle =
            body ->
                answer(
                    request,
                    response,
                    callback,
                    route,
                    new Call(
                        match.get().pathParams(),
                        query,
                        body,
                        who,
                        admitted,
                        Request.getRemoteAddr(request),
                        headers(request),
                        operator));
        if (!route.takesBody()) {
          refuseBody(request);
          handle.accept(new byte[0]);
          return true;
        }
        if (route.upload() != null) {
          Call call =
              new Call(
                  match.get().pathParams(),
                  query,
                  new byte[0],
                  who,
                  admitted,
                  Request.getRemoteAddr(request),
                  headers(request),
                  operator);
          Thread.ofVirtual()
              .name("edgefleet-api-upload")
              .start(() -> upload(request, response, callback, route, call));
          return true;
        }
        if (request.getLength() == 0) {
          handle.accept(new byte[0]);
          return true;
        }
        checkContentType(request);
        int max =
            route.maxBody() > 0
                ? route.maxBody()
                : path.startsWith("/device/") ? limits.maxDeviceBody() : limits.maxApiBody();
        long expected = request.getLength() > 0 ? request.getLength() : max;
        BodyReader.read(
            request,
            max,
            limits.bodyDeadline(Math.min(expected, max)),
            timer,
            handle,
            e -> {
              if (e.code() == ErrorCode.REQUEST_TIMEOUT) {
                limitObserver.accept("body_timeout");
              }
              fail(response, callback, e, true);
            });
      } catch (ControllerException e) {
        // Refused before its body was read (no token, no permission, a hidden device): the
        // connection closes rather than leave the body's bytes in front of the next request.
        fail(response, callback, e, unreadBody(request));
      } catch (RuntimeException e) {
        LOG.error("{} {} failed", method, path, e);
        write(
            response,
            callback,
            500,
            ApiError.of(ErrorCode.INTERNAL, "internal error; the controller log has the details"));
      }
      return true;
    }

    /** Runs a route's handler and writes its answer; never throws. */
    private void answer(
        Request request, Response response, Callback callback, Router.Route route, Call call) {
      try {
        Reply reply = route.handler().handle(call);
        if (reply.body() instanceof Reply.Socket socket) {
          upgrade(request, response, callback, socket);
          return;
        }
        write(response, callback, reply.status(), reply.body());
      } catch (ControllerException e) {
        fail(response, callback, e, false);
      } catch (RuntimeException e) {
        LOG.error("{} {} failed", request.getMethod(), Request.getPathInContext(request), e);
        write(
            response,
            callback,
            500,
            ApiError.of(ErrorCode.INTERNAL, "internal error; the controller log has the details"));
      }
    }

    /**
     * Runs an upload route on its own (virtual) thread, which blocks while the body arrives; an
     * error answer closes the connection, as the body may not have been read to its end.
     */
    private static void upload(
        Request request, Response response, Callback callback, Router.Route route, Call call) {
      // The stream is not closed here: closing it before the body's end would fail the request
      // and lose the answer. Jetty discards what is left once the answer (Connection: close) went.
      java.io.InputStream in = Content.Source.asInputStream(request);
      try {
        Reply reply = route.upload().handle(call, in);
        write(response, callback, reply.status(), reply.body());
      } catch (ControllerException e) {
        fail(response, callback, e, true);
      } catch (IOException e) {
        fail(
            response,
            callback,
            new ControllerException(
                ErrorCode.VALIDATION_FAILED, "the upload broke off: " + e.getMessage()),
            true);
      } catch (RuntimeException | Error e) {
        LOG.error("{} {} failed", request.getMethod(), Request.getPathInContext(request), e);
        write(
            response,
            callback,
            500,
            ApiError.of(ErrorCode.INTERNAL, "internal error; the controller log has the details"));
      }
    }

    /**
     * Answers with the error's code; a request whose body was not (fully) read is answered with
     * {@code Connection: close}, so the rest of the body never has to be read.
     */
    private static void fail(
        Response response, Callback callback, ControllerException e, boolean close) {
      if (close || e.code() == ErrorCode.BODY_TOO_LARGE || e.code() == ErrorCode.REQUEST_TIMEOUT) {
        response.getHeaders().put(HttpHeader.CONNECTION, "close");
      }
      write(response, callback, e.code().httpStatus(), ApiError.of(e.code(), e.getMessage()));
    }

    /** Whether the request announced a body that has not been read. */
    private static boolean unreadBody(Request request) {
      return request.getLength() > 0
          || (request.getLength() < 0
              && request.getHeaders().contains(HttpHeader.TRANSFER_ENCODING));
    }

    /** Routes that take no body refuse one instead of reading it. */
    private static void refuseBody(Request request) {
      if (request.getLength() > 0
          || (request.getLength() < 0
              && request.getHeaders().contains(HttpHeader.TRANSFER_ENCODING))) {
        throw new ControllerException(
            ErrorCode.BAD_REQUEST,
            request.getMethod()
                + " "
                + Request.getPathInContext(request)
                + " takes no request body");
      }
    }

    private static void checkContentType(Request request) {
      String type = request.getHeaders().get(HttpHeader.CONTENT_TYPE);
      if (type != null && !type.toLowerCase(java.util.Locale.ROOT).contains("json")) {
        throw new ControllerException(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE, "send the body as application/json, not " + type);
      }
    }

    private static X509Certificate[] peerCertificates(Request request) {
      EndPoint.SslSessionData ssl =
          (EndPoint.SslSessionData) request.getAttribute(EndPoint.SslSessionData.ATTRIBUTE);
      return ssl == null ? null : ssl.peerCertificates();
    }

    /** Turns an operator's request into the WebSocket its route answered. */
    private void upgrade(
        Request request, Response response, Callback callback, Reply.Socket socket) {
      boolean upgraded;
      try {
        upgraded = ws.upgrade((rq, rs, cb) -> socket.handler(), request, response, callback, null);
      } catch (RuntimeException e) {
        socket.refused().run();
        throw e;
      }
      if (!upgraded) {
        socket.refused().run();
        throw new ControllerException(
            ErrorCode.BAD_REQUEST,
            Request.getPathInContext(request)
                + " only accepts WebSocket upgrades (use the edgefleet CLI or a WebSocket client)");
      }
    }

    private boolean connect(Request request, Response response, Callback callback) {
      String deviceId = gateway.admit(peerCertificates(request)).deviceId();
      boolean upgraded =
          ws.upgrade((rq, rs, cb) -> gateway.endpoint(deviceId), request, response, callback, null);
      if (!upgraded) {
        throw new ControllerException(
            ErrorCode.BAD_REQUEST, DeviceApi.CONNECT + " only accepts WebSocket upgrades");
      }
      return true;
    }

    /**
     * The operator behind the request's bearer token, once their permissions are found to cover the
     * route's.
     */
    private Principal authorize(
        Request request, Router.Route route, Map<String, String> pathParams) {
      String header = request.getHeaders().get(HttpHeader.AUTHORIZATION);
      if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
        throw new ControllerException(
            ErrorCode.UNAUTHENTICATED,
            "missing bearer token: send 'Authorization: Bearer <token>' (the controller wrote"
                + " its admin token to <data dir>/admin-token; `edgefleet login` stores one)");
      }
      Principal principal = operators.authenticate(header.substring(7));
      String needed = Permissions.required(route.method(), route.template());
      if (!principal.allows(needed)) {
        throw new ControllerException(
            ErrorCode.PERMISSION_DENIED,
            route.method()
                + " "
                + route.template()
                + " needs "
                + needed
                + "; "
                + holding(principal)
                + (principal.permissions().isEmpty()
                    ? "no permissions"
                    : String.join(", ", new java.util.TreeSet<>(principal.permissions())))
                + ": ask an administrator");
      }
      Principal acting = operators.narrowTo(principal, needed);
      try {
        hideUnseenDevice(acting, route, pathParams);
      } catch (ControllerException hidden) {
        if (acting != principal && isSeen(principal, route, pathParams)) {
          // The device is one the caller sees, through a project where its roles lack this.
          throw new ControllerException(
              ErrorCode.PERMISSION_DENIED,
              route.method()
                  + " "
                  + route.template()
                  + " needs "
                  + needed
                  + ", which none of your roles grants on device "
                  + pathParams.get("id")
                  + " (a role held within a project counts on that project's devices only): ask"
                  + " an administrator");
        }
        throw hidden;
      }
      return acting;
    }

    private boolean isSeen(Principal principal, Router.Route route, Map<String, String> params) {
      try {
        hideUnseenDevice(principal, route, params);
        return true;
      } catch (ControllerException e) {
        return false;
      }
    }

    /** What the principal's permissions come from, for the refusal's message. */
    private static String holding(Principal principal) {
      if (principal.scoped()) {
        return "your token is scoped to ";
      }
      if (principal.roles().isEmpty()) {
        return principal.deviceSelectors().isPresent()
            ? "your roles within your projects have "
            : "you hold no role, so you have ";
      }
      return (principal.roles().size() == 1 ? "your role " : "your roles ")
          + String.join(", ", principal.roles())
          + (principal.roles().size() == 1 ? " has " : " have ");
    }

    /**
     * Answers a route about one device that the principal may not see (its roles are held within
     * projects that do not pick it) exactly as a device that does not exist.
     */
    private void hideUnseenDevice(
        Principal principal, Router.Route route, Map<String, String> pathParams) {
      if (principal.deviceSelectors().isEmpty()
          || !route.template().startsWith(DEVICE_ROUTES)
          || !pathParams.containsKey("id")) {
        return;
      }
      String id = pathParams.get("id");
      if (!operators.sees(principal, id)) {
        throw ControllerException.notFound("device", id);
      }
    }

    private static byte[] resource(String name) {
      try (InputStream in = HttpApi.class.getResourceAsStream(name)) {
        if (in == null) {
          throw new IllegalStateException(name + " missing from the controller jar");
        }
        return in.readAllBytes();
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }

    private static Map<String, String> headers(Request request) {
      Map<String, String> out = new LinkedHashMap<>();
      for (org.eclipse.jetty.http.HttpField f : request.getHeaders()) {
        out.putIfAbsent(f.getLowerCaseName(), f.getValue());
      }
      return out;
    }

    /**
     * The query parameters, decoded strictly (UTF-8, %XX, {@code +} as a space); the first value of
     * a repeated name wins.
     */
    private static Map<String, String> query(Request request) {
      Map<String, String> out = new LinkedHashMap<>();
      String raw = request.getHttpURI().getQuery();
      if (raw == null || raw.isEmpty()) {
        return out;
      }
      for (String pair : raw.split("&")) {
        if (pair.isEmpty()) {
          continue;
        }
        int eq = pair.indexOf('=');
        String name = Router.decode(eq < 0 ? pair : pair.substring(0, eq), true);
        String value = eq < 0 ? "" : Router.decode(pair.substring(eq + 1), true);
        out.putIfAbsent(name, value);
      }
      return out;
    }

    private static void write(Response response, Callback callback, int status, Object body) {
      response.setStatus(status);
      if (body == null) {
        response.write(true, null, callback);
        return;
      }
      if (body instanceof Reply.Stream stream) {
        writeStream(response, callback, stream);
        return;
      }
      if (body instanceof Reply.Raw raw) {
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, raw.contentType());
        if (!raw.contentEncoding().isEmpty()) {
          response.getHeaders().put(HttpHeader.CONTENT_ENCODING, raw.contentEncoding());
        }
        raw.headers().forEach((name, value) -> response.getHeaders().put(name, value));
        response.write(true, ByteBuffer.wrap(raw.bytes()), callback);
        return;
      }
      byte[] bytes = Json.writeBytes(body);
      response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
      response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
      response.write(true, ByteBuffer.wrap(bytes), callback);
    }

    /** Runs the producer on a virtual thread so that a long answer holds no server thread. */
    private static void writeStream(Response response, Callback callback, Reply.Stream stream) {
      response.getHeaders().put(HttpHeader.CONTENT_TYPE, stream.contentType());
      response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
      stream.headers().forEach((name, value) -> response.getHeaders().put(name, value));
      Thread.ofVirtual()
          .name("edgefleet-api-stream")
          .start(
              () -> {
                try (java.io.OutputStream out = Content.Sink.asOutputStream(response)) {
                  stream.producer().write(out);
                } catch (IOException | RuntimeException e) {
                  // Mostly the client went away; the status line is long gone, so only log.
                  LOG.debug("streamed answer ended: {}", e.toString());
                  callback.failed(e);
                  return;
                }
                callback.succeeded();
              });
    }
  }
}
