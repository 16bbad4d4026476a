package io.edgefleet.e2e.replicas;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.logs.LogsFeature;
import io.edgefleet.agent.runtime.kubernetes.KubernetesRuntime;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.ControllerProcess;
import io.edgefleet.testkit.GitRepo;
import io.edgefleet.testkit.Postgres;
import io.edgefleet.testkit.ReplicaData;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.kube.KubeCluster;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two controller replicas (real processes) on one real PostgreSQL, sharing the data directory's
 * keys, a device connected to B: an operator's sessions with the device through A (as behind a load
 * balancer) reach it through B. A port-forward WebSocket through A is relayed to B both ways and
 * its close comes back; the device's workload logs read through A come from B, a followed log too.
 * A request already forwarded is never forwarded again.
 */
class SessionRoutingIT {
  static final KubeCluster KUBE = KubeCluster.shared();
  static final Duration WAIT = Duration.ofSeconds(60);
  static final Pattern LINE = Pattern.compile("line (\\d+) of (web-[a-z0-9-]+)/web");

  @TempDir static Path dir;
  static ControllerProcess a;
  static ControllerProcess b;
  static AdminClient adminA;
  static AdminClient adminB;
  static TestAgents agents;
  static HttpClient http;
  static String nameOfB;

  @BeforeAll
  static void start() throws Exception {
    String url = Postgres.newDatabase();
    Path dataA = dir.resolve("a");
    Path dataB = dir.resolve("b");
    a = new ControllerProcess(dataA, List.of("--database-url", url, "--heartbeat", "1s")).start();
    ReplicaData.copyKeys(dataA, dataB);
    // B names the internal URL the other replicas reach it at (localhost: in its certificate).
    b =
        new ControllerProcess(
                dataB,
                List.of(
                    "--database-url",
                    url,
                    "--heartbeat",
                    "1s",
                    "--replica-url",
                    "https://localhost:{port}"))
            .start();
    assertThat(b.caFingerprint()).isEqualTo(a.caFingerprint());
    adminA = a.admin();
    adminB = b.admin();
    agents = new TestAgents(dir);
    http =
        HttpClient.newBuilder()
            .sslContext(TlsContexts.pinned(new PinnedCaTrustManager(a.caFingerprint())))
            .build();
    nameOfB = b.handle().pid() + "@";
  }

  @AfterAll
  static void stop() {
    if (agents != null) {
      agents.close();
    }
    for (AdminClient c : new AdminClient[] {adminA, adminB}) {
      if (c != null) {
        c.close();
      }
    }
    if (http != null) {
      http.close();
    }
    for (ControllerProcess p : new ControllerProcess[] {a, b}) {
      if (p != null) {
        System.out.println("==== replica output");
        p.output().forEach(System.out::println);
        p.close();
      }
    }
  }

