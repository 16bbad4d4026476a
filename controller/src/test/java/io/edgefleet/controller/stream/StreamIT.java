package io.edgefleet.controller.stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.Controller;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.controller.devices.TestDevices;
import io.edgefleet.controller.events.FleetEvents;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code GET /api/v1/stream} of a real controller over real TLS: what a stream says first, that
 * changes to devices, rollouts and the event log reach it within seconds, its bounds and its end.
 */
class StreamIT {
  static final Duration WAIT = Duration.ofSeconds(20);

  @TempDir Path dir;
  Controller controller;
  HttpClient http;
  String token;
  final List<Sse> streams = new ArrayList<>();

  @BeforeEach
  void start() {
    controller =
        Controller.start(
            ControllerConfig.defaults(dir.resolve("controller"))
                .withListen("127.0.0.1", 0)
                .withRolloutTick(Duration.ofMillis(200)),
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
    streams.forEach(Sse::close);
    if (controller != null) {
      controller.close();
    }
    http.close();
  }

  /** One server-sent event as read. */
  record Event(String event, String id, JsonNode data) {}

  /** A stream being read on a thread of its own, every event kept. */
  final class Sse implements AutoCloseable {
    final HttpResponse<InputStream> response;
    final List<Event> events = new CopyOnWriteArrayList<>();
    volatile boolean ended;

    Sse(String query, String bearer) throws Exception {
      HttpRequest.Builder b =
          HttpRequest.newBuilder(URI.create(controller.url() + "/api/v1/stream" + query)).GET();
      if (bearer != null) {
        b.header("Authorization", "Bearer " + bearer);
      }
      response = http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
      streams.add(this);
      if (response.statusCode() == 200) {
        Thread.ofVirtual().start(this::read);
      }
    }

    private void read() {
      try (BufferedReader in =
          new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
        String event = null;
        String id = null;
        String data = null;
        for (String line = in.readLine(); line != null; line = in.readLine()) {
          if (line.isEmpty()) {
            if (event != null) {
              events.add(new Event(event, id, Json.mapper().readTree(data)));
            }
            event = null;
            id = null;
            data = null;
          } else if (line.startsWith("event: ")) {
            event = line.substring(7);
          } else if (line.startsWith("id: ")) {
            id = line.substring(4);
          } else if (line.startsWith("data: ")) {
            data = line.substring(6);
          }
        }
      } catch (IOException e) {
        // the stream was cut
      } finally {
        ended = true;
      }
    }

    Event awaitEvent(String name, Predicate<JsonNode> data) {
      return await()
          .atMost(WAIT)
          .until(
              () ->
                  events.stream()
                      .filter(e -> e.event().equals(name) && data.test(e.data()))
                      .findFirst(),
              Optional::isPresent)
          .orElseThrow();
    }

    String body() throws IOException {
      return new String(response.body().readAllBytes(), StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
      try {
        response.body().close();
      } catch (IOException e) {
        // gone already
      }
    }
  }

  HttpResponse<String> send(String method, String path, Object body) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(controller.url() + path))
            .header("Authorization", "Bearer " + token)
            .header("Content-Type", "application/json")
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(Json.write(body)))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void helloAndTheSummaryComeFirstThenDeviceChangesAndNewEvents() throws Exception {
    Sse sse = new Sse("", token);
    assertThat(sse.response.statusCode()).isEqualTo(200);
    assertThat(sse.response.headers().firstValue("Content-Type"))
        .hasValue("text/event-stream; charset=utf-8");
    assertThat(sse.response.headers().firstValue("Cache-Control")).hasValue("no-store");
    assertThat(sse.response.headers().firstValue("X-Accel-Buffering")).hasValue("no");
    await().atMost(WAIT).until(() -> sse.events.size() >= 2);
    assertThat(sse.events.get(0).event()).isEqualTo("hello");
    assertThat(sse.events.get(0).data().path("topics").toString())
        .isEqualTo("[\"summary\",\"devices\",\"rollouts\",\"events\"]");
    assertThat(sse.events.get(1).event()).isEqualTo("summary");
    assertThat(sse.events.get(1).data().path("total").asInt()).isZero();
    assertThat(sse.events.get(1).data().has("sentence")).isTrue();

    TestDevices.insertActive(
        controller.database().jdbi(), "dev-s1", Map.of("site", "a"), Instant.now());
    Event added = sse.awaitEvent("device", d -> d.path("id").asText().equals("dev-s1"));
    assertThat(added.data().path("status").asText()).isEqualTo("NEVER_SEEN");
    sse.awaitEvent("summary", d -> d.path("total").asInt() == 1);

    assertThat(send("PATCH", "/api/v1/devices/dev-s1", Map.of("name", "kiosk-1")).statusCode())
        .isEqualTo(200);
    sse.awaitEvent("device", d -> d.path("name").asText().equals("kiosk-1"));
    assertThat(
            send("PATCH", "/api/v1/devices/dev-s1/tags", Map.of("set", Map.of("floor", "2")))
                .statusCode())
        .isEqualTo(200);
    sse.awaitEvent("device", d -> d.path("tags").path("floor").asText().equals("2"));

    controller
        .database()
        .jdbi()
        .useTransaction(
            h -> {
              FleetEvents batch = FleetEvents.batch(h, "health");
              batch.add(
                  "dev-s1", System.currentTimeMillis(), "status", "warning", null, "streamed");
              batch.store();
            });
    Event event = sse.awaitEvent("fleet-event", d -> d.path("message").asText().equals("streamed"));
    assertThat(event.id()).isNotBlank().isEqualTo(event.data().path("id").asText());
    assertThat(event.data().path("deviceId").asText()).isEqualTo("dev-s1");
    // The rename was audited: the log's controller events reach the stream too, each once.
    sse.awaitEvent("fleet-event", d -> d.path("source").asText().equals("controller"));
    List<String> ids =
        sse.events.stream().filter(e -> e.event().equals("fleet-event")).map(Event::id).toList();
    assertThat(ids).doesNotHaveDuplicates();

    Sse onlyEvents = new Sse("?topics=events", token);
    await().atMost(WAIT).until(() -> !onlyEvents.events.isEmpty());
    assertThat(onlyEvents.events.getFirst().data().path("topics").toString())
        .isEqualTo("[\"events\"]");
    Sse badTopic = new Sse("?topics=gossip", token);
    assertThat(badTopic.response.statusCode()).isEqualTo(422);
    assertThat(badTopic.body()).contains("VALIDATION_FAILED").contains("gossip");
  }

