package io.edgefleet.controller.profiles;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.Controller;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.controller.catalog.Tars;
import io.edgefleet.controller.clusters.ProfileSource;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import java.io.IOException;
import java.io.UncheckedIOException;
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
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The profile endpoints of a real controller over HTTPS. */
class ProfilesApiIT {
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
    for (String[] v : List.of(new String[] {"1.0.0", "a: b"}, new String[] {"1.1.0", "a: c"})) {
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("version", v[0]);
      body.put("kind", "manifests");
      body.put(
          "archive",
          Base64.getEncoder()
              .encodeToString(Tars.of(Map.of("cfg.yaml", CONFIG.replace("a: b", v[1])))));
      Answer pushed = post("/api/v1/catalog/apps/web/versions", body);
      assertThat(pushed.status()).as(pushed.body().toString()).isEqualTo(201);
    }
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

  private static Map<String, Object> k3s(String version, Map<String, Object> config) {
    Map<String, Object> l = new LinkedHashMap<>();
    l.put("name", "k3s");
    l.put("kind", "kubernetes");
    l.put("kubernetesVersion", version);
    l.put("config", config);
    return l;
  }

  private static Map<String, Object> app(String name, String app, String version) {
    return Map.of("name", name, "kind", "addon", "app", app, "version", version);
  }

  @Test
  void createPublishDiffAndTheKubernetesLayerOfEachVersion() {
    Answer created =
        post(
            "/api/v1/profiles",
            Map.of(
                "name",
                "edge",
                "selector",
                "env=prod",
                "layers",
                List.of(k3s("v1.20.2+k3s1", Map.of()), app("web", "web", "1.0.0"))));
    assertThat(created.status()).as(created.body().toString()).isEqualTo(201);
    assertThat(created.body().path("latestVersion").asInt()).isEqualTo(1);
    assertThat(created.body().path("selector").asText()).isEqualTo("env=prod");
    assertThat(created.body().path("latestRollout").path("source").asText()).isEqualTo("profile");
    assertThat(created.body().path("latestRollout").path("toRevision").asText())
        .isEqualTo("edge@1");

    Answer published =
        post(
            "/api/v1/profiles/edge/versions",
            Map.of(
                "layers",
                List.of(
                    k3s("v1.21.1+k3s1", Map.of("disable", List.of("traefik"))),
                    app("web", "web", "1.1.0")),
                "rollout",
                "canary: 1\nwaves: [50%]\n"));
    assertThat(published.status()).as(published.body().toString()).isEqualTo(201);
    assertThat(published.body().path("revision").asText()).isEqualTo("edge@2");
    assertThat(published.body().path("layers").get(0).path("kubernetesVersion").asText())
        .isEqualTo("v1.21.1+k3s1");

    JsonNode rollouts = get("/api/v1/rollouts?app=edge").body().path("items");
    assertThat(rollouts.get(0).path("source").asText()).isEqualTo("profile");
    assertThat(rollouts.get(0).path("fromRevision").asText()).isEqualTo("edge@1");
    assertThat(rollouts.get(0).path("toRevision").asText()).isEqualTo("edge@2");

    Answer again =
        post(
            "/api/v1/profiles/edge/versions",
            Map.of("version", 2, "layers", List.of(app("web", "web", "1.1.0"))));
    assertThat(again.status()).isEqualTo(409);
    assertThat(again.code()).isEqualTo("PROFILE_VERSION_EXISTS");
    assertThat(again.body().path("message").asText()).contains("publish edge@3 instead");

    Answer diff = get("/api/v1/profiles/edge/diff?from=1&to=2");
    assertThat(diff.status()).as(diff.body().toString()).isEqualTo(200);
    assertThat(diff.body().path("nodesRestart").asBoolean()).isTrue();
    assertThat(diff.body().path("layers").get(0).path("details").toString())
        .contains(
            "kubernetes version v1.20.2+k3s1 -> v1.21.1+k3s1", "config keys changed: disable");
    assertThat(diff.body().path("layers").get(1).path("details").toString())
        .contains("version 1.0.0 -> 1.1.0");
    assertThat(get("/api/v1/profiles/edge/diff?from=1&to=2&cluster=nowhere").status())
        .isEqualTo(404);
    assertThat(get("/api/v1/profiles/edge/diff?from=1&to=x").status()).isEqualTo(422);

    JsonNode profile = get("/api/v1/profiles/edge").body();
    assertThat(profile.path("versions").get(0).path("version").asInt()).isEqualTo(2);
    assertThat(profile.path("versions").get(1).path("version").asInt()).isEqualTo(1);
    assertThat(
            get("/api/v1/profiles/edge/versions/1")
                .body()
                .path("layers")
                .get(1)
                .path("version")
                .asText())
        .isEqualTo("1.0.0");
    assertThat(get("/api/v1/profiles/edge/versions/7").status()).isEqualTo(404);
    assertThat(get("/api/v1/profiles").body().path("items"))
        .anySatisfy(
            p -> {
              assertThat(p.path("name").asText()).isEqualTo("edge");
              assertThat(p.path("latestVersion").asInt()).isEqualTo(2);
            });

    // No applier yet: the newest version; pinned: exactly that version.
    ProfileSource source = controller.profileSource();
    assertThat(source.kubernetesFor("store-1", "edge", null))
        .hasValueSatisfying(
            l -> {
              assertThat(l.version()).isEqualTo(2);
              assertThat(l.kubernetesVersion()).isEqualTo("v1.21.1+k3s1");
              assertThat(l.config()).containsEntry("disable", List.of("traefik"));
            });
    assertThat(source.kubernetesFor("store-1", "edge@1", null))
        .hasValueSatisfying(l -> assertThat(l.kubernetesVersion()).isEqualTo("v1.20.2+k3s1"));
    assertThat(source.kubernetesFor("store-1", "other", null)).isEmpty();
  }

