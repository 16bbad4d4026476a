package io.edgefleet.e2e.tunnels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.cli.CliCommands;
import io.edgefleet.testkit.AdminClient.Answer;
import io.edgefleet.testkit.LinkProxy;
import io.edgefleet.testkit.MovableClock;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code edgefleet port-forward} to an HTTP server on the device, through the controller and the
 * agent's own connection; a link cut ends the session and the session record says so.
 */
class PortForwardIT {
  private static final Duration WAIT = Duration.ofSeconds(60);

  @TempDir Path dir;

  record Run(int exitCode, String out, String err) {}

  @CommandLine.Command(name = "edgefleet")
  static final class Root {}

  static Run cli(TestController controller, String token, String... args) {
    CommandLine root = new CommandLine(new Root());
    CliCommands.commands().forEach(root::addSubcommand);
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    root.setOut(new PrintWriter(out, true));
    root.setErr(new PrintWriter(err, true));
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(
        List.of(
            "--server",
            controller.url(),
            "--token",
            token,
            "--ca-fingerprint",
            controller.caFingerprint()));
    int code = root.execute(all.toArray(String[]::new));
    return new Run(code, out.toString(), err.toString());
  }

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Test
  void portForwardReachesAServerOnTheDeviceAndALinkCutEndsItsSession() throws Exception {
    try (TestController controller = TestController.start(dir.resolve("controller"));
        TestAgents agents = new TestAgents(dir);
        LinkProxy link = LinkProxy.forUrl(controller.url())) {
      Agent agent =
          agents.start(
              agents.options(
                  "pf",
                  agents.bootstrap(
                      "pf",
                      link.url(),
                      controller.caFingerprint(),
                      controller.token(Map.of("site", "pf"), null, false))));
      await().atMost(WAIT).until(() -> agent.status().state() == Agent.State.CONNECTED);
      String device = agent.status().deviceId().orElseThrow();
      Answer u =
          controller
              .admin()
              .post("/api/v1/users", Map.of("name", "olga", "roles", List.of("operator")));
      assertThat(u.status()).isEqualTo(201);
      String olga =
          controller
              .admin()
              .post("/api/v1/tokens", Map.of("name", "t", "user", "olga"))
              .body()
              .path("secret")
              .asText();

      com.sun.net.httpserver.HttpServer web =
          com.sun.net.httpserver.HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
      byte[] big = new byte[3 * 1024 * 1024];
      for (int i = 0; i < big.length; i++) {
        big[i] = (byte) ('a' + i % 26);
      }
      web.createContext(
          "/",
          ex -> {
            byte[] b =
                ex.getRequestURI().getPath().equals("/big")
                    ? big
                    : "hello from the device".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, b.length);
            try (OutputStream o = ex.getResponseBody()) {
              o.write(b);
            }
          });
      web.start();
      try {
        int port = web.getAddress().getPort();
        int local = freePort();
        CompletableFuture<Run> forward =
            async(
                () ->
                    cli(
                        controller,
                        olga,
                        "port-forward",
                        device,
                        local + ":" + port,
                        "--connections",
                        "1"));
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        String body =
            await()
                .atMost(WAIT)
                .ignoreExceptions()
                .until(
                    () ->
                        http.send(
                                HttpRequest.newBuilder(
                                        URI.create("http://127.0.0.1:" + local + "/"))
                                    .timeout(Duration.ofSeconds(10))
                                    .build(),
                                HttpResponse.BodyHandlers.ofString())
                            .body(),
                    b -> b != null);
        assertThat(body).isEqualTo("hello from the device");
        HttpResponse<byte[]> large =
            http.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + local + "/big")).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertThat(large.body()).isEqualTo(big);
        http.close();
        Run done = forward.get(60, TimeUnit.SECONDS);
        assertThat(done.exitCode()).as(done.err()).isZero();
        assertThat(done.out())
            .contains("forwarding 127.0.0.1:" + local)
            .contains("connection 1 opened")
            .contains("connection 1 closed");
        await()
            .atMost(WAIT)
            .until(
                () ->
                    sessions(controller, device).stream()
                            .filter(s -> s.path("endReason").asText().equals("closed"))
                            .count()
                        == 1);
        JsonNode tcp = sessions(controller, device).getFirst();
        assertThat(tcp.path("detail").asText()).isEqualTo("127.0.0.1:" + port);
        assertThat(tcp.path("actor").asText()).isEqualTo("olga");
        assertThat(
                sessions(controller, device).stream()
                    .mapToLong(s -> s.path("bytesIn").asLong())
                    .sum())
            .isGreaterThan(big.length);

