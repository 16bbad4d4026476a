package io.edgefleet.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** A minimal operator client for tests: real HTTPS with the controller CA pinned. */
public final class AdminClient implements AutoCloseable {
  private final String url;
  private final String token;
  private final HttpClient http;

  /** An answer: status and parsed JSON body (a missing body is JSON null). */
  public record Answer(int status, JsonNode body) {
    public String code() {
      return body.path("code").asText();
    }
  }

  public AdminClient(String url, String token, String caFingerprint) {
    this.url = url;
    this.token = token;
    this.http =
        HttpClient.newBuilder()
            .sslContext(TlsContexts.pinned(new PinnedCaTrustManager(caFingerprint)))
            .connectTimeout(Duration.ofSeconds(10))
            .build();
  }

  public Answer get(String path) {
    return send("GET", path, null, token);
  }

  public Answer post(String path, Object body) {
    return send("POST", path, body, token);
  }

  public Answer patch(String path, Object body) {
    return send("PATCH", path, body, token);
  }

  public Answer put(String path, Object body) {
    return send("PUT", path, body, token);
  }

  public Answer delete(String path) {
    return send("DELETE", path, null, token);
  }

  /** POSTs raw bytes (an artifact upload) with this client's token and further headers. */
  public Answer postBytes(
      String path, byte[] body, String contentType, java.util.Map<String, String> headers) {
    return raw("POST", path, body, token, contentType, headers);
  }

  /** Sends with any bearer token (null for none) and a raw body, for negative tests. */
  public Answer raw(String method, String path, byte[] body, String bearer, String contentType) {
    return raw(method, path, body, bearer, contentType, java.util.Map.of());
  }

  /** {@link #raw(String, String, byte[], String, String)} with more request headers. */
  public Answer raw(
      String method,
      String path,
      byte[] body,
      String bearer,
      String contentType,
      java.util.Map<String, String> headers) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(url + path))
            .timeout(Duration.ofSeconds(30))
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofByteArray(body));
    if (bearer != null) {
      b.header("Authorization", "Bearer " + bearer);
    }
    if (contentType != null) {
      b.header("Content-Type", contentType);
    }
    headers.forEach(b::header);
    try {
      HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
      String type = r.headers().firstValue("Content-Type").orElse("");
      JsonNode node =
          r.body() == null || r.body().isEmpty()
              ? Json.mapper().nullNode()
              : type.contains("json")
                  ? Json.mapper().readTree(r.body())
                  : Json.mapper().getNodeFactory().textNode(r.body());
      return new Answer(r.statusCode(), node);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * POSTs {@code body} as JSON and, when the answer is 2xx, streams its bytes into {@code file} (an
   * export bundle); answers the status and, for an error, its JSON body.
   */
  public Answer download(String path, Object body, java.nio.file.Path file) {
    HttpRequest req =
        HttpRequest.newBuilder(URI.create(url + path))
            .header("Authorization", "Bearer " + token)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofByteArray(Json.writeBytes(body)))
            .build();
    try {
      HttpResponse<java.io.InputStream> r =
          http.send(req, HttpResponse.BodyHandlers.ofInputStream());
      try (java.io.InputStream in = r.body()) {
        if (r.statusCode() / 100 != 2) {
          return new Answer(r.statusCode(), Json.mapper().readTree(in.readAllBytes()));
        }
        java.nio.file.Files.copy(in, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        return new Answer(r.statusCode(), Json.mapper().nullNode());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * Opens a long answer (server-sent events) with this client's token and hands back its body as it
   * arrives; the caller closes it.
   *
   * @throws IllegalStateException when the answer is not 200
   */
  public java.io.InputStream stream(String path) {
    HttpRequest req =
        HttpRequest.newBuilder(URI.create(url + path))
            .header("Authorization", "Bearer " + token)
            .GET()
            .build();
    try {
      HttpResponse<java.io.InputStream> r =
          http.send(req, HttpResponse.BodyHandlers.ofInputStream());
      if (r.statusCode() != 200) {
        String body = new String(r.body().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        r.body().close();
        throw new IllegalStateException(path + " answered " + r.statusCode() + ": " + body);
      }
      return r.body();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * Opens a WebSocket route (a tunnel: port-forward, shell) with this client's token.
   *
   * @throws java.util.concurrent.CompletionException when the controller refuses the upgrade
   */
  public java.net.http.WebSocket webSocket(String path, java.net.http.WebSocket.Listener listener) {
    return http.newWebSocketBuilder()
        .header("Authorization", "Bearer " + token)
        .connectTimeout(Duration.ofSeconds(10))
        .buildAsync(URI.create(url.replaceFirst("^http", "ws") + path), listener)
        .join();
  }

  private Answer send(String method, String path, Object body, String bearer) {
    return raw(
        method,
        path,
        body == null ? null : Json.writeBytes(body),
        bearer,
        body == null ? null : "application/json");
  }

  @Override
  public void close() {
    http.shutdownNow();
  }
}
