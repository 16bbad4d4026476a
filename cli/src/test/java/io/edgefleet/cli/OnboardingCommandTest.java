package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.Json;
import org.junit.jupiter.api.Test;

/** The guard that keeps a document the agent would refuse from being written as its bootstrap. */
class OnboardingCommandTest {
  private static final String FINGERPRINT = "sha256:" + "b".repeat(64);

  @Test
  void validBootstrapIsReadAsTheAgentReadsIt() throws Exception {
    JsonNode document =
        Json.mapper()
            .readTree(
                "{\"version\":1,\"controllerUrl\":\"https://c:7443\",\"caFingerprint\":\""
                    + FINGERPRINT
                    + "\",\"token\":\"efo_1\",\"newerField\":true}");

    assertThat(OnboardingCommand.validBootstrap(document))
        .isEqualTo(Bootstrap.of("https://c:7443", FINGERPRINT, "efo_1"));
  }

  @Test
  void documentTheAgentWouldRefuseIsAFailedCallSayingWhy() throws Exception {
    JsonNode document =
        Json.mapper()
            .readTree("{\"version\":1,\"controllerUrl\":\"http://c\",\"caFingerprint\":\"x\"}");

    assertThatThrownBy(() -> OnboardingCommand.validBootstrap(document))
        .isInstanceOfSatisfying(
            CliException.class, e -> assertThat(e.exitCode()).isEqualTo(CliException.FAILED))
        .hasMessageStartingWith("the controller answered an invalid bootstrap document: ")
        .hasMessageContaining("https://");
  }

  @Test
  void emptyAnswerIsAFailedCall() {
    assertThatThrownBy(() -> OnboardingCommand.validBootstrap(MissingNode.getInstance()))
        .isInstanceOf(CliException.class)
        .hasMessage("the controller answered an empty bootstrap document");
  }
}
