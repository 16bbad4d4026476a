package io.edgefleet.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.Agent;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.Json;
import io.edgefleet.testkit.DeviceHttp;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a device trusts and keeps: the generations it may claim, its state directory on disk, and
 * its replay floor. Real controller, real agents, real mutual TLS on loopback.
 */
class DesiredStateTrustIT {
  @TempDir Path dir;
  TestController controller;
  TestAgents agents;

  @BeforeEach
  void start() {
    controller = TestController.start(dir.resolve("controller"));
    agents = new TestAgents(dir);
  }

  @AfterEach
  void stop() {
    agents.close();
    controller.close();
  }

  @Test
  void aClaimedGenerationBeyondWhatTheControllerIssuesIsRefusedAndNothingIsSigned()
      throws Exception {
    Agent agent = enrolled("a1");
    await().atMost(Duration.ofSeconds(20)).until(() -> agent.generation() == 1);
    agent.close();

    try (DeviceHttp device = new DeviceHttp(controller.url(), dir.resolve("agents/a1"))) {
      DeviceHttp.Answer refused = device.get(DeviceApi.DESIRED + "?known=" + Long.MAX_VALUE);
      assertThat(refused.status()).isEqualTo(409);
      assertThat(refused.code()).isEqualTo("GENERATION_OUT_OF_RANGE");
      assertThat(refused.body().path("message").asText())
          .contains(Long.toString(Long.MAX_VALUE))
          .contains(Long.toString(DesiredState.MAX_GENERATION));

      DeviceHttp.Answer current = device.get(DeviceApi.DESIRED + "?known=0");
      assertThat(current.status()).isEqualTo(200);
      assertThat(generationOf(current)).as("nothing was signed for the claim").isEqualTo(1);
    }
  }

  // ------------------------------------------------------------------ helpers

  private Agent enrolled(String name) {
    String token = controller.token(Map.of("site", "s1"), null, false);
    Path bootstrap = agents.bootstrap(name, controller.url(), controller.caFingerprint(), token);
    Agent agent = agents.start(agents.options(name, bootstrap));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> agent.status().state() == Agent.State.CONNECTED);
    return agent;
  }

  private static long generationOf(DeviceHttp.Answer answer) throws Exception {
    byte[] payload = Base64.getDecoder().decode(answer.body().path("payload").asText());
    return Json.mapper().readValue(payload, DesiredState.class).generation();
  }
}
