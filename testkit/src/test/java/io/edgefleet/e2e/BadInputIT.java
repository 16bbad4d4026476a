package io.edgefleet.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentException;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.controller.onboarding.OnboardingTokens;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Bad bootstrap files and bad credentials: a clear, coded error and nothing stored. */
class BadInputIT {
  @TempDir Path dir;
  TestController controller;
  TestAgents agents;
  AdminClient admin;

  @BeforeEach
  void start() {
    controller = TestController.start(dir.resolve("controller"));
    agents = new TestAgents(dir);
    admin = controller.admin();
  }

  @AfterEach
  void stop() {
    agents.close();
    controller.close();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "not json at all",
        "{}",
        "{\"version\":1,\"controllerUrl\":\"http://x:1\",\"caFingerprint\":\"sha256:00\"}",
        "{\"version\":1,\"controllerUrl\":\"https://127.0.0.1:1\",\"caFingerprint\":\"md5:abc\"}",
        "{\"version\":7,\"controllerUrl\":\"https://127.0.0.1:1\",\"caFingerprint\":\"sha256:00\"}"
      })
  void malformedBootstrapFileFailsFastWithACode(String content) throws Exception {
    Path file = dir.resolve("bad.json");
    Files.writeString(file, content);
    AgentOptions options = agents.options("a1", file);
    assertThatThrownBy(() -> agents.start(options))
        .isInstanceOf(AgentException.class)
        .satisfies(
            e ->
                assertThat(((AgentException) e).code())
                    .isEqualTo(AgentException.Code.BOOTSTRAP_INVALID))
        .hasMessageContaining("edgefleet onboarding bootstrap");
    assertThat(Files.exists(dir.resolve("agents/a1/identity.json"))).isFalse();
  }

  @Test
  void wrongCaFingerprintIsRefusedBeforeAnySecretIsSent() {
    String token = controller.token(Map.of(), null, false);
    String wrong = "sha256:" + "ab".repeat(32);
    Path bootstrap = agents.bootstrap("t", controller.url(), wrong, token);
    Agent agent = agents.start(agents.options("a1", bootstrap));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> agent.status().lastError().orElse(""),
            e -> e.contains("CA_FINGERPRINT_MISMATCH"));
    assertThat(agent.status().state()).isIn(Agent.State.BACKING_OFF, Agent.State.ENROLLING);
    assertThat(admin.get("/api/v1/devices").body().path("items")).isEmpty();
    assertThat(
            admin.get("/api/v1/onboarding-tokens").body().path("items").get(0).path("uses").asInt())
        .isZero();
  }

  @Test
  void usedUpTokenIsRefusedAndTheFirstDeviceKeepsWorking() {
    String token = controller.token(Map.of(), 1, false);
    Path bootstrap = agents.bootstrap("t", controller.url(), controller.caFingerprint(), token);
    Agent first = agents.start(agents.options("a1", bootstrap));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> first.status().state() == Agent.State.CONNECTED);

    Agent second = agents.start(agents.options("a2", bootstrap));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> second.status().state() == Agent.State.ENROLLMENT_REFUSED);
    assertThat(second.status().lastError().orElseThrow()).contains("ONBOARDING_TOKEN_USED_UP");
    assertThat(admin.get("/api/v1/devices").body().path("items")).hasSize(1);
    assertThat(first.status().state()).isEqualTo(Agent.State.CONNECTED);
  }

  @Test
  void expiredTokenIsRefused() {
    String token =
        controller
            .controller()
            .onboarding()
            .create(new OnboardingTokens.CreateRequest(null, Map.of(), null, "1ms", false), "test")
            .token();
    Path bootstrap = agents.bootstrap("t", controller.url(), controller.caFingerprint(), token);
    Agent agent = agents.start(agents.options("a1", bootstrap));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> agent.status().state() == Agent.State.ENROLLMENT_REFUSED);
    assertThat(agent.status().lastError().orElseThrow()).contains("ONBOARDING_TOKEN_EXPIRED");
    assertThat(admin.get("/api/v1/devices").body().path("items")).isEmpty();
  }

  @Test
  void revokedAndUnknownTokensAreRefused() {
    OnboardingTokens.View t =
        controller
            .controller()
            .onboarding()
            .create(new OnboardingTokens.CreateRequest(null, Map.of(), null, null, false), "test");
    assertThat(admin.delete("/api/v1/onboarding-tokens/" + t.id()).status()).isEqualTo(204);
    Agent revoked =
        agents.start(
            agents.options(
                "a1",
                agents.bootstrap("r", controller.url(), controller.caFingerprint(), t.token())));
    Agent unknown =
        agents.start(
            agents.options(
                "a2",
                agents.bootstrap(
                    "u", controller.url(), controller.caFingerprint(), "efo_doesnotexist")));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                revoked.status().state() == Agent.State.ENROLLMENT_REFUSED
                    && unknown.status().state() == Agent.State.ENROLLMENT_REFUSED);
    assertThat(revoked.status().lastError().orElseThrow()).contains("ONBOARDING_TOKEN_REVOKED");
    assertThat(unknown.status().lastError().orElseThrow()).contains("ONBOARDING_TOKEN_INVALID");
    assertThat(admin.get("/api/v1/devices").body().path("items")).isEmpty();
  }
}
