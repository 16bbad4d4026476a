package io.edgefleet.e2e.airgap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.airgap.BundleImporter;
import io.edgefleet.agent.airgap.ImportFeature;
import io.edgefleet.agent.artifacts.ArtifactsFeature;
import io.edgefleet.agent.artifacts.BlobCache;
import io.edgefleet.agent.command.AgentCommand;
import io.edgefleet.agent.desiredstate.DesiredStateStore;
import io.edgefleet.agent.runtime.RuntimeRouter;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.agent.runtime.container.ContainerRuntime;
import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.device.desiredstate.Refused;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.LinkProxy;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import io.edgefleet.testkit.oci.OciImages;
import java.io.InputStream;
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
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * A device enrolled and then cut off for good: its app changes on the controller, an operator
 * exports a bundle through the API and carries it to the site. The stopped agent imports it (the
 * command an operator runs), starts with the controller unreachable, and runs the new revision with
 * podman from the imported image. A bundle with one byte changed (in an image, or in the manifest)
 * and an older bundle are refused with messages that say so. When the link returns, the import is
 * in the controller's audit log and in the device's events.
 */
class AirGapIT {
  private static final Duration WAIT = Duration.ofSeconds(120);

  @TempDir Path dir;

  final String app = "ag-" + Long.toString(ThreadLocalRandom.current().nextLong(1L << 40), 36);