  @Test
  void invalidLayersAndNamesAreRefusedWithTheLayerNamed() {
    assertThat(post("/api/v1/profiles", Map.of("name", "base", "selector", "*")).status())
        .isEqualTo(201);

    Answer unknownApp =
        post(
            "/api/v1/profiles/base/versions",
            Map.of("layers", List.of(app("cni", "flannel", "1.0.0"))));
    assertThat(unknownApp.status()).isEqualTo(422);
    assertThat(unknownApp.code()).isEqualTo("PROFILE_LAYER_INVALID");
    assertThat(unknownApp.body().path("message").asText()).startsWith("layer 'cni': ");

    Answer agentKey =
        post(
            "/api/v1/profiles/base/versions",
            Map.of("layers", List.of(k3s("v1.20.2+k3s1", Map.of("node-name", "x")))));
    assertThat(agentKey.status()).isEqualTo(422);
    assertThat(agentKey.code()).isEqualTo("PROFILE_LAYER_INVALID");
    assertThat(agentKey.body().path("message").asText()).contains("'node-name'");

    Answer badPolicy =
        post(
            "/api/v1/profiles/base/versions",
            Map.of("layers", List.of(app("web", "web", "1.0.0")), "rollout", "canary: [x"));
    assertThat(badPolicy.code()).isEqualTo("ROLLOUT_POLICY_INVALID");

    assertThat(post("/api/v1/profiles", Map.of("name", "base", "selector", "*")).status())
        .isEqualTo(409);
    assertThat(post("/api/v1/profiles", Map.of("name", "Bad_Name", "selector", "*")).status())
        .isEqualTo(422);
    assertThat(
            post(
                    "/api/v1/profiles/missing/versions",
                    Map.of("layers", List.of(app("web", "web", "1.0.0"))))
                .status())
        .isEqualTo(404);
    assertThat(get("/api/v1/profiles/base").body().path("versions").size()).isZero();
  }

  private static Answer get(String path) {
    return send(HttpRequest.newBuilder(uri(path)).GET());
  }

  private static Answer post(String path, Object body) {
    return send(
        HttpRequest.newBuilder(uri(path))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofByteArray(Json.writeBytes(body))));
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
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
