package io.edgefleet.simulator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.Json;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestController;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 200 simulated devices against a real in-process controller: they enroll, come online, apply a
 * catalog deployment (about 10 % FAILED by choice), survive a simulator restart without enrolling
 * again, and come back after a controller restart.
 */
class SimulatorIT {
  private static final int N = 200;

  @TempDir Path dir;

  @Test
  void fleetEnrollsAppliesAndSurvivesRestarts() throws Exception {
    Path data = dir.resolve("controller");
    ControllerConfig config = TestController.config(data);
    TestController controller = TestController.start(config);
    int port = URI.create(controller.url()).getPort();
    Path bootstrap = dir.resolve("bootstrap.json");
    Files.writeString(
        bootstrap,
        Json.write(
            Bootstrap.of(
                controller.url(),
                controller.caFingerprint(),
                controller.token(Map.of("fleet", "sim"), null, false))));
    Path state = dir.resolve("sim-state");
    Simulator.Options options =
        Simulator.Options.of(bootstrap, N, state)
            .withApplyFailRate(0.1)
            .withMaxBackoff(Duration.ofSeconds(3));

    Simulator sim = Simulator.start(options, System.out);
    try {
      await().atMost(Duration.ofSeconds(40)).until(() -> sim.connected() == N);
      assertThat(sim.enrollments()).isEqualTo(N);
      AdminClient admin = controller.admin();
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> admin.get("/api/v1/fleet/summary").body().path("online").asInt() == N);

      pushAndDeploy(admin);
      await().atMost(Duration.ofSeconds(30)).until(() -> applied(sim) == N);
      long failed = count(sim, "appFailed");
      // 10 % of 200 is 20; a binomial spread of ±4.2 makes 5..40 a safe "roughly".
      assertThat(failed).isBetween(5L, 40L);
      assertThat(count(sim, "appReady")).isEqualTo(N - failed);
      // The deployment's document and its small bundle travel with each device's nudge.
      assertThat(sim.snapshot().get("inlineBundles")).isEqualTo((long) N);
      assertThat(sim.snapshot().get("bundleFetches")).isEqualTo(0L);
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () ->
                  assertThat(admin.get("/api/v1/apps/simapp/status").body().path("devices").size())
                      .isEqualTo(N));
    } finally {
      sim.close();
    }
    assertThat(sim.snapshot().get("gaveUp")).isEqualTo(0L);

    // A restarted simulator is the same fleet: no enrollment, same device count.
    Simulator again = Simulator.start(options, System.out);
    try {
      await().atMost(Duration.ofSeconds(30)).until(() -> again.connected() == N);
      assertThat(again.enrollments()).isZero();
      assertThat(controller.admin().get("/api/v1/fleet/summary").body().path("total").asInt())
          .isEqualTo(N);
      await().atMost(Duration.ofSeconds(20)).until(() -> applied(again) == N);

      // The controller restarts on the same port and data: every device comes back.
      controller.close();
      await().atMost(Duration.ofSeconds(10)).until(() -> again.connected() == 0);
      controller = TestController.start(config.withListen("127.0.0.1", port));
      TestController restarted = controller;
      // A device whose handshake hung in the restart gives it up after 30 s and comes back.
      await()
          .atMost(Duration.ofSeconds(60))
          .untilAsserted(
              () -> assertThat(again.connected()).as("%s", again.snapshot()).isEqualTo(N));
      assertThat((long) again.snapshot().get("reconnects")).isGreaterThanOrEqualTo(N);
      await()
          .atMost(Duration.ofSeconds(15))
          .untilAsserted(
              () ->
                  assertThat(restarted.admin().get("/api/v1/fleet/summary").body().toString())
                      // Devices with a FAILED app are DEGRADED: operational, not offline.
                      .contains("\"offline\":0,")
                      .contains("\"operational\":" + N + ","));
      assertThat(again.snapshot().get("gaveUp")).isEqualTo(0L);
    } finally {
      again.close();
      controller.close();
    }
  }

  /**
   * Every device's first enrollment answer is lost after the controller committed it: each asks
   * again with the same key and gets the same device, with a token that enrolls at most 50.
   */
  @Test
  void anEnrollmentWhoseAnswerWasLostIsAskedAgainAndMakesNoSecondDevice() throws Exception {
    int n = 50;
    try (TestController controller =
        TestController.start(TestController.config(dir.resolve("c")))) {
      Path bootstrap = dir.resolve("bootstrap.json");
      AdminClient admin = controller.admin();
      Files.writeString(
          bootstrap,
          Json.write(
              Bootstrap.of(
                  controller.url(),
                  controller.caFingerprint(),
                  controller.token(Map.of("fleet", "sim"), n, false))));
      Simulator sim =
          Simulator.start(
              Simulator.Options.of(bootstrap, n, dir.resolve("sim"))
                  .withLostEnrollmentAnswers(1.0)
                  .withMaxBackoff(Duration.ofSeconds(2)),
              System.out);
      try {
        await().atMost(Duration.ofSeconds(60)).until(() -> sim.connected() == n);
        assertThat(sim.lostEnrollmentAnswers()).isEqualTo(n);
        assertThat(admin.get("/api/v1/devices?limit=500").body().path("items").size()).isEqualTo(n);
      } finally {
        sim.close();
      }
    }
  }

  @Test
  void aRotatedSigningKeyReachesTheWholeFleetAndTheOldKeyCanBeRetired() throws Exception {
    int n = 50;
    TestController controller = TestController.start(TestController.config(dir.resolve("c")));
    Path bootstrap = dir.resolve("bootstrap.json");
    Files.writeString(
        bootstrap,
        Json.write(
            Bootstrap.of(
                controller.url(),
                controller.caFingerprint(),
                controller.token(Map.of("fleet", "sim"), null, false))));
    Simulator sim =
        Simulator.start(
            Simulator.Options.of(bootstrap, n, dir.resolve("sim-state"))
                .withMaxBackoff(Duration.ofSeconds(3)),
            System.out);
    AdminClient admin = controller.admin();
    try {
      await().atMost(Duration.ofSeconds(40)).until(() -> generations(sim, "1") == n);
      String k0 = signingKey(admin, "CURRENT").path("id").asText();
      String k1 = admin.post("/api/v1/signing-keys/rotate", Map.of()).body().path("id").asText();
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> signingKey(admin, k1).path("devicesTrusting").asInt() == n);
      assertThat(admin.post("/api/v1/signing-keys/rotate", Map.of("finish", true)).status())
          .isEqualTo(200);
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  signingKey(admin, k1).path("devicesSigned").asInt() == n
                      && signingKey(admin, k0).path("devicesTrusting").asInt() == 0);
      assertThat(admin.post("/api/v1/signing-keys/" + k0 + "/retire", Map.of()).status())
          .isEqualTo(200);
      await().atMost(Duration.ofSeconds(20)).until(() -> generations(sim, "3") == n);
      assertThat(sim.snapshot().get("refusedDocuments")).isEqualTo(0L);
    } finally {
      sim.close();
      controller.close();
    }
  }

  @Test
  void simulatedDevicesSendTheirSummariesInTheCompactForm() throws Exception {
    int n = 20;
    TestController controller =
        TestController.start(
            TestController.config(dir.resolve("t")).withTelemetryInterval(Duration.ofSeconds(1)));
    Path bootstrap = dir.resolve("bootstrap-t.json");
    Files.writeString(
        bootstrap,
        Json.write(
            Bootstrap.of(
                controller.url(),
                controller.caFingerprint(),
                controller.token(Map.of("fleet", "sim"), null, false))));
    Simulator sim =
        Simulator.start(Simulator.Options.of(bootstrap, n, dir.resolve("sim-t")), System.out);
    try {
      var ingest = controller.controller().telemetry();
      await().atMost(Duration.ofSeconds(60)).until(() -> ingest.records() >= 5L * n);
      Map<String, Object> stats = sim.snapshot();
      assertThat(stats.get("telemetryCompactBatches")).isEqualTo(stats.get("telemetryBatches"));
      assertThat(ingest.refused()).isZero();
      assertThat(ingest.refusedMessages()).isZero();
      assertThat(ingest.latestAll()).hasSize(n);
      assertThat(ingest.latestAll().values()).allSatisfy(m -> assertThat(m.metrics()).hasSize(14));
      // Names travel with the first frames of a connection only: what a batch costs on average
      // is far below its first frame (about 330 B for these 14 names and values).
      long perBatch =
          (long) stats.get("telemetryPayloadBytes") / (long) stats.get("telemetryBatches");
      assertThat(perBatch).isLessThan(250);
    } finally {
      sim.close();
      controller.close();
    }
  }

  @Test
  void chartsRenderForTheKubernetesVersionEachSimulatedClusterReports() throws Exception {
    int n = 6;
    TestController controller = TestController.start(TestController.config(dir.resolve("k")));
    Path bootstrap = dir.resolve("bootstrap-k.json");
    Files.writeString(
        bootstrap,
        Json.write(
            Bootstrap.of(
                controller.url(),
                controller.caFingerprint(),
                controller.token(Map.of("fleet", "sim"), null, false))));
    Simulator sim =
        Simulator.start(
            Simulator.Options.of(bootstrap, n, dir.resolve("sim-k"))
                .withKubernetesVersions(List.of("v1.28.3", "v1.21.3", "none")),
            System.out);
    AdminClient admin = controller.admin();
    try {
      await().atMost(Duration.ofSeconds(40)).until(() -> sim.connected() == n);
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () -> kubernetesVersions(admin).equals(Map.of("v1.28.3", 2L, "v1.21.3", 2L, "", 2L)));

      // Helm's default (v1.20.0) is below the chart's constraint: the push is still taken.
      pushChart(admin, "alerts", "kubeVersion: \">=1.25.0-0\"\n");
      // The preflight sees which clusters are too old before anything starts.
      Map<String, Object> deploy =
          Map.of("app", "alerts", "version", "1.0.0", "target", "fleet=sim");
      AdminClient.Answer refused = admin.post("/api/v1/deployments", deploy);
      assertThat(refused.status()).as(refused.body().toString()).isEqualTo(422);
      assertThat(refused.body().path("message").asText())
          .contains("4 of 6 targeted device(s) cannot run alerts@1.0.0")
          .contains("this device's cluster runs v1.21.3")
          .contains("reports no Kubernetes version");
      com.fasterxml.jackson.databind.JsonNode plan =
          admin.post("/api/v1/deployments?dryRun=true", deploy).body();
      assertThat(plan.path("changes").path("INSTALL").asInt()).isEqualTo(2);
      assertThat(plan.path("changes").path("FAILS").asInt()).isEqualTo(4);
      // One render per distinct Kubernetes version: v1.28.3, v1.21.3 and none.
      assertThat(plan.path("configurations").asInt()).isEqualTo(3);

      Map<String, Object> forced = new java.util.HashMap<>(deploy);
      forced.put("force", true);
      AdminClient.Answer deployed = admin.post("/api/v1/deployments", forced);
      assertThat(deployed.status()).as(deployed.body().toString()).isEqualTo(201);

      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () ->
                  assertThat(reasons(admin, "alerts"))
                      .containsExactlyInAnyOrder(
                          "READY",
                          "READY",
                          "FAILED: chart alerts requires Kubernetes >=1.25.0-0; this device's"
                              + " cluster runs v1.21.3: upgrade the cluster or deploy an older"
                              + " chart version",
                          "FAILED: chart alerts requires Kubernetes >=1.25.0-0; this device's"
                              + " cluster runs v1.21.3: upgrade the cluster or deploy an older"
                              + " chart version",
                          "FAILED: chart alerts requires Kubernetes >=1.25.0-0; this device"
                              + " reports no Kubernetes version, so it is rendered for Helm's"
                              + " default v1.20.0: run the agent with its Kubernetes runtime so it"
                              + " reports its cluster's version, or deploy an older chart"
                              + " version",
                          "FAILED: chart alerts requires Kubernetes >=1.25.0-0; this device"
                              + " reports no Kubernetes version, so it is rendered for Helm's"
                              + " default v1.20.0: run the agent with its Kubernetes runtime so it"
                              + " reports its cluster's version, or deploy an older chart"
                              + " version"));
    } finally {
      sim.close();
      controller.close();
    }
  }

  /** How many devices report each Kubernetes version ("" for none). */
  private static Map<String, Long> kubernetesVersions(AdminClient admin) {
    Map<String, Long> out = new java.util.TreeMap<>();
    for (com.fasterxml.jackson.databind.JsonNode d :
        admin.get("/api/v1/devices").body().path("items")) {
      out.merge(d.path("facts").path("kubernetesVersion").asText(""), 1L, Long::sum);
    }
    return out;
  }

  /** Each device's state of the app, with the reason of a failure. */
  private static List<String> reasons(AdminClient admin, String app) {
    List<String> out = new java.util.ArrayList<>();
    for (com.fasterxml.jackson.databind.JsonNode d :
        admin.get("/api/v1/apps/" + app + "/status").body().path("devices")) {
      String state = d.path("state").asText();
      String reason = d.path("reason").asText("");
      int cut = reason.indexOf("chart ");
      out.add(state.equals("FAILED") ? state + ": " + reason.substring(Math.max(cut, 0)) : state);
    }
    return out;
  }

  private static com.fasterxml.jackson.databind.JsonNode signingKey(
      AdminClient admin, String idOrState) {
    for (com.fasterxml.jackson.databind.JsonNode k :
        admin.get("/api/v1/signing-keys").body().path("items")) {
      if (k.path("id").asText().equals(idOrState) || k.path("state").asText().equals(idOrState)) {
        return k;
      }
    }
    throw new AssertionError("no signing key " + idOrState);
  }

  @SuppressWarnings("unchecked")
  private static int generations(Simulator sim, String generation) {
    return ((Map<String, Integer>) sim.snapshot().get("generations")).getOrDefault(generation, 0);
  }

  @SuppressWarnings("unchecked")
  private static long count(Simulator sim, String key) {
    return ((Map<String, Integer>) sim.snapshot().get(key))
        .values().stream().mapToLong(Integer::longValue).sum();
  }

  private static long applied(Simulator sim) {
    return count(sim, "appReady") + count(sim, "appFailed");
  }

  private void pushAndDeploy(AdminClient admin) throws Exception {
    pushChart(admin, "simapp", "");

    // Values every device needs a tag for, on a fleet without that tag: refused before anything
    // starts, with the devices it concerns; a dry run shows each device's fate.
    Map<String, Object> needsSite =
        Map.of(
            "app",
            "simapp",
            "version",
            "1.0.0",
            "target",
            "fleet=sim",
            "values",
            Map.of("image", "registry.example/${tag:site}:1"));
    AdminClient.Answer refused = admin.post("/api/v1/deployments", needsSite);
    assertThat(refused.status()).as(refused.body().toString()).isEqualTo(422);
    assertThat(refused.body().path("code").asText()).isEqualTo("PREFLIGHT_FAILED");
    assertThat(refused.body().path("message").asText())
        .contains(N + " of " + N + " targeted device(s) cannot run simapp@1.0.0")
        .contains("no tag 'site'");
    AdminClient.Answer plan = admin.post("/api/v1/deployments?dryRun=true", needsSite);
    assertThat(plan.status()).as(plan.body().toString()).isEqualTo(200);
    assertThat(plan.body().path("targeted").asInt()).isEqualTo(N);
    assertThat(plan.body().path("changes").path("FAILS").asInt()).isEqualTo(N);
    assertThat(plan.body().path("devices").size()).isEqualTo(N);
    assertThat(plan.body().path("devices").get(0).path("problem").asText())
        .contains("no tag 'site'");
    assertThat(admin.get("/api/v1/deployments").body().path("items").size()).isZero();

    AdminClient.Answer deployed =
        admin.post(
            "/api/v1/deployments",
            Map.of("app", "simapp", "version", "1.0.0", "target", "fleet=sim"));
    assertThat(deployed.status()).as(deployed.body().toString()).isEqualTo(201);
  }

  /** Pushes version 1.0.0 of a one-ConfigMap chart; {@code chartYaml} is added to Chart.yaml. */
  private void pushChart(AdminClient admin, String name, String chartYaml) throws Exception {
    Path chart = dir.resolve("chart-" + name).resolve(name);
    Files.createDirectories(chart.resolve("templates"));
    Files.writeString(
        chart.resolve("Chart.yaml"),
        "apiVersion: v2\nname: " + name + "\nversion: 1.0.0\n" + chartYaml);
    Files.writeString(chart.resolve("values.yaml"), "image: registry.example/sim:1\n");
    Files.writeString(
        chart.resolve("templates/configmap.yaml"),
        """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ .Release.Name }}
          namespace: default
        data:
          image: {{ .Values.image }}
          kube: {{ .Capabilities.KubeVersion.Version }}
        """);
    Path archive = dir.resolve(name + ".tgz");
    Process tar =
        new ProcessBuilder(
                "tar", "-czf", archive.toString(), "-C", chart.getParent().toString(), name)
            .redirectErrorStream(true)
            .start();
    assertThat(tar.waitFor()).isZero();
    AdminClient.Answer pushed =
        admin.post(
            "/api/v1/catalog/apps/" + name + "/versions",
            Map.of(
                "version",
                "1.0.0",
                "kind",
                "chart",
                "archive",
                Base64.getEncoder().encodeToString(Files.readAllBytes(archive))));
    assertThat(pushed.status()).as(pushed.body().toString()).isEqualTo(201);
  }
}
