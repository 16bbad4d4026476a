package io.edgefleet.controller.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import io.edgefleet.controller.Controller;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The audit endpoints of a real controller over HTTPS, with its webhook sink: changes made through
 * the API are chained, checkpointed with the published key, exported and streamed.
 */
class AuditApiIT {
  @TempDir Path dir;
  private Controller controller;
  private HttpClient http;
  private String token;
  private HttpServer siem;
  private final List<JsonNode> received = Collections.synchronizedList(new ArrayList<>());

  record Answer(int status, String body) {
    JsonNode json() {
      try {
        return Json.mapper().readTree(body);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  @BeforeEach
  void start() throws IOException {
    siem = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    siem.createContext(
        "/in",
        ex -> {
          for (JsonNode e :
              Json.mapper().readTree(ex.getRequestBody().readAllBytes()).path("entries")) {
            received.add(e);
          }
          ex.sendResponseHeaders(200, -1);
          ex.close();
        });
    siem.start();
    controller =
        Controller.start(
            ControllerConfig.defaults(dir.resolve("controller"))
                .withListen("127.0.0.1", 0)
                .withAudit(
                    AuditOptions.defaults()
                        .withCheckpoints(2, Duration.ofMinutes(10))
                        .withWebhook(
                            URI.create("http://127.0.0.1:" + siem.getAddress().getPort() + "/in"))),
            Clock.systemUTC());
    token = controller.adminToken().orElseThrow();
    http =
        HttpClient.newBuilder()
            .sslContext(
                TlsContexts.pinned(new PinnedCaTrustManager(controller.pki().caFingerprint())))
            .connectTimeout(Duration.ofSeconds(10))
            .build();
  }

  @AfterEach
  void stop() {
    if (http != null) {
      http.close();
    }
    if (controller != null) {
      controller.close();
    }
    siem.stop(0);
  }

  @Test
  void changesAreChainedCheckpointedExportedAndStreamed() {
    for (String name : List.of("a", "b", "c")) {
      Answer created =
          send(
              "POST",
              "/api/v1/secrets",
              Map.of("name", name, "stringData", Map.of("k", "v"), "target", "site=x"));
      assertThat(created.status()).as(created.body()).isEqualTo(201);
    }

    JsonNode key = send("GET", "/api/v1/audit/key", null).json();
    assertThat(key.path("checkpoints").asBoolean()).isTrue();
    assertThat(key.path("headSeq").asLong()).isEqualTo(3);
    assertThat(key.path("publicKeyPem").asText()).startsWith("-----BEGIN PUBLIC KEY-----");
    assertThat(key.path("keyId").asText())
        .isEqualTo(controller.pki().signingKeys().ring().current().id());
    assertThat(key.path("latestCheckpoint").path("seq").asLong()).isEqualTo(3);

    JsonNode verified = send("POST", "/api/v1/audit/verify", null).json();
    assertThat(verified.path("ok").asBoolean()).as(verified.toString()).isTrue();
    assertThat(verified.path("entries").asLong()).isEqualTo(3);
    assertThat(verified.path("checkpoints").asLong()).isEqualTo(2);
    assertThat(send("POST", "/api/v1/audit/verify?from=2", null).json().path("entries").asLong())
        .isEqualTo(2);
    Answer badFrom = send("POST", "/api/v1/audit/verify?from=x", null);
    assertThat(badFrom.status()).isEqualTo(422);
    assertThat(badFrom.json().path("code").asText()).isEqualTo("VALIDATION_FAILED");
    Answer beyond = send("POST", "/api/v1/audit/verify?from=9", null);
    assertThat(beyond.status()).isEqualTo(422);
    assertThat(beyond.json().path("message").asText())
        .isEqualTo("from 9 is beyond the newest entry (seq 3): give a sequence number from 1 to 3");

    Answer export = send("GET", "/api/v1/audit/export?since=24h", null);
    assertThat(export.status()).isEqualTo(200);
    List<JsonNode> lines = export.body().lines().map(AuditApiIT::parse).toList();
    assertThat(lines).extracting(l -> l.path("seq").asLong()).containsExactly(1L, 2L, 3L);
    assertThat(lines).extracting(l -> l.path("action").asText()).containsOnly("secret.create");
    Answer badSince = send("GET", "/api/v1/audit/export?since=last-week", null);
    assertThat(badSince.status()).isEqualTo(422);
    assertThat(badSince.json().path("message").asText()).contains("neither a duration");

    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> received.stream().map(e -> e.path("seq").asLong()).distinct().count() == 3);
    assertThat(received.getLast().path("hash").asText())
        .isEqualTo(lines.getLast().path("hash").asText());
  }

  private static JsonNode parse(String line) {
    try {
      return Json.mapper().readTree(line);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private Answer send(String method, String path, Object body) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(controller.url() + path))
            .header("Authorization", "Bearer " + token)
            .timeout(Duration.ofSeconds(60));
    if (body == null) {
      b.method(method, HttpRequest.BodyPublishers.noBody());
    } else {
      b.header("Content-Type", "application/json")
          .method(method, HttpRequest.BodyPublishers.ofByteArray(Json.writeBytes(body)));
    }
    try {
      HttpResponse<String> r =
          http.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
      return new Answer(r.statusCode(), r.body());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