        // A connection held open while the link is cut: its session ends with "link lost".
        int local2 = freePort();
        CompletableFuture<Run> held =
            async(
                () ->
                    cli(
                        controller,
                        olga,
                        "port-forward",
                        device,
                        local2 + ":" + port,
                        "--connections",
                        "1"));
        Socket s =
            await()
                .atMost(WAIT)
                .ignoreExceptions()
                .until(() -> new Socket("127.0.0.1", local2), x -> true);
        await()
            .atMost(WAIT)
            .until(
                () ->
                    sessions(controller, device).stream().anyMatch(x -> !x.hasNonNull("endedAt")));
        link.cut();
        await()
            .atMost(WAIT)
            .until(
                () ->
                    sessions(controller, device).stream()
                        .anyMatch(x -> x.path("endReason").asText().startsWith("link lost")));
        InputStream in = s.getInputStream();
        assertThat(in.read()).isEqualTo(-1);
        s.close();
        Run ended = held.get(60, TimeUnit.SECONDS);
        assertThat(ended.out()).contains("connection 1 closed: DEVICE_DISCONNECTED: link lost");
      } finally {
        web.stop(0);
      }
    }
  }

  @Test
  void anIdleStreamIsResetAndItsSessionSaysWhy() throws Exception {
    MovableClock clock = MovableClock.startingAt(Instant.now());
    try (TestController controller =
            TestController.start(TestController.config(dir.resolve("controller")), clock);
        TestAgents agents = new TestAgents(dir)) {
      Agent agent =
          agents.start(
              agents.options(
                  "idle",
                  agents.bootstrap(
                      "idle",
                      controller.url(),
                      controller.caFingerprint(),
                      controller.token(Map.of("site", "idle"), null, false))));
      await().atMost(WAIT).until(() -> agent.status().state() == Agent.State.CONNECTED);
      String device = agent.status().deviceId().orElseThrow();
      String admin = controller.controller().adminToken().orElseThrow();
      try (ServerSocket quiet = new ServerSocket(0, 5, java.net.InetAddress.getLoopbackAddress())) {
        int local = freePort();
        CompletableFuture<Run> held =
            async(
                () ->
                    cli(
                        controller,
                        admin,
                        "port-forward",
                        device,
                        local + ":" + quiet.getLocalPort(),
                        "--connections",
                        "1"));
        Socket s =
            await()
                .atMost(WAIT)
                .ignoreExceptions()
                .until(() -> new Socket("127.0.0.1", local), x -> true);
        await()
            .atMost(WAIT)
            .until(
                () ->
                    sessions(controller, device).stream().anyMatch(x -> !x.hasNonNull("endedAt")));
        controller.controller().tunnels().tick();
        assertThat(sessions(controller, device).getFirst().hasNonNull("endedAt")).isFalse();

        clock.advance(Duration.ofMinutes(31));
        controller.controller().tunnels().tick();
        await()
            .atMost(WAIT)
            .until(
                () ->
                    sessions(controller, device)
                        .getFirst()
                        .path("endReason")
                        .asText()
                        .startsWith("idle timeout"));
        assertThat(s.getInputStream().read()).isEqualTo(-1);
        s.close();
        assertThat(held.get(60, TimeUnit.SECONDS).out())
            .contains("connection 1 closed: TUNNEL_IDLE_TIMEOUT: idle timeout");
      }
    }
  }

  private static List<JsonNode> sessions(TestController controller, String device) {
    List<JsonNode> out = new ArrayList<>();
    controller
        .admin()
        .get("/api/v1/sessions?kind=tcp&device=" + device)
        .body()
        .path("items")
        .forEach(out::add);
    return out;
  }

  /** Runs {@code call} on a thread of its own (the common pool may be busy or tiny). */
  private static <T> CompletableFuture<T> async(java.util.function.Supplier<T> call) {
    CompletableFuture<T> f = new CompletableFuture<>();
    Thread.ofVirtual()
        .start(
            () -> {
              try {
                f.complete(call.get());
              } catch (Throwable t) {
                f.completeExceptionally(t);
              }
            });
    return f;
  }
}
