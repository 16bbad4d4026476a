package io.edgefleet.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.Agent;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.DelayProxy;
import io.edgefleet.testkit.GitRepo;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A large bundle stalls in the middle of its transfer: the device's link ({@link DelayProxy}, 100
 * ms each way) forwards part of it and then black-holes, connections open, nothing getting through
 * either way, long enough for the agent to miss its heartbeats. When the link returns, the device
 * takes the new desired state. What {@code bench/badlink.sh} measures over a real shaped link, here
 * on loopback without namespaces.
 */
class MidTransferStallIT {
  @TempDir Path dir;

  @Test
  void aBundleBlackHoledInItsMiddleArrivesOnceTheLinkReturns() throws Exception {
    try (GitRepo repo = GitRepo.init(dir.resolve("repo"));
        TestController controller = TestController.start(dir.resolve("controller"));
        DelayProxy link =
            DelayProxy.forUrl(controller.url()).delay(Duration.ofMillis(100)).start();
        TestAgents agents = new TestAgents(dir);
        AdminClient admin = controller.admin()) {
      repo.write("apps/big/blob.yaml", blob(1));
      repo.commit("a large app");
      assertThat(
              admin
                  .post(
                      "/api/v1/repos",
                      Map.of("name", "fleet", "url", repo.url(), "target", "site=far"))
                  .status())
          .isEqualTo(201);
      Agent agent =
          agents.start(
              agents.options(
                  "far",
                  agents.bootstrap(
                      "far",
                      link.url(),
                      controller.caFingerprint(),
                      controller.token(Map.of("site", "far"), null, false))));
      await().atMost(Duration.ofSeconds(60)).until(() -> agent.generation() >= 1);
      long before = agent.generation();

      // The next bundle (about 300 KB, too large to come with the nudge) is fetched; the link
      // carries 100 KB more towards the device, then nothing.
      repo.write("apps/big/blob.yaml", blob(2));
      repo.commit("a new version of the large app");
      long down = link.bytesDown();
      link.blackholeAfterDown(100_000);
      admin.post("/api/v1/repos/fleet/sync", Map.of());
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> link.state() == DelayProxy.State.BLACKHOLE);
      assertThat(link.bytesDown() - down).isEqualTo(100_000);
      // Held well past three missed heartbeats (1 s each): nothing new is taken meanwhile.
      await()
          .during(Duration.ofSeconds(8))
          .atMost(Duration.ofSeconds(10))
          .until(() -> agent.generation() == before);

      link.restore();
      await().atMost(Duration.ofSeconds(90)).until(() -> agent.generation() > before);
      assertThat(link.bytesDown() - down)
          .as("the rest of the bundle (about 230 KB compressed) came after the black hole")
          .isGreaterThan(200_000);
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> agent.status().state() == Agent.State.CONNECTED);
    }
  }

  /** One ConfigMap of about 300 KB that compresses little (base64 of random bytes). */
  private static String blob(long seed) {
    byte[] raw = new byte[225_000];
    new Random(seed).nextBytes(raw);
    StringBuilder y =
        new StringBuilder("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: blob\ndata:\n");
    y.append("  payload: ").append(Base64.getEncoder().encodeToString(raw)).append('\n');
    return y.toString();
  }
}
