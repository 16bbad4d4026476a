package io.edgefleet.simulator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.Json;
import io.edgefleet.testkit.TestController;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bootstrap file that names several controller URLs: each device starts at a random one and moves
 * on at once when it fails, as the agent does, so a dead URL first in the file costs no back-off
 * and every device ends up on the URL that answers.
 */
class SimulatorReplicaUrlsIT {
  @TempDir Path dir;

  @Test
  void devicesThatPickADeadUrlMoveToTheLiveOneWithoutBackingOff() throws Exception {
    int n = 40;
    int deadPort;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      deadPort = s.getLocalPort();
    }
    String dead = "https://127.0.0.1:" + deadPort;
    try (TestController controller =
        TestController.start(TestController.config(dir.resolve("c")))) {
      Path bootstrap = dir.resolve("bootstrap.json");
      Files.writeString(
          bootstrap,
          Json.write(
              Bootstrap.of(
                      dead,
                      controller.caFingerprint(),
                      controller.token(Map.of("fleet", "sim"), null, false))
                  .withMoreUrls(List.of(controller.url()))));
      // A back-off far longer than the wait: only the move to the next URL can connect them.
      Simulator sim =
          Simulator.start(
              Simulator.Options.of(bootstrap, n, dir.resolve("sim"))
                  .withMaxBackoff(Duration.ofMinutes(10)),
              System.out);
      try {
        await().atMost(Duration.ofSeconds(30)).until(() -> sim.connected() == n);
        @SuppressWarnings("unchecked")
        Map<String, Integer> byUrl = (Map<String, Integer>) sim.snapshot().get("connectedByUrl");
        assertThat(byUrl).containsEntry(controller.url(), n).containsEntry(dead, 0);
        assertThat(sim.snapshot().get("gaveUp")).isEqualTo(0L);
      } finally {
        sim.close();
      }
    }
  }
}