  @Test
  void aPortForwardThroughTheReplicaWithoutTheDeviceReachesItThroughItsHolder() throws Exception {
    Agent agent = startAgent("pf", Map.of("site", "pf"), null, null);
    String device = agent.status().deviceId().orElseThrow();
    awaitHeldByB(device);

    com.sun.net.httpserver.HttpServer web =
        com.sun.net.httpserver.HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    byte[] big = new byte[512 * 1024];
    for (int i = 0; i < big.length; i++) {
      big[i] = (byte) ('a' + i % 26);
    }
    web.createContext(
        "/",
        ex -> {
          ex.sendResponseHeaders(200, big.length);
          try (OutputStream o = ex.getResponseBody()) {
            o.write(big);
          }
        });
    web.start();
    try {
      Collector got = new Collector();
      WebSocket ws =
          adminA.webSocket(
              "/api/v1/devices/" + device + "/port-forward?port=" + web.getAddress().getPort(),
              got);
      ws.sendBinary(
              ByteBuffer.wrap(
                  "GET /big HTTP/1.0\r\nHost: device\r\n\r\n".getBytes(StandardCharsets.UTF_8)),
              true)
          .get(10, TimeUnit.SECONDS);
      // Nothing more from the operator (a half-close, in a text message through both replicas).
      ws.sendText("{\"eof\": true}", true).get(10, TimeUnit.SECONDS);
      // HTTP/1.0: the server closes after its answer, the stream ends, the close travels back.
      int code = got.closed.get(60, TimeUnit.SECONDS);
      assertThat(code).isEqualTo(1000);
      String answer = got.bytes.toString(StandardCharsets.ISO_8859_1);
      assertThat(answer).startsWith("HTTP/1.1 200");
      assertThat(answer).endsWith(new String(big, StandardCharsets.ISO_8859_1));
    } finally {
      web.stop(0);
    }

    // The holder ran the session: it is recorded once, for the operator, ended cleanly.
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              List<JsonNode> sessions =
                  list(adminA.get("/api/v1/sessions?device=" + device).body().path("items"));
              assertThat(sessions).hasSize(1);
              assertThat(sessions.getFirst().path("endReason").asText()).isEqualTo("closed");
              assertThat(sessions.getFirst().path("bytesIn").asLong()).isGreaterThan(big.length);
            });

    // Marked as forwarded already, a request is served where it arrives: A has no socket.
    HttpResponse<String> marked =
        http.send(
            HttpRequest.newBuilder(
                    URI.create(a.url() + "/api/v1/devices/" + device + "/port-forward?port=1"))
                .header("Authorization", "Bearer " + a.adminToken())
                .header("X-Edgefleet-Forwarded-By", "1@elsewhere")
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(marked.statusCode()).as(marked.body()).isEqualTo(409);
    assertThat(Json.mapper().readTree(marked.body()).path("code").asText())
        .isEqualTo("DEVICE_NOT_CONNECTED");

    // A refusal by the holder comes back as the holder's answer: here, a port out of range.
    HttpResponse<String> refused =
        http.send(
            HttpRequest.newBuilder(
                    URI.create(a.url() + "/api/v1/devices/" + device + "/port-forward?port=70000"))
                .header("Authorization", "Bearer " + a.adminToken())
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(refused.statusCode()).as(refused.body()).isEqualTo(422);
    assertThat(refused.body()).contains("port must be 1 to 65535");
  }

  @Test
  void theLogsOfADeviceReadThroughTheReplicaWithoutItComeFromItsHolder() throws Exception {
    String suffix = UUID.randomUUID().toString().substring(0, 6);
    String app = "logs-" + suffix;
    String ns = KUBE.newNamespace("replica-logs");
    try (GitRepo repo = GitRepo.init(dir.resolve("repo-" + suffix))) {
      repo.write("apps/" + app + "/app.yaml", deployment(ns)).commit("add " + app);
      AdminClient.Answer added =
          adminA.post(
              "/api/v1/repos",
              Map.of("name", "logs", "url", repo.url(), "target", "role=logs", "interval", "5s"));
      assertThat(added.status()).as(added.body().toString()).isEqualTo(201);
      KubernetesRuntime runtime = new KubernetesRuntime(KUBE.kubeconfig());
      Agent agent =
          startAgent(
              "logs",
              Map.of("role", "logs"),
              runtime,
              LogsFeature.Options.defaults().withCollectEvery(Duration.ofSeconds(1)));
      String device = agent.status().deviceId().orElseThrow();
      awaitHeldByB(device);

      String path = "/api/v1/devices/" + device + "/logs?app=" + app;
      await()
          .atMost(Duration.ofSeconds(KUBE.local() ? 90 : 180))
          .pollInterval(Duration.ofMillis(500))
          .untilAsserted(
              () -> {
                AdminClient.Answer logs = adminA.get(path + "&tail=3");
                assertThat(logs.status()).as(logs.body().toString()).isEqualTo(200);
                List<JsonNode> lines = list(logs.body().path("lines"));
                assertThat(lines).hasSize(3);
                assertThat(lines)
                    .allSatisfy(l -> assertThat(l.path("line").asText()).matches(LINE));
              });

      // A followed log streams through A as B writes it.
      List<String> records = new ArrayList<>();
      try (InputStream body = adminA.stream(path + "&tail=1&follow=true")) {
        BufferedReader reader =
            new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8));
        while (records.stream().filter(r -> LINE.matcher(r).find()).count() < 3) {
          String text = reader.readLine();
          assertThat(text).as("the stream ended early after " + records).isNotNull();
          records.add(text);
        }
      }
      assertThat(records.stream().filter(r -> LINE.matcher(r).find()))
          .hasSizeGreaterThanOrEqualTo(3);
    } finally {
      KUBE.deleteNamespace(ns);
    }
  }

  /** Starts an agent bootstrapped to B only; with a runtime, it also serves its logs. */
  private static Agent startAgent(
      String name, Map<String, String> tags, KubernetesRuntime runtime, LogsFeature.Options logs) {
    AdminClient.Answer token =
        adminA.post("/api/v1/onboarding-tokens", Map.of("tags", tags, "maxUses", 1));
    assertThat(token.status()).as(token.body().toString()).isEqualTo(201);
    Path bootstrap =
        agents.bootstrap(name, b.url(), b.caFingerprint(), token.body().path("token").asText());
    Agent agent =
        runtime == null
            ? agents.start(agents.options(name, bootstrap))
            : agents.start(
                agents.options(name, bootstrap).withReconcileInterval(Duration.ofSeconds(1)),
                Clock.systemUTC(),
                runtime,
                List.of(x -> LogsFeature.forAgent(x, runtime, Clock.systemUTC(), logs)));
    await().atMost(WAIT).until(() -> agent.status().state() == Agent.State.CONNECTED);
    return agent;
  }

  /** Waits until A knows that B holds the device's connection (shared presence). */
  private static void awaitHeldByB(String device) {
    await()
        .atMost(WAIT)
        .untilAsserted(
            () ->
                assertThat(
                        adminA.get("/api/v1/devices/" + device).body().path("connectedTo").asText())
                    .startsWith(nameOfB));
  }

  static String deployment(String namespace) {
    return """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: %s}
        spec:
          replicas: 1
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: web
                image: busybox:1.36
                command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo \\"line $i of $HOSTNAME/web\\"; sleep 0.2; done"]
        """
        .formatted(namespace);
  }

  /** Collects a socket's binary messages and its close code. */
  static final class Collector implements WebSocket.Listener {
    final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    final CompletableFuture<Integer> closed = new CompletableFuture<>();

    @Override
    public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
      byte[] b = new byte[data.remaining()];
      data.get(b);
      synchronized (bytes) {
        bytes.writeBytes(b);
      }
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
      closed.complete(statusCode);
      return null;
    }

    @Override
    public void onError(WebSocket ws, Throwable error) {
      closed.completeExceptionally(error);
    }
  }

  static List<JsonNode> list(JsonNode array) {
    return StreamSupport.stream(array.spliterator(), false).toList();
  }
}
