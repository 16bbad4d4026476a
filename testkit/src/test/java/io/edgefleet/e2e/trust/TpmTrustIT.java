package io.edgefleet.e2e.trust;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.controller.trust.TrustOptions;
import io.edgefleet.device.tpm.TpmDevice;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.Swtpm;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Device trust with a real agent whose key and attestation key live in a real software TPM (swtpm,
 * its EK certified by swtpm's local CA): enrollment proves the TPM, every connection is attested, a
 * changed measurement quarantines the device (nothing new is delivered), and an operator's accept
 * makes it trusted again.
 */
class TpmTrustIT {
  @TempDir Path dir;
  private Swtpm swtpm;

  @BeforeEach
  void start() {
    swtpm = Swtpm.start();
  }

  @AfterEach
  void stop() {
    swtpm.close();
  }

  @Test
  void aRealTpmIsAttestedAtEveryConnectionAndQuarantinedWhenItsBootChanges() throws Exception {
    try (TestController controller =
            TestController.start(
                TestController.config(dir.resolve("controller"))
                    .withTrust(TrustOptions.defaults().withTpmCa(swtpm.caDirectory())));
        TestAgents agents = new TestAgents(dir)) {
      JsonNode created =
          controller
              .admin()
              .post(
                  "/api/v1/onboarding-tokens",
                  Map.of("name", "tpm-only", "requireTpm", true, "perMinute", 1000))
              .body();
      String token = created.path("token").asText();
      Path bootstrap = agents.bootstrap("t", controller.url(), controller.caFingerprint(), token);
      AgentOptions options =
          agents.options("tpm-edge", bootstrap).withTpm(swtpm.endpoint().toString());

      Agent agent = agents.start(options);
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> agent.status().state() == Agent.State.CONNECTED);
      String id = agent.status().deviceId().orElseThrow();
      JsonNode enrolled = device(controller, id);
      assertThat(enrolled.path("identity").asText()).isEqualTo("tpm");
      assertThat(enrolled.path("trust").path("state").asText()).isEqualTo("TRUSTED");
      Instant atEnrollment = Instant.parse(enrolled.path("trust").path("lastAttested").asText());
      // The connection's challenge is answered with a quote by the TPM.
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> lastAttested(controller, id).isAfter(atEnrollment));
      JsonNode attestation =
          controller.admin().get("/api/v1/devices/" + id + "/attestation").body();
      assertThat(attestation.path("ekIssuer").asText()).isNotBlank();
      assertThat(attestation.path("pcrs")).hasSize(10);
      agent.close();

      // Something new is measured into PCR 7 (as a changed Secure Boot policy would be).
      try (TpmDevice tpm = TpmDevice.open(swtpm.endpoint().toString())) {
        tpm.tpm().pcrExtend(7, TpmDevice.sha256("another db key".getBytes(StandardCharsets.UTF_8)));
      }
      Instant before = lastAttested(controller, id);
      Agent rebooted = agents.start(options);
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () ->
                  "QUARANTINED".equals(device(controller, id).path("trust").path("state").asText())
                      || lastAttested(controller, id).isAfter(before));
      assertThat(device(controller, id).path("trust").path("state").asText())
          .as(
              () ->
                  "trust after the reconnect: "
                      + device(controller, id).path("trust")
                      + "\nattestation: "
                      + controller.admin().get("/api/v1/devices/" + id + "/attestation").body()
                      + "\nevents: "
                      + controller.admin().get("/api/v1/events?device=" + id).body())
          .isEqualTo("QUARANTINED");
      assertThat(device(controller, id).path("trust").path("reason").asText()).contains("PCR 7");
      assertThat(controller.controller().trust().devices().quarantined(id)).isTrue();
      JsonNode diff = controller.admin().get("/api/v1/devices/" + id + "/attestation").body();
      assertThat(diff.path("pcrs").get(7).path("differs").asBoolean()).isTrue();

      AdminClient.Answer accepted =
          controller.admin().post("/api/v1/devices/" + id + "/attestation/accept", Map.of());
      assertThat(accepted.status()).isEqualTo(200);
      assertThat(device(controller, id).path("trust").path("state").asText()).isEqualTo("TRUSTED");
      assertThat(controller.controller().trust().devices().quarantined(id)).isFalse();
      rebooted.close();
    }
  }

  private static JsonNode device(TestController controller, String id) {
    return controller.admin().get("/api/v1/devices/" + id).body();
  }

  private static Instant lastAttested(TestController controller, String id) {
    return Instant.parse(device(controller, id).path("trust").path("lastAttested").asText());
  }
}
