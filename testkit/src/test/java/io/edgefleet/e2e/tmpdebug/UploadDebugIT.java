package io.edgefleet.e2e.tmpdebug;

import io.edgefleet.testkit.TestController;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UploadDebugIT {
  @TempDir Path dir;

  @Test
  void debug() throws Exception {
    try (TestController c = TestController.start(TestController.config(dir.resolve("c")))) {
      Path f = dir.resolve("f");
      Files.write(f, new byte[2000]);
      String token = c.controller().adminToken().orElseThrow();
      Process p =
          new ProcessBuilder(
                  "curl",
                  "-skv",
                  "-X",
                  "POST",
                  "-H",
                  "Authorization: Bearer " + token,
                  "-H",
                  "Content-Type: application/octet-stream",
                  "--data-binary",
                  "@" + f,
                  c.url() + "/api/v1/artifacts?kind=k3s&version=v1")
              .redirectErrorStream(true)
              .start();
      System.err.println("CURL: " + new String(p.getInputStream().readAllBytes()));
      p.waitFor();
    }
  }
}
