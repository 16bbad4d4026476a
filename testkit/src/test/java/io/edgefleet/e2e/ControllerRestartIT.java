package io.edgefleet.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.ControllerProcess;
import io.edgefleet.testkit.TestAgents;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Twenty connected agents, the controller process is killed with SIGKILL and started again on the
 * same data directory: every agent comes back by itself, without being restarted.
 */
class ControllerRestartIT {
  private static final int AGENTS = 20;

  @TempDir Path dir;

  @Test
  void agentsReconnectAfterTheControllerIsKilledAndRestarted() {
    try (ControllerProcess controller =
            new ControllerProcess(dir.resolve("controller"), List.of("--heartbeat", "1s")).start();
        TestAgents agents = new TestAgents(dir)) {
      String token;
      try (AdminClient admin = controller.admin()) {
        AdminClient.Answer created =
            admin.post(
                "/api/v1/onboarding-tokens",
                Map.of("tags", Map.of("site", "store-17"), "requireApproval", false));
        assertThat(created.status()).isEqualTo(201);
        token = created.body().path("token").asText();
      }
      Path bootstrap = agents.bootstrap("t", controller.url(), controller.caFingerprint(), token);
      List<Agent> fleet = new ArrayList<>();
      for (int i = 0; i < AGENTS; i++) {
        fleet.add(agents.start(agents.options("a" + i, bootstrap)));
      }
      awaitOnline(controller, AGENTS);
      // The controller sees a device online as soon as its socket opens; the agent counts the
      // connection once it has handled the welcome.
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> fleet.stream().allMatch(a -> a.status().connections() == 1));

      controller.kill9();
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> fleet.stream().noneMatch(a -> a.status().state() == Agent.State.CONNECTED));

      controller.start();
      awaitOnline(controller, AGENTS);
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> fleet.stream().allMatch(a -> a.status().state() == Agent.State.CONNECTED));
      assertThat(fleet).allMatch(a -> a.status().connections() == 2);
      try (AdminClient admin = controller.admin()) {
        assertThat(devices(admin)).hasSize(AGENTS);
        assertThat(devices(admin))
            .allMatch(d -> d.path("tags").path("site").asText().equals("store-17"));
      }
    }
  }

  private static void awaitOnline(ControllerProcess controller, int n) {
    try (AdminClient admin = controller.admin()) {
      await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(250))
          .until(
              () ->
                  devices(admin).stream()
                      .filter(d -> d.path("status").asText().equals("ONLINE"))
                      .count(),
              c -> c == n);
    }
  }

  private static List<JsonNode> devices(AdminClient admin) {
    return StreamSupport.stream(
            admin.get("/api/v1/devices").body().path("items").spliterator(), false)
        .toList();
  }
}
