package io.edgefleet.e2e.runtimes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.artifacts.ArtifactsFeature;
import io.edgefleet.agent.artifacts.BlobCache;
import io.edgefleet.agent.runtime.RuntimeRouter;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.agent.runtime.container.ContainerRuntime;
import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import io.edgefleet.testkit.oci.OciImages;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Container app from a real controller to a real agent: the controller holds the image archive as
 * an artifact and sends the app (rendered as the catalog seam gives it: runtime {@code container}
 * and the image in its artifacts); the agent reports that it runs containers, downloads the image
 * over its own connection, runs it with podman, and reports it ready; a killed container is started
 * again by the agent on its own.
 */
class ContainerAppIT {
  private static final Duration WAIT = Duration.ofSeconds(120);

  @TempDir Path dir;

  final String app = "ct-" + Long.toString(ThreadLocalRandom.current().nextLong(1L << 40), 36);

  @Test
  void theControllerDeliversAContainerAppThatTheAgentRunsAndKeepsRunning() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    OciImages.Built image =
        OciImages.busybox()
            .file("www/index.html", "served by " + app + "\n", 0644)
            .cmd("/bin/httpd", "-f", "-p", "8080", "-h", "/www")
            .writeArchive(dir.resolve("image.tar"));
    ArtifactRef ref = new ArtifactRef(image.archiveDigest(), image.size());
    String yaml =
        """
        apiVersion: edgefleet.io/v1
        kind: Container
        metadata: {name: web}
        spec:
          image: %s
          ports: [{host: %d, container: 8080, hostIp: 127.0.0.1}]
          healthCheck: {http: {port: 8080, path: /index.html}, interval: 1s}
        """
            .formatted(image.archiveDigest(), port);
    AppCatalog catalog =
        new AppCatalog() {
          @Override
          public List<App> apps() {
            return List.of(new App(app, "embedded", "v1", tags -> true));
          }

          @Override
          public Rendered render(App a, Map<String, String> tags, String kubeVersion) {
            return new Rendered(
                yaml,
                Fingerprints.sha256(yaml.getBytes(StandardCharsets.UTF_8)),
                DeviceFacts.RUNTIME_CONTAINER,
                List.of(ref));
          }
        };
    ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    WorkloadRuntime runtime = null;
    try (TestController controller =
            TestController.start(TestController.config(dir.resolve("controller")), catalog);
        TestAgents agents = new TestAgents(dir);
        AdminClient admin = controller.admin()) {
      AdminClient.Answer pushed =
          admin.postBytes(
              "/api/v1/artifacts?kind=oci-archive&version=1",
              Files.readAllBytes(image.archive()),
              "application/octet-stream",
              Map.of("X-Edgefleet-Digest", image.archiveDigest()));
      assertThat(pushed.status()).as(pushed.body().toString()).isEqualTo(201);

      String token = controller.token(Map.of("site", "s1"), null, false);
      AgentOptions options =
          agents.options(
              "c1", agents.bootstrap("c1", controller.url(), controller.caFingerprint(), token));
      BlobCache cache = BlobCache.open(options.stateDir(), 0);
      runtime =
          new RuntimeRouter(
              Map.of(
                  DeviceFacts.RUNTIME_CONTAINER,
                  new ContainerRuntime(ContainerRuntime.Options.defaults(), cache)));
      Agent agent =
          agents.start(
              options,
              Clock.systemUTC(),
              runtime,
              List.of(
                  a ->
                      ArtifactsFeature.forAgent(
                          a,
                          cache,
                          TestAgents.fastArtifacts(),
                          timer,
                          Clock.systemUTC(),
                          System.out)));
      await().atMost(WAIT).until(() -> agent.status().state() == Agent.State.CONNECTED);
      String id = agent.status().deviceId().orElseThrow();

      // The device said at enrollment which kinds of app it runs.
      JsonNode device = admin.get("/api/v1/devices/" + id).body();
      assertThat(device.path("facts").path("runtimes"))
          .extracting(JsonNode::asText)
          .containsExactly(DeviceFacts.RUNTIME_CONTAINER);

      // Downloaded, loaded, run, checked and reported ready.
      await().atMost(WAIT).until(() -> get(port).equals("200 served by " + app + "\n"));
      await().atMost(WAIT).until(() -> "READY".equals(state(admin, id)));

      // Killed behind the agent's back: its next pass starts it again.
      String started = podman("inspect", "--format", "{{.State.StartedAt}}", app + "_web");
      podman("kill", app + "_web");
      // Podman itself never restarts it (the agent runs it with --restart no).
      await()
          .atMost(WAIT)
          .until(
              () -> {
                String now =
                    podman(
                        "inspect",
                        "--format",
                        "{{.State.Status}} {{.State.StartedAt}}",
                        app + "_web");
                return now.startsWith("running ") && !now.equals("running " + started);
              });
      await().atMost(WAIT).until(() -> get(port).startsWith("200 "));
      await().atMost(WAIT).until(() -> "READY".equals(state(admin, id)));
    } finally {
      timer.shutdownNow();
      if (runtime != null) {
        runtime.remove(app);
        runtime.close();
      }
      for (String c :
          podman("ps", "-a", "-q", "--filter", "label=io.edgefleet.app=" + app).lines().toList()) {
        podman("rm", "-f", c);
      }
      podman("rmi", "-f", "localhost/edgefleet-blob:" + image.archiveDigest().substring(7));
    }
  }

  private String state(AdminClient admin, String device) {
    for (JsonNode d : admin.get("/api/v1/apps/" + app + "/status").body().path("devices")) {
      if (d.path("deviceId").asText().equals(device)) {
        return d.path("state").asText();
      }
    }
    return "";
  }

  private static String get(int port) {
    try {
      HttpResponse<String> r =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/index.html"))
                      .timeout(Duration.ofSeconds(5))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
      return r.statusCode() + " " + r.body();
    } catch (Exception e) {
      return e.toString();
    }
  }

  private static String podman(String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of("podman"));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    return out;
  }
}
