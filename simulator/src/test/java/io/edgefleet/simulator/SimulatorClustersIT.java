package io.edgefleet.simulator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.Json;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestController;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Simulated devices as K3s cluster members against a real in-process controller: two pools of three
 * tagged devices form two 3-server clusters (the join token and the artifact over the real device
 * routes), and a Kubernetes version change of one cluster restarts its nodes at the new version
 * while the other cluster stays as it was.
 */
class SimulatorClustersIT {
  private static final String V1 = "v1.20.2+k3s1";
  private static final String V2 = "v1.20.4+k3s1";

  @TempDir Path dir;

  @Test
  void twoPoolsFormTwoClustersAndOneIsUpgraded() throws Exception {
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
            Simulator.Options.of(bootstrap, 6, dir.resolve("sim-state"))
                .withMaxBackoff(Duration.ofSeconds(3))
                .withK3s(
                    new K3sBehaviour(
                        Duration.ofMillis(200), Duration.ofMillis(300), 0, Duration.ofSeconds(30))),
            System.out);
    AdminClient admin = controller.admin();
    try {
      await().atMost(Duration.ofSeconds(30)).until(() -> sim.connected() == 6);
      Map<Integer, String> byIndex = new TreeMap<>();
      for (JsonNode d : admin.get("/api/v1/devices?limit=100").body().path("items")) {
        String serial = d.path("serial").asText();
        byIndex.put(
            Integer.parseInt(serial.substring(serial.lastIndexOf('-') + 1)), d.path("id").asText());
      }
      for (var e : byIndex.entrySet()) {
        String pool = e.getKey() < 3 ? "a" : "b";
        assertThat(
                admin
                    .patch(
                        "/api/v1/devices/" + e.getValue() + "/tags",
                        Map.of("set", Map.of("clusterpool", pool)))
                    .status())
            .isEqualTo(200);
      }
      for (String v : List.of(V1, V2)) {
        byte[] binary =
            ("#!/bin/sh\necho k3s version " + v + "\n").getBytes(StandardCharsets.UTF_8);
        AdminClient.Answer pushed =
            admin.raw(
                "POST",
                "/api/v1/artifacts?kind=k3s&arch=amd64&version="
                    + URLEncoder.encode(v, StandardCharsets.UTF_8),
                binary,
                controller.controller().adminToken().orElseThrow(),
                "application/octet-stream");
        assertThat(pushed.status()).as("%s", pushed.body()).isEqualTo(201);
      }
      for (String pool : List.of("a", "b")) {
        AdminClient.Answer created =
            admin.post(
                "/api/v1/clusters",
                Map.of(
                    "name",
                    "pool-" + pool,
                    "selector",
                    "clusterpool=" + pool,
                    "servers",
                    Map.of("min", 3, "max", 3),
                    "agents",
                    Map.of("min", 0, "max", 0),
                    "kubernetesVersion",
                    V1));
        assertThat(created.status()).as("%s", created.body()).isEqualTo(201);
      }

      for (String pool : List.of("pool-a", "pool-b")) {
        await()
            .atMost(Duration.ofSeconds(60))
            .untilAsserted(
                () ->
                    assertThat(admin.get("/api/v1/clusters/" + pool).body().path("state").asText())
                        .as("%s", admin.get("/api/v1/clusters/" + pool).body())
                        .isEqualTo("READY"));
        JsonNode c = admin.get("/api/v1/clusters/" + pool).body();
        assertThat(c.path("members")).hasSize(3);
        assertThat(versions(c)).containsOnly(V1);
        assertThat(c.path("etcd").path("voters").asInt()).isEqualTo(3);
      }
      Map<String, Object> s = sim.snapshot();
      assertThat(s.get("k3sPhases")).isEqualTo(Map.of("RUNNING", 6));
      assertThat((long) s.get("tokenFetches")).isGreaterThanOrEqualTo(6);
      assertThat((long) s.get("artifactChecks")).isGreaterThanOrEqualTo(6);

      AdminClient.Answer patched =
          admin.patch("/api/v1/clusters/pool-a", Map.of("kubernetesVersion", V2));
      assertThat(patched.status()).as("%s", patched.body()).isEqualTo(200);
      await()
          .atMost(Duration.ofSeconds(60))
          .untilAsserted(
              () -> {
                JsonNode c = admin.get("/api/v1/clusters/pool-a").body();
                assertThat(c.path("state").asText()).as("%s", c).isEqualTo("READY");
                assertThat(versions(c)).as("%s", c).containsOnly(V2);
              });
      assertThat(versions(admin.get("/api/v1/clusters/pool-b").body())).containsOnly(V1);
      assertThat(sim.snapshot().get("k3sRunning")).isEqualTo(Map.of(V1, 3, V2, 3));
    } finally {
      sim.close();
      controller.close();
    }
  }

  private static List<String> versions(JsonNode cluster) {
    List<String> v = new ArrayList<>();
    cluster.path("members").forEach(m -> v.add(m.path("kubernetesVersion").asText()));
    return v;
  }
}
