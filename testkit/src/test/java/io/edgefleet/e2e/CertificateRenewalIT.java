package io.edgefleet.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Devices renew their certificate before it expires, without losing their connection. */
class CertificateRenewalIT {
  @TempDir Path dir;

  @Test
  void agentRenewsWhenLessThanAThirdOfTheLifetimeIsLeft() throws Exception {
    try (TestController controller = TestController.start(dir.resolve("controller"));
        TestAgents agents = new TestAgents(dir)) {
      AdminClient admin = controller.admin();
      String token = controller.token(Map.of("site", "rig-4"), null, false);
      Path bootstrap = agents.bootstrap("t", controller.url(), controller.caFingerprint(), token);
      AgentOptions options = agents.options("a1", bootstrap);

      Agent fresh = agents.start(options);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> fresh.status().state() == Agent.State.CONNECTED);
      String id = fresh.status().deviceId().orElseThrow();
      X509Certificate original = certificateOnDisk();
      assertThat(fresh.status().certificateNotAfter()).contains(original.getNotAfter().toInstant());
      fresh.close();

      // The same device, 300 days later by its clock: 65 of 365 days left, so it renews.
      Clock later = Clock.offset(Clock.systemUTC(), Duration.ofDays(300));
      Agent aged = agents.start(options, later);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> !certificateOnDisk().getSerialNumber().equals(original.getSerialNumber()));
      X509Certificate renewed = certificateOnDisk();
      // A new key at each renewal: the controller took it.
      assertThat(renewed.getPublicKey()).isNotEqualTo(original.getPublicKey());
      assertThat(renewed.getNotAfter()).isAfterOrEqualTo(original.getNotAfter());
      assertThat(aged.status().state()).isEqualTo(Agent.State.CONNECTED);
      Instant expires =
          Instant.parse(
              admin.get("/api/v1/devices/" + id).body().path("certificateExpiresAt").asText());
      assertThat(expires).isEqualTo(renewed.getNotAfter().toInstant());
      assertThat(admin.get("/api/v1/audit").body().toString()).contains("device.renew");
      aged.close();

      // The renewed certificate is what a restarted agent connects with.
      Agent restarted = agents.start(options);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> restarted.status().state() == Agent.State.CONNECTED);
      assertThat(restarted.status().certificateNotAfter())
          .contains(renewed.getNotAfter().toInstant());
    }
  }

  private X509Certificate certificateOnDisk() throws Exception {
    return Pem.certificateOf(Files.readString(dir.resolve("agents/a1/device.crt")));
  }
}
