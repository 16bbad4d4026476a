package io.edgefleet.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.Agent;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A decommissioned device is cut off at once, told why, and does not hammer the controller. */
class DecommissionIT {
  @TempDir Path dir;

  @Test
  void decommissionedAgentIsRefusedAndBacksOff() {
    try (TestController controller = TestController.start(dir.resolve("controller"));
        TestAgents agents = new TestAgents(dir)) {
      AdminClient admin = controller.admin();
      String token = controller.token(Map.of("site", "store-17"), null, false);
      Path bootstrap = agents.bootstrap("t", controller.url(), controller.caFingerprint(), token);
      Agent agent = agents.start(agents.options("a1", bootstrap));
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> agent.status().state() == Agent.State.CONNECTED);
      String id = agent.status().deviceId().orElseThrow();

      AdminClient.Answer answer = admin.post("/api/v1/devices/" + id + "/decommission", Map.of());
      assertThat(answer.status()).isEqualTo(200);
      assertThat(answer.body().path("status").asText()).isEqualTo("DECOMMISSIONED");

      // The open socket is closed at once with the reason.
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> agent.status().state() == Agent.State.REVOKED);
      assertThat(agent.status().lastError().orElseThrow()).contains("decommissioned");
      assertThat(controller.controller().connections().isConnected(id)).isFalse();

      // A restarted agent with the revoked identity is refused with a clear code ...
      agent.close();
      Agent restarted = agents.start(agents.options("a1", bootstrap));
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> restarted.status().state() == Agent.State.REVOKED);
      assertThat(restarted.status().lastError().orElseThrow()).contains("DEVICE_DECOMMISSIONED");
      // ... and then waits instead of retrying: one refusal, not a stream of them.
      long refusedSoFar = controller.controller().gateway().refusedAttempts(id);
      assertThat(refusedSoFar).isEqualTo(1);
      await()
          .during(Duration.ofSeconds(3))
          .atMost(Duration.ofSeconds(4))
          .until(() -> controller.controller().gateway().refusedAttempts(id) == refusedSoFar);
      assertThat(restarted.status().state()).isEqualTo(Agent.State.REVOKED);

      // Decommissioning is audited.
      assertThat(admin.get("/api/v1/audit").body().toString()).contains("device.decommission");
    }
  }
}
