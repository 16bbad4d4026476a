package io.edgefleet.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.testkit.ControllerProcess;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A controller process started by a test does not depend on fixed ports being free. */
class ControllerProcessIT {
  @TempDir Path dir;

  @Test
  void aControllerProcessStartsWhileKubectlsDefaultPortIsTaken() throws Exception {
    // Hold kubectl's default port, as a developer's own controller does; when something else
    // holds it already, that is the same situation.
    try (ServerSocket held = holdDefaultKubePort();
        ControllerProcess c = new ControllerProcess(dir.resolve("controller"), List.of())) {
      c.start();
      assertThat(c.admin().get("/api/v1/devices").status()).isEqualTo(200);
    }
  }

  private static ServerSocket holdDefaultKubePort() {
    try {
      return new ServerSocket(7444, 1, InetAddress.getLoopbackAddress());
    } catch (IOException alreadyTaken) {
      return null;
    }
  }
}
