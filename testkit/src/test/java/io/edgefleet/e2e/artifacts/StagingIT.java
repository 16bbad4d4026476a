package io.edgefleet.e2e.artifacts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.controller.rollouts.RolloutEngine;
import io.edgefleet.controller.rollouts.RolloutPolicy;
import io.edgefleet.e2e.telemetry.DeviceSocket;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.DeviceHttp;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * "Download early, switch in the window" through a real controller: a download policy set over the
 * REST API reaches the device's signed desired state; a rollout of a container app holds the device
 * back and tells it to stage the app's image; the device's artifact reports over its real
 * mutual-TLS socket are stored and shown by the device view, apps status and rollout status; and
 * the device is released once it reports the image held.
 *
 * <p>No renderer produces container apps here, so the app comes from the catalog seam the desired
 * state is computed from: an app whose rendered bundle names one image, with the image's size.
 */
class StagingIT {
  static final String APP = "kiosk";
  static final ArtifactRef IMAGE =
      new ArtifactRef(
          Fingerprints.sha256("kiosk image".getBytes(StandardCharsets.UTF_8)), 30L << 20);

  @TempDir Path dir;

  /** The app's revision: v1 uses no artifacts, v2 runs a container of {@link #IMAGE}. */
  final java.util.concurrent.atomic.AtomicReference<String> revision =
      new java.util.concurrent.atomic.AtomicReference<>("v1");

