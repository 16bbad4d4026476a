package io.edgefleet.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.IdentityStore;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;

/**
 * Requests to the device API ({@code /device/v1}) made by hand with the identity of an enrolled
 * agent: its key and certificate over real mutual TLS, pinned to the controller's CA, so a test can
 * send what a well-behaved agent never would.
 */
public final class DeviceHttp implements AutoCloseable {
  private final HttpClient client;
  private final String url;

  /** A device answer: the HTTP status and the JSON body (a missing node when there is none). */
  public record Answer(int status, JsonNode body) {
    /** The error code of an error answer, or "". */
    public String code() {
      return body.path("code").asText();
    }
  }

  /** Uses the identity an agent stored in {@code agentStateDir} when it enrolled. */
  public DeviceHttp(String controllerUrl, Path agentStateDir) {
    IdentityStore.Identity id = new IdentityStore(agentStateDir).load().orElseThrow();
    this.url = controllerUrl;
    this.client =
        HttpClient.newBuilder()
            .sslContext(
                TlsContexts.mutual(
                    id.key().getPrivate(),
                    new X509Certificate[] {id.certificate(), id.ca()},
                    new PinnedCaTrustManager(id.caFingerprint(), id.ca())))
            .connectTimeout(Duration.ofSeconds(20))
            .build();
  }

  public Answer get(String path) {
    try {
      HttpResponse<String> r =
          client.send(
              HttpRequest.newBuilder(URI.create(url + path))
                  .timeout(Duration.ofSeconds(20))
                  .GET()
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      JsonNode body =
          r.body().isBlank() ? Json.mapper().missingNode() : Json.mapper().readTree(r.body());
      return new Answer(r.statusCode(), body);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** A raw answer: status, response headers (names in lower case) and the body's bytes. */
  public record Bytes(int status, java.util.Map<String, String> headers, byte[] body) {}

  /** GETs {@code path} with further request headers (such as {@code Range}), body as bytes. */
  public Bytes getBytes(String path, java.util.Map<String, String> headers) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(url + path)).timeout(Duration.ofSeconds(60)).GET();
    headers.forEach(b::header);
    try {
      HttpResponse<byte[]> r = client.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
      java.util.Map<String, String> out = new java.util.TreeMap<>();
      r.headers().map().forEach((k, v) -> out.put(k.toLowerCase(java.util.Locale.ROOT), v.get(0)));
      return new Bytes(r.statusCode(), out, r.body());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    client.shutdownNow();
  }
}
