package io.edgefleet.e2e.artifacts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.e2e.telemetry.DeviceSocket;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.DeviceHttp;
import io.edgefleet.testkit.GitRepo;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import io.edgefleet.testkit.oci.OciImages;
import io.edgefleet.testkit.oci.Registry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Container apps from a Git source, through a real controller over HTTPS: the image named by
 * registry reference is mirrored from a real registry ({@code docker-registry}) and the device
 * reporting a container runtime gets the app with the reference rewritten to the mirrored archive's
 * blob digest and that blob in its artifacts; a device reporting only Kubernetes does not get it
 * and the app's status says why; an image digest the controller does not hold is a clear error
 * until it is pushed through the API.
 */
class WorkloadAppsIT {
  static final Duration PATIENCE = Duration.ofSeconds(20);

  @TempDir Path dir;

  @Test
  void containerAppsReachOnlyDevicesThatCanRunThemWithTheirImagesResolved() throws Exception {
    byte[] lostImage = "an image archive pushed later".getBytes(StandardCharsets.UTF_8);
    String lost = Fingerprints.sha256(lostImage);
    Path data = dir.resolve("controller");
    try (Registry registry = Registry.start(dir.resolve("registry"));
        TestController controller = TestController.start(data);
        TestAgents agents = new TestAgents(dir);
        AdminClient admin = controller.admin();
        GitRepo repo = GitRepo.init(dir.resolve("repo"))) {
      Files.writeString(
          data.resolve("registries.yaml"),
          "registries:\n  - host: " + registry.host() + "\n    insecure: true\n");

      // A real image in a real registry, mirrored into the controller by its digest.
      OciImages.Built image =
          OciImages.busybox()
              .file("etc/greeting", "hello from the kiosk\n", 0644)
              .cmd("/bin/cat", "/etc/greeting")
              .writeArchive(dir.resolve("kiosk.tar"));
      String manifest = registry.push(image.archive(), "apps/kiosk:1.0");
      String reference = registry.host() + "/apps/kiosk@" + manifest;
      AdminClient.Answer mirrored =
          admin.post("/api/v1/artifacts/mirror", Map.of("reference", reference));
      assertThat(mirrored.status()).as(mirrored.body().toString()).isEqualTo(201);
      ArtifactRef blob =
          new ArtifactRef(
              mirrored.body().path("artifact").path("digest").asText(),
              mirrored.body().path("artifact").path("size").asLong());

      // Two devices: one with a container engine, one with Kubernetes only.
      Enrolled box = enroll(agents, controller, "box");
      Enrolled kube = enroll(agents, controller, "kube");
      reportRuntimes(controller, box.options(), List.of(DeviceFacts.RUNTIME_CONTAINER));
      reportRuntimes(controller, kube.options(), List.of(DeviceFacts.RUNTIME_KUBERNETES));

      repo.write("apps/kiosk/kiosk.yaml", container("kiosk", reference))
          .write("apps/lost/lost.yaml", container("lost", lost))
          .write("apps/notes/notes.yaml", GitRepo.configMap("notes", "text", "one"))
          .commit("a kiosk, an app whose image is not pushed yet, and notes");
      AdminClient.Answer added =
          admin.post(
              "/api/v1/repos",
              Map.of("name", "fleet", "url", repo.url(), "target", "site=s1", "interval", "1h"));
      assertThat(added.status()).as(added.body().toString()).isEqualTo(201);

      try (DeviceHttp boxHttp = new DeviceHttp(controller.url(), box.options().stateDir());
          DeviceHttp kubeHttp = new DeviceHttp(controller.url(), kube.options().stateDir())) {
        // The container device gets the kiosk with the mirrored archive in place of the reference.
        await().atMost(PATIENCE).until(() -> app(boxHttp, "kiosk").isPresent());
        DesiredState.DesiredApp kiosk = app(boxHttp, "kiosk").orElseThrow();
        assertThat(kiosk.runtime()).isEqualTo(DeviceFacts.RUNTIME_CONTAINER);
        assertThat(kiosk.artifacts()).containsExactly(blob);
        String bundle = bundle(boxHttp, kiosk.bundle());
        assertThat(bundle).contains(blob.digest()).doesNotContain(reference).doesNotContain("@");
        assertThat(Fingerprints.sha256(bundle.getBytes(StandardCharsets.UTF_8)))
            .isEqualTo(kiosk.bundle());
        // Kubernetes objects are not given to it: it reports no Kubernetes.
        assertThat(app(boxHttp, "notes")).isEmpty();

        // The Kubernetes-only device gets the notes, never the kiosk; the status says why.
        await().atMost(PATIENCE).until(() -> app(kubeHttp, "notes").isPresent());
        assertThat(app(kubeHttp, "kiosk")).isEmpty();
        JsonNode onKube = device(admin, "kiosk", kube.id());
        assertThat(onKube.path("state").asText()).isEqualTo("NOT_PLACED");
        assertThat(onKube.path("reason").asText())
            .isEqualTo("not placed: this device has no container runtime (it reports: kubernetes)");
        JsonNode summary = summary(admin, "kiosk");
        assertThat(summary.path("notPlaced").asInt()).isEqualTo(1);
        assertThat(summary.path("failed").asInt()).isZero();

        // An image digest the controller does not hold: a clear error, nothing sent.
        assertThat(app(boxHttp, "lost")).isEmpty();
        JsonNode lostOnBox = device(admin, "lost", box.id());
        assertThat(lostOnBox.path("state").asText()).isEqualTo("FAILED");
        assertThat(lostOnBox.path("reason").asText())
            .contains("cannot be rendered for this device")
            .contains(lost)
            .contains("is not in the controller's artifact store")
            .contains("edgefleet artifacts push");

        // Pushed through the API, it resolves: the device gets the app, without another commit.
        AdminClient.Answer pushed =
            admin.postBytes(
                "/api/v1/artifacts?kind=oci-archive&version=1.0&name=lost.tar",
                lostImage,
                "application/octet-stream",
                Map.of("X-Edgefleet-Digest", lost));
        assertThat(pushed.status()).as(pushed.body().toString()).isEqualTo(201);
        await().atMost(PATIENCE).until(() -> app(boxHttp, "lost").isPresent());
        assertThat(app(boxHttp, "lost").orElseThrow().artifacts())
            .containsExactly(new ArtifactRef(lost, lostImage.length));
        assertThat(device(admin, "lost", kube.id()).path("state").asText()).isEqualTo("NOT_PLACED");

        // The Kubernetes node gains podman: its next hello says so, and the kiosk is placed.
        reportRuntimes(
            controller,
            kube.options(),
            List.of(DeviceFacts.RUNTIME_KUBERNETES, DeviceFacts.RUNTIME_CONTAINER));
        await().atMost(PATIENCE).until(() -> app(kubeHttp, "kiosk").isPresent());
        assertThat(app(kubeHttp, "notes")).isPresent();
        assertThat(device(admin, "kiosk", kube.id()).path("state").asText())
            .isNotEqualTo("NOT_PLACED");
      }
    }
  }

