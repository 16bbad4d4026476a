package io.edgefleet.simulator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.controller.trust.TrustOptions;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.Json;
import io.edgefleet.testkit.TestController;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Simulated devices with software TPMs against a real controller that requires their EK chain: each
 * enrolls through the credential challenge (ACTIVATE), comes up with identity tpm and TRUSTED, and
 * after a restart of the simulator connects with its saved keys and is attested again.
 */
class SimulatorAttestationIT {
  static final int N = 40;
  @TempDir Path dir;

  @Test
  void fleetEnrollsWithSoftwareTpmsAndIsAttestedAgainAfterARestart() throws Exception {
    Path state = dir.resolve("sim-state");
    Path ca = state.resolve("tpm-ca");
    SimulatedTpm.Fleet.open(ca);
    ControllerConfig config =
        TestController.config(dir.resolve("controller"))
            .withTrust(TrustOptions.defaults().withTpmCa(ca));
    try (TestController controller = TestController.start(config)) {
      Path bootstrap = dir.resolve("bootstrap.json");
      Files.writeString(
          bootstrap,
          Json.write(
              Bootstrap.of(
                  controller.url(),
                  controller.caFingerprint(),
                  controller.token(Map.of("fleet", "sim"), null, false))));
      Simulator.Options options =
          Simulator.Options.of(bootstrap, N, state)
              .withMaxBackoff(Duration.ofSeconds(3))
              .withAttestation(ca);
      Simulator sim = Simulator.start(options, System.out);
      try {
        await().atMost(Duration.ofSeconds(90)).until(() -> sim.connected() == N);
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> (long) sim.snapshot().get("attestations") >= N);
        assertThat(sim.snapshot().get("activations")).isEqualTo((long) N);
        assertThat(sim.snapshot().get("quarantined")).isEqualTo(0);
        await()
            .atMost(Duration.ofSeconds(30))
            .untilAsserted(() -> assertAllTrustedTpms(controller));
      } finally {
        sim.close();
      }

      // Restart: the same devices, no enrollment, attested again with their saved keys.
      Simulator again = Simulator.start(options, System.out);
      try {
        await().atMost(Duration.ofSeconds(60)).until(() -> again.connected() == N);
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> (long) again.snapshot().get("attestations") >= N);
        assertThat(again.enrollments()).isZero();
        assertThat(again.snapshot().get("quarantined")).isEqualTo(0);
        assertAllTrustedTpms(controller);
      } finally {
        again.close();
      }
    }
  }

  private static void assertAllTrustedTpms(TestController controller) {
    JsonNode page = controller.admin().get("/api/v1/devices?limit=100").body();
    List<JsonNode> devices = new ArrayList<>();
    page.path("items").forEach(devices::add);
    assertThat(devices).hasSize(N);
    for (JsonNode d : devices) {
      assertThat(d.path("trust").path("identity").asText()).as(d.toString()).isEqualTo("tpm");
      assertThat(d.path("trust").path("state").asText()).as(d.toString()).isEqualTo("TRUSTED");
    }
  }
}
