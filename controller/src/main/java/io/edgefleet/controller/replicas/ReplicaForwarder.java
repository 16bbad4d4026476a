package io.edgefleet.controller.replicas;

import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLContext;

/**
 * Sends an operator's request on to another replica: a plain request as a reverse proxy (its answer
 * streamed back as it arrives), a WebSocket by opening the same socket there and relaying it. The
 * operator's {@code Authorization} header goes as it is (the other replica authenticates and audits
 * the request itself), and {@link SessionRouting#FORWARDED_BY} marks the request as forwarded, so
 * it is never forwarded again.
 *
 * <p>TLS to the other replica trusts only the controller's own CA and checks the host name, as the
 * replicas' server certificates name their internal addresses. Thread-safe.
 */
final class ReplicaForwarder implements AutoCloseable {
  /** How long the other replica may take to answer the TLS handshake. */
  static final Duration CONNECT = Duration.ofSeconds(5);

  /** How long it may take to send the status line (a followed log waits for the device). */
  static final Duration ANSWER = Duration.ofSeconds(60);

  /** Request headers that go on, besides {@code Authorization}. */
  private static final Set<String> REQUEST_HEADERS =
      Set.of("authorization", "accept", "accept-encoding", "user-agent");

  /** Answer headers that come back; the listener sets its own security and caching headers. */
  private static final Set<String> ANSWER_HEADERS =
      Set.of(
          "content-encoding",
          "content-disposition",
          "content-range",
          "retry-after",
          "www-authenticate",
          "allow");

  private final HttpClient http;
  private final String self;

  /**
   * @param tls trusts the controller's CA
   * @param self this replica's name, sent in {@link SessionRouting#FORWARDED_BY}
   */
  ReplicaForwarder(SSLContext tls, String self) {
    this.http =
        HttpClient.newBuilder()
            .sslContext(tls)
            .connectTimeout(CONNECT)
            .followRedirects(HttpClient.Redirect.NEVER)
            .version(HttpClient.Version.HTTP_1_1)
            .build();
    this.self = self;
  }

  /**
   * The other replica's answer to a request without a body, streamed as it arrives.
   *
   * @throws ControllerException {@code UNAVAILABLE} when the replica cannot be reached
   */
  Reply http(Replica to, String method, String pathAndQuery, Map<String, String> headers) {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(target(to.url(), "https", pathAndQuery))
            .timeout(ANSWER)
            .method(method, HttpRequest.BodyPublishers.noBody())
            .header(SessionRouting.FORWARDED_BY, self);
    headers.forEach(
        (name, value) -> {
          if (REQUEST_HEADERS.contains(name)) {
            request.header(name, value);
          }
        });
    HttpResponse<InputStream> answer;
    try {
      answer = http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
    } catch (IOException e) {
      throw unreachable(to, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw unreachable(to, e);
    }
    Map<String, String> passed = new LinkedHashMap<>();
    answer
        .headers()
        .map()
        .forEach(
            (name, values) -> {
              String lower = name.toLowerCase(java.util.Locale.ROOT);
              if ((ANSWER_HEADERS.contains(lower) || lower.startsWith("x-edgefleet-"))
                  && !values.isEmpty()) {
                passed.put(name, values.getFirst());
              }
            });
    String type = answer.headers().firstValue("content-type").orElse("application/octet-stream");
    InputStream body = answer.body();
    return new Reply(answer.statusCode(), new Reply.Stream(type, out -> copy(body, out), passed));
  }

  /** Copies as it arrives: each chunk is flushed, so a followed log reads as it is written. */
  private static void copy(InputStream body, OutputStream out) throws IOException {
    try (body) {
      byte[] buffer = new byte[16 * 1024];
      int n;
      while ((n = body.read(buffer)) >= 0) {
        out.write(buffer, 0, n);
        out.flush();
      }
    }
  }

  /**
   * Opens the same WebSocket on the other replica and answers with a socket relayed to it. When the
   * other replica refuses the socket, its answer (status and body) is the answer.
   *
   * @throws ControllerException {@code UNAVAILABLE} when the replica cannot be reached
   */
  Reply socket(Replica to, String pathAndQuery, Map<String, String> headers) {
    SocketRelay relay = new SocketRelay();
    WebSocket.Builder builder =
        http.newWebSocketBuilder()
            .connectTimeout(CONNECT)
            .header(SessionRouting.FORWARDED_BY, self);
    String authorization = headers.get("authorization");
    if (authorization != null) {
      builder.header("Authorization", authorization);
    }
    WebSocket upstream;
    try {
      upstream =
          builder
              .buildAsync(target(to.url(), "wss", pathAndQuery), relay.upstream())
              .get(ANSWER.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof WebSocketHandshakeException refused) {
        return refusal(refused.getResponse());
      }
      throw unreachable(to, e.getCause() == null ? e : e.getCause());
    } catch (TimeoutException e) {
      throw unreachable(to, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw unreachable(to, e);
    }
    relay.joined(upstream);
    return Reply.socket(relay, upstream::abort);
  }

  /** The other replica's refusal of a socket, passed on as it is. */
  private static Reply refusal(HttpResponse<?> response) {
    Object body = response.body();
    String text = body instanceof String s ? s : "";
    String type = response.headers().firstValue("content-type").orElse("application/json");
    return new Reply(
        response.statusCode(), new Reply.Raw(type, "", text.getBytes(StandardCharsets.UTF_8)));
  }

  private static URI target(URI base, String scheme, String pathAndQuery) {
    String authority = base.getRawAuthority();
    return URI.create(scheme + "://" + authority + pathAndQuery);
  }

  private static ControllerException unreachable(Replica to, Throwable cause) {
    String why = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
    return new ControllerException(
        ErrorCode.UNAVAILABLE,
        "the device is connected to controller replica "
            + to.name()
            + ", which cannot be reached at "
            + to.url()
            + " ("
            + why
            + "); check that the replicas reach each other at their --replica-url, or try again"
            + " once the device has reconnected to another replica");
  }

  /** Percent-encodes one path segment or query component (form style, as the router decodes). */
  static String encode(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  @Override
  public void close() {
    http.close();
  }
}