  /**
   * Says, as the device's agent does in its hello on each connect, which workload runtimes its node
   * runs now; the controller keeps them in its facts before it welcomes the device.
   */
  static void reportRuntimes(TestController controller, AgentOptions options, List<String> runtimes)
      throws Exception {
    try (DeviceSocket socket = new DeviceSocket(controller.url(), options.stateDir())) {
      socket.send(new AgentMessage.Hello("test", 1, null, List.of(), runtimes));
      await()
          .atMost(PATIENCE)
          .until(() -> !socket.received(ControllerMessage.Welcome.class).isEmpty());
    }
  }

  record Enrolled(String id, AgentOptions options) {}

  /** Enrolls a device with tag site=s1 through a real agent, then stops the agent. */
  private static Enrolled enroll(TestAgents agents, TestController controller, String name)
      throws Exception {
    String token = controller.token(Map.of("site", "s1"), null, false);
    AgentOptions options =
        agents.options(
            name, agents.bootstrap(name, controller.url(), controller.caFingerprint(), token));
    Agent agent = agents.start(options);
    await().atMost(PATIENCE).until(() -> agent.status().state() == Agent.State.CONNECTED);
    String id = agent.status().deviceId().orElseThrow();
    agent.close();
    return new Enrolled(id, options);
  }

  private static String container(String name, String image) {
    return "apiVersion: edgefleet.io/v1\nkind: Container\nmetadata:\n  name: "
        + name
        + "\nspec:\n  image: "
        + image
        + "\n  command: [/bin/cat, /etc/greeting]\n  restart: on-failure\n";
  }

  private static Optional<DesiredState.DesiredApp> app(DeviceHttp http, String name)
      throws Exception {
    DeviceHttp.Answer a = http.get(DeviceApi.DESIRED + "?known=0");
    if (a.status() != 200) {
      return Optional.empty();
    }
    DesiredState doc =
        Json.mapper()
            .readValue(
                Base64.getDecoder().decode(a.body().path("payload").asText()), DesiredState.class);
    return doc.apps().stream().filter(x -> x.name().equals(name)).findFirst();
  }

  private static String bundle(DeviceHttp http, String digest) {
    DeviceHttp.Bytes b = http.getBytes(DeviceApi.BUNDLES + digest, Map.of());
    assertThat(b.status()).isEqualTo(200);
    return new String(b.body(), StandardCharsets.UTF_8);
  }

  private static JsonNode device(AdminClient admin, String app, String deviceId) {
    for (JsonNode d : admin.get("/api/v1/apps/" + app + "/status").body().path("devices")) {
      if (d.path("deviceId").asText().equals(deviceId)) {
        return d;
      }
    }
    throw new AssertionError("no status of " + app + " on " + deviceId);
  }

  private static JsonNode summary(AdminClient admin, String app) {
    for (JsonNode a : admin.get("/api/v1/apps").body().path("items")) {
      if (a.path("app").asText().equals(app)) {
        return a;
      }
    }
    throw new AssertionError("no summary of " + app);
  }
}
