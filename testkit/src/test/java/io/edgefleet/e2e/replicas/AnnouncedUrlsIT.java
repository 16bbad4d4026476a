package io.edgefleet.e2e.replicas;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.Agent;
import io.edgefleet.testkit.Postgres;
import io.edgefleet.testkit.ReplicaData;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A replica added after devices enrolled reaches them through their signed desired state: a device
 * whose bootstrap file names one replica learns the others from its document, and moves to one of
 * them when the one it knows from the file goes away.
 */
class AnnouncedUrlsIT {
  @TempDir Path dir;

  @Test
  void aDeviceFailsOverToAReplicaItKnowsOnlyFromItsDocument() throws Exception {
    String db = Postgres.newDatabase();
    int portA = freePort();
    int portB = freePort();
    String urlA = "https://127.0.0.1:" + portA;
    String urlB = "https://127.0.0.1:" + portB;
    Path dataA = dir.resolve("a");
    TestController a =
        TestController.start(
            TestController.config(dataA)
                .withListen("127.0.0.1", portA)
                .withDatabase(db, null, null)
                .withMoreUrls(List.of(urlB)));
    boolean aRunning = true;
    try (TestAgents agents = new TestAgents(dir)) {
      Path dataB = dir.resolve("b");
      ReplicaData.copyKeys(dataA, dataB);
      try (TestController b =
          TestController.start(
              TestController.config(dataB)
                  .withListen("127.0.0.1", portB)
                  .withDatabase(db, null, null)
                  .withMoreUrls(List.of(urlA)))) {
        String token = a.token(Map.of("site", "s1"), null, false);
        // The bootstrap file names A only.
        Agent agent =
            agents.start(
                agents.options("d1", agents.bootstrap("d1", urlA, a.caFingerprint(), token)));
        await()
            .atMost(Duration.ofSeconds(20))
            .until(() -> agent.status().state() == Agent.State.CONNECTED && agent.generation() > 0);
        await()
            .atMost(Duration.ofSeconds(10))
            .until(() -> a.controller().presence().connectedCount() == 1);
        assertThat(b.controller().presence().connectedCount()).isZero();

        a.close();
        aRunning = false;
        await()
            .atMost(Duration.ofSeconds(30))
            .until(
                () ->
                    agent.status().state() == Agent.State.CONNECTED
                        && b.controller().presence().connectedCount() == 1);
      }
    } finally {
      if (aRunning) {
        a.close();
      }
    }
  }

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
