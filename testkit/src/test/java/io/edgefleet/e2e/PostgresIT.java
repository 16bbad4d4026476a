package io.edgefleet.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.Postgres;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The same controller code on a real PostgreSQL server: enroll, tag, decommission, restart. */
class PostgresIT {
  @TempDir Path dir;

  @Test
  void fleetLivesInPostgresAcrossControllerRestarts() {
    String url = Postgres.newDatabase();
    ControllerConfig config =
        TestController.config(dir.resolve("controller")).withDatabase(url, null, null);
    try (TestAgents agents = new TestAgents(dir)) {
      String decommissioned;
      int port;
      try (TestController controller = TestController.start(config)) {
        AdminClient admin = controller.admin();
        assertThat(admin.get("/api/v1/info").body().path("database").asText())
            .isEqualTo("postgresql");
        String token = controller.token(Map.of("site", "store-17"), null, false);
        Path bootstrap = agents.bootstrap("t", controller.url(), controller.caFingerprint(), token);
        List<Agent> fleet =
            List.of(
                agents.start(agents.options("a1", bootstrap)),
                agents.start(agents.options("a2", bootstrap)),
                agents.start(agents.options("a3", bootstrap)));
        await().atMost(Duration.ofSeconds(30)).until(() -> online(admin) == 3);
        String tagged = fleet.get(0).status().deviceId().orElseThrow();
        assertThat(
                admin
                    .patch(
                        "/api/v1/devices/" + tagged + "/tags", Map.of("set", Map.of("zone", "eu")))
                    .body()
                    .path("tags")
                    .path("zone")
                    .asText())
            .isEqualTo("eu");
        decommissioned = fleet.get(2).status().deviceId().orElseThrow();
        assertThat(
                admin
                    .post("/api/v1/devices/" + decommissioned + "/decommission", Map.of())
                    .status())
            .isEqualTo(200);
        port = controller.controller().port();
      }

      try (TestController again = TestController.start(config.withListen("127.0.0.1", port))) {
        AdminClient admin = again.admin();
        await().atMost(Duration.ofSeconds(30)).until(() -> online(admin) == 2);
        List<JsonNode> devices = devices(admin);
        assertThat(devices).hasSize(3);
        assertThat(devices)
            .filteredOn(d -> d.path("id").asText().equals(decommissioned))
            .singleElement()
            .satisfies(d -> assertThat(d.path("status").asText()).isEqualTo("DECOMMISSIONED"));
        assertThat(devices).anyMatch(d -> d.path("tags").path("zone").asText().equals("eu"));
      }
    }
  }

  private static long online(AdminClient admin) {
    return devices(admin).stream().filter(d -> d.path("status").asText().equals("ONLINE")).count();
  }

  private static List<JsonNode> devices(AdminClient admin) {
    return StreamSupport.stream(
            admin.get("/api/v1/devices").body().path("items").spliterator(), false)
        .toList();
  }
}
