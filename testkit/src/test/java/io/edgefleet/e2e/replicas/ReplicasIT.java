package io.edgefleet.e2e.replicas;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.Agent;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.Postgres;
import io.edgefleet.testkit.ReplicaData;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two controller replicas on one real PostgreSQL, sharing the data directory's keys: one leads the
 * once-only jobs, another takes over when it stops, and a change made through one reaches a device
 * connected to the other at once (a PostgreSQL notification routes the nudge).
 */
class ReplicasIT {
  @TempDir Path dir;

  @Test
  void aChangeOnOneReplicaReachesADeviceOnTheOtherAndTheLeadMovesWhenTheLeaderStops()
      throws Exception {
    String url = Postgres.newDatabase();
    Path dataA = dir.resolve("a");
    ControllerConfig configA = TestController.config(dataA).withDatabase(url, null, null);
    TestController a = TestController.start(configA);
    boolean aRunning = true;
    try (TestAgents agents = new TestAgents(dir)) {
      // The second replica shares the first one's keys (CA, signing keys, admin token).
      Path dataB = dir.resolve("b");
      ReplicaData.copyKeys(dataA, dataB);
      try (TestController b =
          TestController.start(TestController.config(dataB).withDatabase(url, null, null))) {
        assertThat(a.controller().leader()).isTrue();
        assertThat(b.controller().leader()).isFalse();
        assertThat(b.caFingerprint()).isEqualTo(a.caFingerprint());

        String token = a.token(Map.of("site", "s1"), null, false);
        Agent agent =
            agents.start(
                agents.options("d1", agents.bootstrap("d1", b.url(), b.caFingerprint(), token)));
        await()
            .atMost(Duration.ofSeconds(20))
            .until(() -> agent.status().state() == Agent.State.CONNECTED && agent.generation() > 0);
        long before = agent.generation();

        // A change through the replica the device is not connected to.
        AdminClient.Answer put =
            a.admin()
                .put(
                    "/api/v1/download-policies/slow-link",
                    Map.of("selector", "site=s1", "bytesPerDay", 50_000_000));
        assertThat(put.status()).as(put.body().toString()).isIn(200, 201);
        await().atMost(Duration.ofSeconds(10)).until(() -> agent.generation() > before);

        // The leader stops: the other replica takes the lead.
        a.close();
        aRunning = false;
        await().atMost(Duration.ofSeconds(10)).until(() -> b.controller().leader());
        assertThat(agent.status().state()).isEqualTo(Agent.State.CONNECTED);
      }
    } finally {
      if (aRunning) {
        a.close();
      }
    }
  }
}
