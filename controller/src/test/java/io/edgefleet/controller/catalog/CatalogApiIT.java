package io.edgefleet.controller.catalog;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.Controller;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The catalog endpoints of a real controller over HTTPS. */
class CatalogApiIT {
  private static final String APPS = "/api/v1/catalog/apps";
  private static final String CONFIG =
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: b\n";

  @TempDir static Path dir;
  private static Controller controller;
  private static HttpClient http;
  private static String token;

  record Answer(int status, JsonNode body) {
    String code() {
      return body.path("code").asText();
    }
  }

  @BeforeAll
  static void start() {
    controller =
        Controller.start(
            ControllerConfig.defaults(dir.resolve("controller")).withListen("127.0.0.1", 0),
            Clock.systemUTC());
    token = controller.adminToken().orElseThrow();
    http =
        HttpClient.newBuilder()
            .sslContext(
                TlsContexts.pinned(new PinnedCaTrustManager(controller.pki().caFingerprint())))
            .connectTimeout(Duration.ofSeconds(10))
            .build();
  }

  @AfterAll
  static void stop() {
    if (http != null) {
      http.close();
    }
    if (controller != null) {
      controller.close();
    }
  }

  @Test
  void pushListGetAndRePushAVersion() {
    Map<String, Object> body = push("1.0.0", "manifests", Tars.of(Map.of("cfg.yaml", CONFIG)));
    body.put("description", "configuration");

    Answer created = post(APPS + "/web/versions", body);
    Answer again = post(APPS + "/web/versions", body);
    Answer other =
        post(
            APPS + "/web/versions",
            push(
                "1.0.0", "manifests", Tars.of(Map.of("cfg.yaml", CONFIG.replace("a: b", "a: c")))));

    assertThat(created.status()).as(created.body().toString()).isEqualTo(201);
    assertThat(created.body().path("created").asBoolean()).isTrue();
    assertThat(created.body().path("name").asText()).isEqualTo("web");
    assertThat(created.body().path("version").asText()).isEqualTo("1.0.0");
    assertThat(created.body().path("kind").asText()).isEqualTo("manifests");
    assertThat(created.body().path("digest").asText()).startsWith("sha256:");
    assertThat(created.body().path("size").asLong()).isEqualTo(CONFIG.length());
    assertThat(created.body().path("files").asInt()).isEqualTo(1);
    assertThat(created.body().path("createdBy").asText()).isNotBlank();
    assertThat(again.status()).isEqualTo(200);
    assertThat(again.body().path("created").asBoolean()).isFalse();
    assertThat(again.body().path("digest")).isEqualTo(created.body().path("digest"));
    assertThat(other.status()).isEqualTo(409);
    assertThat(other.code()).isEqualTo("APP_VERSION_EXISTS");
    assertThat(other.body().path("message").asText())
        .startsWith("web@1.0.0 already exists with different content");

    JsonNode list = get(APPS).body().path("items");
    JsonNode web = null;
    for (JsonNode item : list) {
      if (item.path("name").asText().equals("web")) {
        web = item;
      }
    }
    assertThat(web).isNotNull();
    assertThat(web.path("latestVersion").asText()).isEqualTo("1.0.0");
    assertThat(web.path("versions").asInt()).isEqualTo(1);
    assertThat(web.path("kind").asText()).isEqualTo("manifests");
    assertThat(web.path("description").asText()).isEqualTo("configuration");
    JsonNode app = get(APPS + "/web").body();
    assertThat(app.path("versions").get(0).path("digest")).isEqualTo(created.body().path("digest"));
    JsonNode version = get(APPS + "/web/versions/1.0.0").body();
    assertThat(version.path("paths").toString()).isEqualTo("[\"cfg.yaml\"]");
    Answer missing = get(APPS + "/web/versions/9.9.9");
    assertThat(missing.status()).isEqualTo(404);
    assertThat(missing.body().path("message").asText())
        .isEqualTo("no version 9.9.9 of app 'web'; pushed versions: 1.0.0");

    JsonNode audit = get("/api/v1/audit?limit=1000").body().path("items");
    long pushes = 0;
    for (JsonNode e : audit) {
      if (e.path("action").asText().equals("catalog-version.push")
          && e.path("target").asText().equals("web@1.0.0")) {
        pushes++;
      }
    }
    assertThat(pushes).isEqualTo(1);
  }

