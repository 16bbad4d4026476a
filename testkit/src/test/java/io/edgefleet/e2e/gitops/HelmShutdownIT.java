package io.edgefleet.e2e.gitops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.ControllerProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A controller that has run Helm still stops on SIGTERM (as {@code systemctl stop} and Kubernetes
 * stop it), and Helm's process never outlives it, whether it stops cleanly or is killed.
 */
class HelmShutdownIT {
  /** Generous for two busy cores; a controller without Helm work stops in about 2 s. */
  private static final Duration STOP_BOUND = Duration.ofSeconds(15);

  @TempDir Path dir;

  @Test
  void aControllerThatRenderedAChartStopsOnSigtermAndItsRenderWorkerWithIt() throws Exception {
    try (ControllerProcess controller =
        new ControllerProcess(dir.resolve("controller"), List.of()).start()) {
      pushChart(controller, "1.0.0");
      List<ProcessHandle> children = controller.descendants();
      // Helm's Go runtime takes over SIGTERM in any process that loads it: never the controller.
      Path maps = Path.of("/proc", String.valueOf(controller.handle().pid()), "maps");
      assertThat(Files.readString(maps)).doesNotContain("helm-linux-amd64");

      long start = System.nanoTime();
      OptionalInt exit = controller.terminate(STOP_BOUND);
      Duration took = Duration.ofNanos(System.nanoTime() - start);

      assertThat(exit)
          .as("the controller exits within %s of SIGTERM after a Helm render", STOP_BOUND)
          .isPresent();
      assertThat(took).isLessThan(STOP_BOUND);
      // The shutdown hook ran: the JVM reports death by SIGTERM (128 + 15) after running it.
      assertThat(exit.getAsInt()).isEqualTo(143);
      assertThat(children).as("Helm ran in a child process of the controller").isNotEmpty();
      await()
          .atMost(Duration.ofSeconds(5))
          .untilAsserted(() -> assertThat(children).noneMatch(ProcessHandle::isAlive));
    }
  }

  @Test
  void theRenderWorkerExitsWhenTheControllerIsKilled() throws Exception {
    try (ControllerProcess controller =
        new ControllerProcess(dir.resolve("controller"), List.of()).start()) {
      pushChart(controller, "1.0.0");
      List<ProcessHandle> children = controller.descendants();
      assertThat(children).as("Helm runs in a child process of the controller").isNotEmpty();

      controller.kill9();

      // No shutdown hook ran; the worker notices that its input closed.
      await()
          .atMost(STOP_BOUND)
          .untilAsserted(() -> assertThat(children).noneMatch(ProcessHandle::isAlive));
    }
  }

  private void pushChart(ControllerProcess controller, String version)
      throws IOException, InterruptedException {
    Path chart = dir.resolve("chart").resolve("web");
    Files.createDirectories(chart.resolve("templates"));
    Files.writeString(chart.resolve("Chart.yaml"), "apiVersion: v2\nname: web\nversion: 1.0.0\n");
    Files.writeString(chart.resolve("values.yaml"), "replicas: 1\n");
    Files.writeString(
        chart.resolve("templates/deployment.yaml"),
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ .Release.Name }}
        spec:
          replicas: {{ .Values.replicas }}
        """);
    Path archive = dir.resolve("web.tgz");
    Process tar =
        new ProcessBuilder(
                "tar", "-czf", archive.toString(), "-C", chart.getParent().toString(), "web")
            .redirectErrorStream(true)
            .start();
    assertThat(tar.waitFor()).as(new String(tar.getInputStream().readAllBytes())).isZero();
    try (AdminClient admin = controller.admin()) {
      AdminClient.Answer pushed =
          admin.post(
              "/api/v1/catalog/apps/web/versions",
              Map.of(
                  "version",
                  version,
                  "kind",
                  "chart",
                  "archive",
                  Base64.getEncoder().encodeToString(Files.readAllBytes(archive))));
      assertThat(pushed.status()).as(pushed.body().toString()).isEqualTo(201);
    }
  }
}