  final AppCatalog kiosk =
      new AppCatalog() {
        @Override
        public List<App> apps() {
          return List.of(new App(APP, "embedded", revision.get(), tags -> true, true));
        }

        @Override
        public Rendered render(App app, Map<String, String> tags, String kubeVersion) {
          if (app.revision().equals("v1")) {
            String yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kiosk}\n";
            return new Rendered(yaml, Fingerprints.sha256(yaml.getBytes(StandardCharsets.UTF_8)));
          }
          String yaml =
              "apiVersion: edgefleet.io/v1\nkind: Container\nmetadata: {name: kiosk}\n"
                  + "spec: {image: \""
                  + IMAGE.digest()
                  + "\"}\n";
          return new Rendered(
              yaml,
              Fingerprints.sha256(yaml.getBytes(StandardCharsets.UTF_8)),
              DeviceFacts.RUNTIME_CONTAINER,
              List.of(IMAGE));
        }
      };

  @Test
  void aDeviceStagesTheImageItsReportIsShownAndItIsReleasedOnceItHoldsIt() throws Exception {
    try (TestController controller =
            TestController.start(TestController.config(dir.resolve("controller")), kiosk);
        TestAgents agents = new TestAgents(dir);
        AdminClient admin = controller.admin()) {
      String token = controller.token(Map.of("link", "satellite"), null, false);
      AgentOptions options =
          agents.options(
              "a1", agents.bootstrap("t", controller.url(), controller.caFingerprint(), token));
      Agent agent = agents.start(options);
      await()
          .atMost(DeviceSocket.patience())
          .until(() -> agent.status().state() == Agent.State.CONNECTED);
      String id = agent.status().deviceId().orElseThrow();
      agent.close();

      try (DeviceSocket device = new DeviceSocket(controller.url(), options.stateDir());
          DeviceHttp http = new DeviceHttp(controller.url(), options.stateDir())) {
        // The device runs Kubernetes and containers (v1 is a ConfigMap, v2 a container).
        device.send(
            new AgentMessage.Hello(
                "test",
                1,
                null,
                List.of(),
                List.of(DeviceFacts.RUNTIME_KUBERNETES, DeviceFacts.RUNTIME_CONTAINER)));
        await()
            .atMost(DeviceSocket.patience())
            .until(() -> !device.received(ControllerMessage.Welcome.class).isEmpty());

        // A download policy for the device's link, through the API.
        AdminClient.Answer put =
            admin.put(
                "/api/v1/download-policies/satellite",
                Map.of(
                    "selector",
                    "link=satellite",
                    "bytesPerDay",
                    200L << 20,
                    "windows",
                    List.of("22:00-06:00"),
                    "zone",
                    "Europe/Berlin",
                    "priority",
                    10));
        assertThat(put.status()).isEqualTo(201);
        AdminClient.Answer bad =
            admin.put(
                "/api/v1/download-policies/broken",
                Map.of("selector", "*", "windows", List.of("22-06")));
        assertThat(bad.status()).isEqualTo(422);
        assertThat(bad.code()).isEqualTo("DOWNLOAD_POLICY_INVALID");
        assertThat(bad.body().path("message").asText()).contains("windows[0]");
        await().atMost(DeviceSocket.patience()).until(() -> document(http).downloads() != null);
        assertThat(document(http).downloads())
            .isEqualTo(
                new DesiredState.DownloadPolicy(
                    200L << 20, List.of("22:00-06:00"), "Europe/Berlin"));

        // v1 uses no artifacts: nothing is staged and the device is released as it always was.
        String first = start(controller, "v1");
        await().atMost(DeviceSocket.patience()).until(() -> document(http).apps().size() == 1);
        assertThat(document(http).stage()).isEmpty();
        // Reported again while waiting, as an agent does on each reconcile pass.
        long v1 = document(http).generation();
        await()
            .atMost(DeviceSocket.patience())
            .pollInterval(Duration.ofMillis(500))
            .until(
                () -> {
                  device.send(
                      new AgentMessage.AppReport(
                          v1, List.of(new AppState(APP, "v1", AppState.Phase.READY, null))));
                  return rolloutState(admin, first).equals("SUCCEEDED");
                });

        // v2 runs a container: the device keeps v1 and is told to stage the image first.
        String rollout = start(controller, "v2");
        await()
            .atMost(DeviceSocket.patience())
            .until(() -> document(http).stage().equals(List.of(IMAGE)));
        assertThat(document(http).apps().getFirst().revision()).isEqualTo("v1");
        await()
            .atMost(DeviceSocket.patience())
            .until(() -> deviceState(admin, rollout).equals("STAGING"));

        // The device fetches a third of it, and waits for its window.
        device.send(
            new AgentMessage.ArtifactReport(
                List.of(),
                List.of(new AgentMessage.ArtifactProgress(IMAGE.digest(), IMAGE.size(), 10L << 20)),
                "outside the download windows (22:00-06:00 Europe/Berlin)"));
        String progress =
            "staging 10 MiB of 30 MiB (0 of 1 artifacts held): outside the download windows"
                + " (22:00-06:00 Europe/Berlin)";
        await()
            .atMost(DeviceSocket.patience())
            .until(() -> deviceReason(admin, rollout).equals(progress));
        JsonNode artifacts = admin.get("/api/v1/devices/" + id + "/artifacts").body();
        assertThat(artifacts.path("policy").asText()).isEqualTo("satellite");
        assertThat(artifacts.path("waiting").asText()).startsWith("outside the download windows");
        assertThat(artifacts.path("fetching").path(0).path("bytes").asLong())
            .as(artifacts.toPrettyString())
            .isEqualTo(10L << 20);
        assertThat(artifacts.path("staging").get(0).path("status").asText()).isEqualTo(progress);
        JsonNode status = admin.get("/api/v1/apps/" + APP + "/status").body();
        assertThat(status.path("devices").get(0).path("staging").asText())
            .isEqualTo("v2 " + progress);
        assertThat(
                admin
                    .get("/api/v1/rollouts/" + rollout)
                    .body()
                    .path("counts")
                    .path("staging")
                    .asInt())
            .isEqualTo(1);

        // Once it holds the image, the rollout releases it: the app with its image, nothing staged.
        device.send(new AgentMessage.ArtifactReport(List.of(IMAGE.digest()), List.of(), null));
        await()
            .atMost(DeviceSocket.patience())
            .until(() -> document(http).apps().getFirst().revision().equals("v2"));
        DesiredState released = document(http);
        assertThat(released.stage()).isEmpty();
        assertThat(released.apps().getFirst().artifacts()).containsExactly(IMAGE);
        assertThat(released.apps().getFirst().runtime()).isEqualTo(DeviceFacts.RUNTIME_CONTAINER);
        assertThat(admin.get("/api/v1/devices/" + id + "/artifacts").body().path("held"))
            .extracting(JsonNode::asText)
            .containsExactly(IMAGE.digest());

        await()
            .atMost(DeviceSocket.patience())
            .pollInterval(Duration.ofMillis(500))
            .until(
                () -> {
                  device.send(
                      new AgentMessage.AppReport(
                          released.generation(),
                          List.of(new AppState(APP, "v2", AppState.Phase.READY, null))));
                  return rolloutState(admin, rollout).equals("SUCCEEDED");
                });
      }
    }
  }

  /** Moves the app to {@code rev} and starts its rollout, as a new version of its source would. */
  private String start(TestController controller, String rev) {
    revision.set(rev);
    RolloutEngine rollouts = controller.controller().rollouts();
    String id =
        rollouts.transaction(
            h ->
                rollouts.start(
                    h,
                    new RolloutEngine.Start(
                        "embedded/" + APP,
                        APP,
                        "embedded",
                        Optional.empty(),
                        rev,
                        RolloutPolicy.parse(""),
                        tags -> true,
                        "test")));
    controller.controller().desired().requestAll();
    return id;
  }

  private static String rolloutState(AdminClient admin, String rollout) {
    return admin.get("/api/v1/rollouts/" + rollout).body().path("state").asText();
  }

  private static DesiredState document(DeviceHttp http) throws Exception {
    DeviceHttp.Answer a = http.get(DeviceApi.DESIRED + "?known=0");
    assertThat(a.status()).isEqualTo(200);
    return Json.mapper()
        .readValue(
            Base64.getDecoder().decode(a.body().path("payload").asText()), DesiredState.class);
  }

  private static JsonNode member(AdminClient admin, String rollout) {
    return admin.get("/api/v1/rollouts/" + rollout).body().path("devices").get(0);
  }

  private static String deviceState(AdminClient admin, String rollout) {
    JsonNode m = member(admin, rollout);
    return m == null ? "" : m.path("state").asText();
  }

  private static String deviceReason(AdminClient admin, String rollout) {
    JsonNode m = member(admin, rollout);
    return m == null ? "" : m.path("reason").asText();
  }
}