  @Test
  void aRolloutsStateChangeIsStreamed() throws Exception {
    for (int i = 0; i < 2; i++) {
      TestDevices.insertActive(
          controller.database().jdbi(), "dev-r" + i, Map.of("site", "r"), Instant.now());
    }
    HttpResponse<String> pushed =
        send(
            "POST",
            "/api/v1/catalog/apps/web/versions",
            Map.of(
                "version",
                "1.0.0",
                "kind",
                "manifests",
                "archive",
                Base64.getEncoder()
                    .encodeToString(
                        tgz(
                            "cfg.yaml",
                            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n"
                                + "  a: b\n"))));
    assertThat(pushed.statusCode()).as(pushed.body()).isEqualTo(201);
    Sse sse = new Sse("?topics=rollouts", token);
    await().atMost(WAIT).until(() -> !sse.events.isEmpty());

    HttpResponse<String> deployed =
        send(
            "POST",
            "/api/v1/deployments",
            Map.of(
                "name",
                "web",
                "app",
                "web",
                "version",
                "1.0.0",
                "target",
                "site=r",
                "force",
                true,
                "rollout",
                "canary: 1\nwaves: [100%]\nprogressDeadline: 10m\n"));
    assertThat(deployed.statusCode()).as(deployed.body()).isIn(200, 201);
    Event started = sse.awaitEvent("rollout", d -> d.path("app").asText().equals("web"));
    String id = started.data().path("id").asText();
    assertThat(started.data().path("devices")).as("devices=false").isEmpty();
    assertThat(started.data().has("counts")).isTrue();

    // Devices that never connected hold nothing up: the rollout finishes, and that is streamed.
    sse.awaitEvent(
        "rollout",
        d -> d.path("id").asText().equals(id) && d.path("state").asText().equals("SUCCEEDED"));
    assertThat(send("GET", "/api/v1/rollouts/" + id, null).body()).contains("SUCCEEDED");
    assertThat(sse.events).allMatch(e -> !e.event().equals("summary"));
  }

  @Test
  void streamsNeedATokenAreBoundedAndEndWhenTheControllerStops() throws Exception {
    Sse anonymous = new Sse("", null);
    assertThat(anonymous.response.statusCode()).isEqualTo(401);
    assertThat(anonymous.body()).contains("UNAUTHENTICATED");

    List<Sse> open = new ArrayList<>();
    for (int i = 0; i < 32; i++) {
      open.add(new Sse("?topics=summary", token));
    }
    assertThat(open).allMatch(s -> s.response.statusCode() == 200);
    Sse refused = new Sse("?topics=summary", token);
    assertThat(refused.response.statusCode()).isEqualTo(429);
    assertThat(refused.body()).contains("TOO_MANY_STREAMS").contains("32 streams are open");

    // A client that went away is noticed at the next write (a ping within 15 s) and its place
    // freed.
    open.getFirst().close();
    await()
        .atMost(Duration.ofSeconds(45))
        .pollInterval(Duration.ofSeconds(1))
        .until(() -> new Sse("?topics=summary", token).response.statusCode() == 200);

    controller.close();
    controller = null;
    await().atMost(WAIT).until(() -> open.stream().skip(1).allMatch(s -> s.ended));
  }

  static byte[] tgz(String name, String content) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(new GZIPOutputStream(bytes))) {
      byte[] data = content.getBytes(StandardCharsets.UTF_8);
      TarArchiveEntry e = new TarArchiveEntry(name);
      e.setSize(data.length);
      tar.putArchiveEntry(e);
      tar.write(data);
      tar.closeArchiveEntry();
    }
    return bytes.toByteArray();
  }
}