  @Test
  void thePushRouteAcceptsArchivesLargerThanOtherRoutesDoUpToItsOwnLimit() {
    byte[] noise = new byte[3 << 20];
    new Random(7).nextBytes(noise);
    Tars big = Tars.create().file("cfg.yaml", CONFIG).file("blob.bin", noise);

    Answer pushed = post(APPS + "/big/versions", push("1.0.0", "manifests", big.tgz()));
    Answer bigPreview =
        post(
            APPS + "/big/versions/1.0.0/preview",
            Map.of("values", Map.of("x", "y".repeat(2 << 20))));
    byte[] tooMuch = new byte[13 << 20];
    new Random(8).nextBytes(tooMuch);
    Answer tooLarge =
        post(
            APPS + "/big/versions",
            push(
                "2.0.0",
                "manifests",
                Tars.create().file("cfg.yaml", CONFIG).file("b", tooMuch).tgz()));

    assertThat(pushed.status()).as(pushed.body().toString()).isEqualTo(201);
    assertThat(pushed.body().path("size").asLong()).isEqualTo(CONFIG.length() + (3 << 20));
    assertThat(bigPreview.status()).isEqualTo(413);
    assertThat(bigPreview.code()).isEqualTo("BODY_TOO_LARGE");
    assertThat(tooLarge.status()).isEqualTo(413);
    assertThat(tooLarge.code()).isEqualTo("BODY_TOO_LARGE");
  }

  @Test
  void previewRendersWithGivenTagsAndReportsRenderErrors() {
    Map<String, String> chart = new LinkedHashMap<>();
    chart.put("Chart.yaml", "apiVersion: v2\nname: kiosk\nversion: 0.1.0\n");
    chart.put("values.yaml", "site: \"${tag:site}\"\n");
    chart.put(
        "templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kiosk\ndata:\n"
            + "  site: {{ .Values.site | quote }}\n  color: {{ .Values.color | default \"blue\" | quote }}\n");
    Answer pushed = post(APPS + "/kiosk/versions", push("0.1.0", "chart", Tars.of(chart)));
    assertThat(pushed.status()).as(pushed.body().toString()).isEqualTo(201);

    Answer forTags =
        post(
            APPS + "/kiosk/versions/0.1.0/preview",
            Map.of("tags", Map.of("site", "store-9"), "values", Map.of("color", "red")));
    Answer placeholders = post(APPS + "/kiosk/versions/0.1.0/preview", null);
    Answer missingTag =
        post(APPS + "/kiosk/versions/0.1.0/preview", Map.of("tags", Map.of("region", "eu")));
    Answer unknownDevice =
        post(APPS + "/kiosk/versions/0.1.0/preview", Map.of("device", "dev-nope"));
    JsonNode detail = get(APPS + "/kiosk/versions/0.1.0").body();

    assertThat(forTags.status()).as(forTags.body().toString()).isEqualTo(200);
    assertThat(forTags.body().path("yaml").asText())
        .contains("site: \"store-9\"")
        .contains("color: \"red\"")
        .contains("namespace: \"kiosk\"");
    assertThat(forTags.body().path("digest").asText()).startsWith("sha256:");
    assertThat(forTags.body().path("tags").path("site").asText()).isEqualTo("store-9");
    assertThat(placeholders.status()).isEqualTo(200);
    assertThat(placeholders.body().path("yaml").asText()).contains("site: \"tag-site\"");
    assertThat(missingTag.status()).isEqualTo(422);
    assertThat(missingTag.code()).isEqualTo("CATALOG_CONTENT_INVALID");
    assertThat(missingTag.body().path("message").asText())
        .contains("kiosk@0.1.0 cannot be rendered: values use ${tag:site}");
    assertThat(unknownDevice.status()).isEqualTo(404);
    assertThat(detail.path("kind").asText()).isEqualTo("chart");
    assertThat(detail.path("values").asText()).isEqualTo("site: \"${tag:site}\"\n");
  }

  private static Map<String, Object> push(String version, String kind, byte[] tgz) {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("version", version);
    body.put("kind", kind);
    body.put("archive", Base64.getEncoder().encodeToString(tgz));
    return body;
  }

  private static Answer get(String path) {
    return send(HttpRequest.newBuilder(uri(path)).GET());
  }

  private static Answer post(String path, Object body) {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri(path));
    if (body == null) {
      b.POST(HttpRequest.BodyPublishers.noBody());
    } else {
      b.header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofByteArray(Json.writeBytes(body)));
    }
    return send(b);
  }

  private static URI uri(String path) {
    return URI.create(controller.url() + path);
  }

  private static Answer send(HttpRequest.Builder b) {
    try {
      HttpResponse<String> r =
          http.send(
              b.header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(60)).build(),
              HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
      return new Answer(
          r.statusCode(),
          r.body().isEmpty() ? Json.mapper().nullNode() : Json.mapper().readTree(r.body()));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
