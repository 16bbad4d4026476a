package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import io.edgefleet.protocol.ApiError;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.PinnedCaTrustManager.PinMismatchException;
import io.edgefleet.protocol.tls.TlsContexts;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import javax.net.ssl.SSLException;

/**
 * Calls the controller's REST API over HTTPS that trusts only the pinned controller CA, with the
 * API token as bearer token. Every failure becomes a {@link CliException} whose message says what
 * went wrong and, where it can, what to do. Thread-safe; {@link #close()} releases the client.
 */
final class ControllerClient implements AutoCloseable {
  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
  static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);

  private final Connection connection;
  private final HttpClient http;

  ControllerClient(Connection connection) {
    this.connection = connection;
    this.http =
        HttpClient.newBuilder()
            .sslContext(TlsContexts.pinned(new PinnedCaTrustManager(connection.caFingerprint())))
            .connectTimeout(CONNECT_TIMEOUT)
            .build();
  }

  /** Encodes one path segment, such as a device id or serial number. */
  static String segment(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
  }

  /** The connection this client calls: server, token and pinned CA. */
  Connection connection() {
    return connection;
  }

  /** The HTTP client trusting only the pinned controller CA, for WebSockets and downloads. */
  HttpClient http() {
    return http;
  }

  /** The controller's https URL without a trailing slash, for links such as the webhook URL. */
  URI server() {
    return connection.server();
  }

  JsonNode get(String path) {
    return send("GET", path, Optional.empty());
  }

  JsonNode post(String path, JsonNode body) {
    return send("POST", path, Optional.of(body));
  }

  /**
   * A POST whose answer may take up to {@code timeout} (the controller works before it answers).
   */
  JsonNode post(String path, JsonNode body, Duration timeout) {
    return send("POST", path, Optional.of(body), timeout);
  }

  JsonNode patch(String path, JsonNode body) {
    return send("PATCH", path, Optional.of(body));
  }

  JsonNode put(String path, JsonNode body) {
    return send("PUT", path, Optional.of(body));
  }

  void delete(String path) {
    send("DELETE", path, Optional.empty());
  }

  /** How long an upload of a large file (a K3s binary) may take. */
  static final Duration UPLOAD_TIMEOUT = Duration.ofMinutes(30);

  /**
   * POSTs the bytes of {@code file} as they are read (never the whole file in memory), with further
   * request headers; answers the JSON the controller returns.
   */
  JsonNode upload(String path, java.nio.file.Path file, java.util.Map<String, String> headers) {
    HttpRequest.Builder request;
    try {
      request =
          HttpRequest.newBuilder(URI.create(connection.server() + path))
              .timeout(UPLOAD_TIMEOUT)
              .header("Accept", "application/json")
              .header("Authorization", "Bearer " + connection.token())
              .header("Content-Type", "application/octet-stream")
              .POST(BodyPublishers.ofFile(file));
    } catch (java.io.FileNotFoundException e) {
      throw CliException.usage("cannot read " + file + ": no such file");
    }
    headers.forEach(request::header);
    return answer(request.build());
  }

  /**
   * GETs an answer that is written while it is produced (NDJSON) and hands its lines to {@code
   * lines} as they arrive, until the answer ends or {@code lines} returns false (then the
   * connection is closed). No request timeout applies: a followed stream lasts as long as it lasts.
   */
  void stream(String path, java.util.function.Predicate<String> lines) {
    HttpRequest request =
        HttpRequest.newBuilder(URI.create(connection.server() + path))
            .header("Accept", "application/x-ndjson, application/json")
            .header("Authorization", "Bearer " + connection.token())
            .GET()
            .build();
    HttpResponse<java.util.stream.Stream<String>> response;
    try {
      response = http.send(request, BodyHandlers.ofLines());
    } catch (IOException e) {
      throw failure(e, connection);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw CliException.failed("interrupted while waiting for the controller");
    }
    try (java.util.stream.Stream<String> body = response.body()) {
      if (response.statusCode() / 100 != 2) {
        throw apiError(
            response.statusCode(), body.collect(java.util.stream.Collectors.joining("\n")));
      }
      java.util.Iterator<String> it = body.iterator();
      while (it.hasNext()) {
        if (!lines.test(it.next())) {
          return;
        }
      }
    } catch (java.io.UncheckedIOException e) {
      throw CliException.failed(
          "the stream from the controller at "
              + connection.server()
              + " broke off: "
              + reason(e.getCause()));
    }
  }

  /**
   * POSTs {@code body} and writes the binary answer to {@code out} as it arrives (never the whole
   * answer in memory), calling {@code progress} with the bytes written so far and the total the
   * controller announced (-1 if none). No request timeout applies: a large answer takes as long as
   * the link needs.
   *
   * @return the bytes written
   */
  long download(
      String path,
      JsonNode body,
      java.io.OutputStream out,
      java.util.function.BiConsumer<Long, Long> progress) {
    HttpRequest request =
        HttpRequest.newBuilder(URI.create(connection.server() + path))
            .header("Accept", "application/octet-stream, application/json")
            .header("Authorization", "Bearer " + connection.token())
            .header("Content-Type", "application/json")
            .POST(BodyPublishers.ofString(io.edgefleet.protocol.Json.write(body)))
            .build();
    HttpResponse<java.io.InputStream> response;
    try {
      response = http.send(request, BodyHandlers.ofInputStream());
    } catch (IOException e) {
      throw failure(e, connection);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw CliException.failed("interrupted while waiting for the controller");
    }
    try (java.io.InputStream in = response.body()) {
      if (response.statusCode() / 100 != 2) {
        throw apiError(
            response.statusCode(), new String(in.readNBytes(1 << 20), StandardCharsets.UTF_8));
      }
      long total = response.headers().firstValueAsLong("X-Edgefleet-Export-Bytes").orElse(-1);
      byte[] buffer = new byte[64 * 1024];
      long written = 0;
      int n;
      while ((n = in.read(buffer)) >= 0) {
        out.write(buffer, 0, n);
        written += n;
        progress.accept(written, total);
      }
      return written;
    } catch (IOException e) {
      throw CliException.failed(
          "the answer from the controller at " + connection.server() + " broke off: " + reason(e));
    }
  }

  /** GETs a text answer (such as a kubeconfig's YAML). */
  String getText(String path) {
    HttpRequest request =
        HttpRequest.newBuilder(URI.create(connection.server() + path))
            .timeout(REQUEST_TIMEOUT)
            .header("Accept", "application/yaml, application/json")
            .header("Authorization", "Bearer " + connection.token())
            .GET()
            .build();
    HttpResponse<String> response;
    try {
      response = http.send(request, BodyHandlers.ofString(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw failure(e, connection);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw CliException.failed("interrupted while waiting for the controller");
    }
    if (response.statusCode() / 100 != 2) {
      throw apiError(response.statusCode(), response.body());
    }
    return response.body();
  }

  /**
   * Opens a WebSocket to an operator route ({@code wss://}, the API token as bearer token); a
   * refusal before the upgrade becomes a {@link CliException} with the controller's message.
   */
  java.net.http.WebSocket webSocket(String path, java.net.http.WebSocket.Listener listener) {
    URI uri = URI.create(connection.server().toString().replaceFirst("^https", "wss") + path);
    try {
      return http.newWebSocketBuilder()
          .header("Authorization", "Bearer " + connection.token())
          .connectTimeout(CONNECT_TIMEOUT)
          .buildAsync(uri, listener)
          .get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw CliException.failed("interrupted while connecting to the controller");
    } catch (java.util.concurrent.ExecutionException e) {
      Optional<java.net.http.WebSocketHandshakeException> refused =
          cause(e, java.net.http.WebSocketHandshakeException.class);
      if (refused.isPresent()) {
        HttpResponse<?> r = refused.get().getResponse();
        Object body = r.body();
        throw apiError(r.statusCode(), body instanceof String b ? b : "");
      }
      throw failure(
          e.getCause() instanceof IOException io ? io : new IOException(e.getCause()), connection);
    }
  }

  /** The answer's JSON; a {@link MissingNode} when the answer has no body (204). */
  private JsonNode send(String method, String path, Optional<JsonNode> body) {
    return send(method, path, body, REQUEST_TIMEOUT);
  }

  private JsonNode send(String method, String path, Optional<JsonNode> body, Duration timeout) {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(URI.create(connection.server() + path))
            .timeout(timeout)
            .header("Accept", "application/json")
            .header("Authorization", "Bearer " + connection.token());
    if (body.isPresent()) {
      request
          .header("Content-Type", "application/json")
          .method(method, BodyPublishers.ofByteArray(Json.writeBytes(body.get())));
    } else {
      request.method(method, BodyPublishers.noBody());
    }
    return answer(request.build());
  }

  private JsonNode answer(HttpRequest request) {
    HttpResponse<String> response;
    try {
      response = http.send(request, BodyHandlers.ofString(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw failure(e, connection);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw CliException.failed("interrupted while waiting for the controller");
    }
    if (response.statusCode() / 100 != 2) {
      throw apiError(response.statusCode(), response.body());
    }
    if (response.body().isBlank()) {
      return MissingNode.getInstance();
    }
    try {
      return Json.mapper().readTree(response.body());
    } catch (IOException e) {
      throw CliException.failed(
          "the controller at " + connection.server() + " answered with invalid JSON: " + e);
    }
  }

  /** {@code <message> (<code>)} from an error answer, which should carry an {@link ApiError}. */
  static CliException apiError(int status, String body) {
    ApiError error;
    try {
      error = Json.mapper().readValue(body, ApiError.class);
    } catch (IOException | RuntimeException e) {
      String excerpt = body.strip();
      excerpt = excerpt.length() > 200 ? excerpt.substring(0, 200) + "…" : excerpt;
      error =
          new ApiError(
              "HTTP_" + status,
              "the controller answered HTTP " + status + (excerpt.isEmpty() ? "" : ": " + excerpt));
    }
    String message = error.message().isBlank() ? "request failed" : error.message();
    String text = message + " (" + error.code() + ")";
    if (error.errorCode() == ErrorCode.UNAUTHENTICATED) {
      text +=
          "\nthe controller refused the API token: check --token, EDGEFLEET_TOKEN or the"
              + " token in cli-config.json";
    }
    return CliException.failed(text);
  }

  /** Explains a transport failure: unreachable, timed out, TLS refused, or CA pin mismatch. */
  static CliException failure(IOException e, Connection connection) {
    URI server = connection.server();
    Optional<PinMismatchException> mismatch = cause(e, PinMismatchException.class);
    if (mismatch.isPresent()) {
      String detail = mismatch.get().getMessage();
      int presented = detail.indexOf("presented ");
      return CliException.failed(
          "the controller's CA does not match the pinned fingerprint "
              + connection.caFingerprint()
              + ": the controller at "
              + server
              + (presented >= 0
                  ? " " + detail.substring(presented)
                  : " failed the check: " + detail)
              + "\nit is a different controller or its CA was re-created; take caFingerprint from"
              + " that controller's cli-config.json");
    }
    if (e instanceof HttpConnectTimeoutException) {
      return unreachable(connection, "no connection within " + CONNECT_TIMEOUT.toSeconds() + "s");
    }
    if (e instanceof HttpTimeoutException) {
      return CliException.failed(
          "the controller at "
              + server
              + " did not answer within "
              + REQUEST_TIMEOUT.toSeconds()
              + "s");
    }
    Optional<SSLException> tls = cause(e, SSLException.class);
    if (tls.isPresent()) {
      return CliException.failed(
          "TLS with the controller at " + server + " failed: " + reason(tls.get()));
    }
    if (cause(e, UnresolvedAddressException.class).isPresent()) {
      return unreachable(connection, "unknown host " + server.getHost());
    }
    return unreachable(connection, reason(e));
  }

  private static CliException unreachable(Connection connection, String reason) {
    return CliException.failed(
        "cannot reach the controller at "
            + connection.server()
            + ": "
            + reason
            + "\nis the controller running? (the URL came from "
            + connection.origin()
            + ")");
  }

  /** The first message in the cause chain: the JDK client often wraps a message-less exception. */
  private static String reason(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t.getMessage() != null && !t.getMessage().isBlank()) {
        return t.getMessage();
      }
    }
    // The JDK client reports a refused connection as a ConnectException without any message.
    return cause(e, ConnectException.class).isPresent()
        ? "connection refused"
        : e.getClass().getSimpleName();
  }

  private static <T extends Throwable> Optional<T> cause(Throwable e, Class<T> type) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (type.isInstance(t)) {
        return Optional.of(type.cast(t));
      }
    }
    return Optional.empty();
  }

  @Override
  public void close() {
    http.close();
  }
}