  @Test
  void anExportedBundleCarriedToAnOfflineDeviceIsVerifiedImportedRunAndReported() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    OciImages.Built v1 = image("v1", dir.resolve("v1.tar"));
    OciImages.Built v2 = image("v2", dir.resolve("v2.tar"));
    AtomicReference<OciImages.Built> served = new AtomicReference<>(v1);
    AppCatalog catalog =
        new AppCatalog() {
          @Override
          public List<App> apps() {
            String revision = served.get() == v1 ? "v1" : "v2";
            return List.of(new App(app, "embedded", revision, tags -> true));
          }

          @Override
          public Rendered render(App a, Map<String, String> tags, String kubeVersion) {
            OciImages.Built image = served.get();
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
            return new Rendered(
                yaml,
                Fingerprints.sha256(yaml.getBytes(StandardCharsets.UTF_8)),
                DeviceFacts.RUNTIME_CONTAINER,
                List.of(new ArtifactRef(image.archiveDigest(), image.size())));
          }
        };
    ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    List<WorkloadRuntime> runtimes = new ArrayList<>();
    try (TestController controller =
            TestController.start(TestController.config(dir.resolve("controller")), catalog);
        LinkProxy link = LinkProxy.forUrl(controller.url());
        TestAgents agents = new TestAgents(dir);
        AdminClient admin = controller.admin()) {
      for (OciImages.Built image : List.of(v1, v2)) {
        AdminClient.Answer pushed =
            admin.postBytes(
                "/api/v1/artifacts?kind=oci-archive&version=" + (image == v1 ? "1" : "2"),
                Files.readAllBytes(image.archive()),
                "application/octet-stream",
                Map.of("X-Edgefleet-Digest", image.archiveDigest()));
        assertThat(pushed.status()).as(pushed.body().toString()).isEqualTo(201);
      }
      String token = controller.token(Map.of("site", "ship-7"), null, false);
      AgentOptions options =
          agents.options(
              "s1", agents.bootstrap("s1", link.url(), controller.caFingerprint(), token));
      Path state = options.stateDir();
      BlobCache cache = BlobCache.open(state, 0);

      // Online once: enrolled, running v1.
      Agent first = start(agents, options, cache, runtimes, timer, List.of());
      await().atMost(WAIT).until(() -> get(port).equals("200 served by v1\n"));
      String id = first.status().deviceId().orElseThrow();
      long g1 = first.generation();

      // An export made now is older than what the device will hold later.
      Path older = dir.resolve("older.efb");
      assertThat(
              admin.download("/api/v1/exports", Map.of("devices", "site=ship-7"), older).status())
          .isEqualTo(200);

      // The device goes dark for good; the app changes meanwhile.
      first.close();
      link.cut();
      served.set(v2);
      controller.controller().desired().requestAll();
      await().atMost(WAIT).until(() -> controller.controller().desired().generation(id) > g1);
      long g2 = controller.controller().desired().generation(id);

      // Bounds and bad selectors answer with stable codes before a byte is written.
      AdminClient.Answer none =
          admin.download("/api/v1/exports", Map.of("devices", "site=nowhere"), dir.resolve("x"));
      assertThat(none.status()).isEqualTo(422);
      assertThat(none.code()).isEqualTo("EXPORT_NO_DEVICES");

      Path bundle = dir.resolve("ship-7.efb");
      assertThat(
              admin.download("/api/v1/exports", Map.of("devices", "site=ship-7"), bundle).status())
          .isEqualTo(200);
      byte[] good = Files.readAllBytes(bundle);

      // One byte changed in the new image: refused, nothing taken.
      byte[] badBlob = good.clone();
      badBlob[contentOffset(good, "blobs/" + v2.archiveDigest().substring(7)) + 700] ^= 1;
      assertThatThrownBy(() -> importStopped(state, badBlob))
          .isInstanceOf(Refused.class)
          .hasMessageContaining("artifact " + v2.archiveDigest())
          .hasMessageContaining("does not match its digest");
      // One byte changed in the manifest: its signature no longer matches.
      byte[] badManifest = good.clone();
      badManifest[contentOffset(good, "manifest.json") + 5] ^= 1;
      assertThatThrownBy(() -> importStopped(state, badManifest))
          .isInstanceOf(Refused.class)
          .hasMessageContaining("does not match the controller's signature");
      assertThat(cache.find(v2.archiveDigest())).as("the altered image was not kept").isEmpty();

      // The operator's command on the stopped device.
      int code =
          new CommandLine(new AgentCommand())
              .execute("import", "--state", state.toString(), bundle.toString());
      assertThat(code).isZero();
      assertThat(cache.find(v2.archiveDigest())).isPresent();

      // An older bundle after a newer one: a replay, refused.
      assertThatThrownBy(() -> importStopped(state, Files.readAllBytes(older)))
          .isInstanceOf(Refused.class)
          .hasMessageContaining("generation " + g1)
          .hasMessageContaining("already holds generation " + g2);

      // The agent starts with the controller unreachable and runs what it imported.
      Path usb = dir.resolve("usb");
      Files.createDirectories(usb);
      Agent second = start(agents, options, cache, runtimes, timer, List.of(usb));
      await().atMost(WAIT).until(() -> get(port).equals("200 served by v2\n"));
      assertThat(second.generation()).isEqualTo(g2);
      assertThat(second.status().state()).isNotEqualTo(Agent.State.CONNECTED);

      // The link returns: the import is audited and in the device's events.
      link.restore();
      await().atMost(WAIT).until(() -> second.status().state() == Agent.State.CONNECTED);
      await()
          .atMost(WAIT)
          .until(
              () ->
                  admin
                          .get("/api/v1/audit?action=device.import&target=" + id)
                          .body()
                          .path("items")
                          .size()
                      == 1);
      JsonNode audited =
          admin.get("/api/v1/audit?action=device.import").body().path("items").get(0);
      assertThat(audited.path("actor").asText()).isEqualTo("device:" + id);
      assertThat(audited.toString()).contains("generation " + g2);
      assertThat(events(admin, id, "import")).anyMatch(m -> m.contains("generation " + g2));

      // A stick with the older bundle on it, seen by the running agent: refused as a replay.
      Files.copy(older, usb.resolve("older.efb"));
      await()
          .atMost(WAIT)
          .until(
              () ->
                  events(admin, id, "desired-state-replayed").stream()
                      .anyMatch(m -> m.contains("older.efb")));
      assertThat(second.generation()).isEqualTo(g2);
    } finally {
      timer.shutdownNow();
      for (WorkloadRuntime r : runtimes) {
        r.remove(app);
        r.close();
      }
      for (String c :
          podman("ps", "-a", "-q", "--filter", "label=io.edgefleet.app=" + app).lines().toList()) {
        podman("rm", "-f", c);
      }
      for (OciImages.Built image : List.of(v1, v2)) {
        podman("rmi", "-f", "localhost/edgefleet-blob:" + image.archiveDigest().substring(7));
      }
    }
  }

  private OciImages.Built image(String revision, Path file) throws Exception {
    return OciImages.busybox()
        .file("www/index.html", "served by " + revision + "\n", 0644)
        .cmd("/bin/httpd", "-f", "-p", "8080", "-h", "/www")
        .writeArchive(file);
  }

  private Agent start(
      TestAgents agents,
      AgentOptions options,
      BlobCache cache,
      List<WorkloadRuntime> runtimes,
      ScheduledExecutorService timer,
      List<Path> watched) {
    WorkloadRuntime runtime =
        new RuntimeRouter(
            Map.of(
                DeviceFacts.RUNTIME_CONTAINER,
                new ContainerRuntime(ContainerRuntime.Options.defaults(), cache)));
    runtimes.add(runtime);
    return agents.start(
        options,
        Clock.systemUTC(),
        runtime,
        List.of(
            a ->
                ArtifactsFeature.forAgent(
                    a, cache, TestAgents.fastArtifacts(), timer, Clock.systemUTC(), System.out),
            a -> {
              ImportFeature f =
                  new ImportFeature(
                      a,
                      new BundleImporter(
                          new DesiredStateStore(a.stateDir()),
                          cache,
                          BundleImporter.Limits.defaults()),
                      watched,
                      timer,
                      Duration.ofMillis(200),
                      Clock.systemUTC(),
                      System.out);
              f.start();
              return f;
            }));
  }

  /** What {@code edgefleet agent import} does with the agent stopped, with the refusal thrown. */
  private static void importStopped(Path state, byte[] bundle) throws Exception {
    BundleImporter importer =
        new BundleImporter(
            new DesiredStateStore(state),
            BlobCache.open(state, 0),
            BundleImporter.Limits.defaults());
    try (InputStream in = new java.io.ByteArrayInputStream(bundle)) {
      Agent.importStopped(state, importer.from(in, i -> {}), System.out);
    }
  }

  /** Where the content of the tar entry {@code name} starts. */
  private static int contentOffset(byte[] tar, String name) {
    byte[] wanted = name.getBytes(StandardCharsets.US_ASCII);
    for (int at = 0; at + 512 <= tar.length; at += 512) {
      boolean match = tar[at + wanted.length] == 0;
      for (int i = 0; match && i < wanted.length; i++) {
        match = tar[at + i] == wanted[i];
      }
      if (match) {
        return at + 512;
      }
    }
    throw new AssertionError("no entry " + name);
  }

  private static List<String> events(AdminClient admin, String device, String kind) {
    List<String> out = new ArrayList<>();
    for (JsonNode e : admin.get("/api/v1/devices/" + device + "/events").body().path("items")) {
      if (e.path("kind").asText().equals(kind)) {
        out.add(e.path("message").asText());
      }
    }
    return out;
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

  private static String podman(String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add("podman");
    cmd.addAll(List.of(args));
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      p.waitFor();
      return out;
    } catch (Exception e) {
      return "";
    }
  }
}
