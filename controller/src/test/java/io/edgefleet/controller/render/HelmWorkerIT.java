package io.edgefleet.controller.render;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The process that runs real Helm for the controller: its lifecycle and its bounds. */
class HelmWorkerIT {
  static final String DEPLOYMENT =
      """
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: {{ .Release.Name }}
        namespace: {{ .Release.Namespace }}
      spec:
        replicas: {{ .Values.replicas }}
      """;

  /** About 10^10 template iterations in small steps: runs for hours, in constant memory. */
  static final String ENDLESS =
      "{{- range until 100000 }}{{ range until 100000 }}{{ end }}{{ end -}}\n";

  @TempDir Path tmp;
  HelmWorker worker;

  @AfterEach
  void tearDown() {
    if (worker != null) {
      worker.close();
    }
  }

  private HelmWorker worker(Duration timeout, int perProcess, Duration idle) {
    worker =
        new HelmWorker(
            tmp.resolve("helm"),
            new HelmWorker.Options(
                Duration.ofSeconds(60), timeout, perProcess, idle, HelmWorker.DEFAULT_JVM_OPTIONS));
    return worker;
  }

  private Path chart(String name, String template) throws IOException {
    Path chart = tmp.resolve(name);
    Files.createDirectories(chart.resolve("templates"));
    Files.writeString(chart.resolve("Chart.yaml"), "apiVersion: v2\nname: web\nversion: 1.0.0\n");
    Files.writeString(chart.resolve("templates/t.yaml"), template);
    return chart;
  }

  private String render(Path chart, int replicas) throws IOException {
    Path values = tmp.resolve("values.json");
    Files.writeString(values, "{\"replicas\":" + replicas + "}");
    Path out = tmp.resolve("out.yaml");
    worker.template(chart, values, "web", "shop", null, out, 1 << 20);
    return Files.readString(out);
  }

  @Test
  void rendersInAChildProcessThatTheControllerStopsOnClose() throws Exception {
    worker(Duration.ofSeconds(30), 100, Duration.ofMinutes(10));
    Path chart = chart("web", DEPLOYMENT);

    assertThat(render(chart, 2)).contains("namespace: shop").contains("replicas: 2");
    assertThat(render(chart, 3)).contains("replicas: 3");

    ProcessHandle process = worker.process().orElseThrow();
    assertThat(process.parent().map(ProcessHandle::pid)).contains(ProcessHandle.current().pid());
    assertThat(worker.starts()).isEqualTo(1);
    // helm-java unpacks its library into the process's own directory, not the system's /tmp.
    assertThat(tmp.resolve("helm").resolve("worker-1")).isDirectory();

    worker.close();
    assertThat(process.isAlive()).isFalse();
    assertThat(tmp.resolve("helm").resolve("worker-1")).doesNotExist();
    assertThatThrownBy(() -> render(chart, 1))
        .isInstanceOf(HelmUnavailableException.class)
        .hasMessageContaining("the controller is stopping");
  }

  @Test
  void aRenderOverItsDeadlineIsStoppedAndTheNextOneGetsAFreshProcess() throws Exception {
    worker(Duration.ofSeconds(2), 100, Duration.ofMinutes(10));
    Path good = chart("web", DEPLOYMENT);
    Path endless = chart("endless", ENDLESS);
    render(good, 1);
    ProcessHandle first = worker.process().orElseThrow();

    long start = System.nanoTime();
    assertThatThrownBy(() -> render(endless, 1))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("Helm did not finish within 2 s and was stopped");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    await().atMost(Duration.ofSeconds(10)).until(() -> !first.isAlive());

    assertThat(render(good, 4)).contains("replicas: 4");
    assertThat(worker.starts()).isEqualTo(2);
  }

  @Test
  void theProcessIsReplacedAfterItsShareOfRendersAndWhenIdle() throws Exception {
    worker(Duration.ofSeconds(30), 2, Duration.ofMillis(500));
    Path chart = chart("web", DEPLOYMENT);

    render(chart, 1);
    ProcessHandle first = worker.process().orElseThrow();
    render(chart, 2); // its second render: it is retired
    await().atMost(Duration.ofSeconds(10)).until(() -> !first.isAlive());
    assertThat(worker.process()).isEmpty();

    render(chart, 3);
    ProcessHandle second = worker.process().orElseThrow();
    assertThat(second.pid()).isNotEqualTo(first.pid());
    // Nothing more to do: it is stopped after the idle timeout, with its directory.
    await().atMost(Duration.ofSeconds(10)).until(() -> !second.isAlive());
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(entries(tmp.resolve("helm"))).isEmpty());
    assertThat(worker.starts()).isEqualTo(2);
  }

  @Test
  void aProcessThatDiedIsReplacedOnTheNextRender() throws Exception {
    worker(Duration.ofSeconds(30), 100, Duration.ofMinutes(10));
    Path chart = chart("web", DEPLOYMENT);
    render(chart, 1);
    ProcessHandle first = worker.process().orElseThrow();

    first.destroyForcibly();
    await().atMost(Duration.ofSeconds(10)).until(() -> !first.isAlive());

    assertThat(render(chart, 5)).contains("replicas: 5");
    assertThat(worker.starts()).isEqualTo(2);
  }

  @Test
  void aChartThatKillsTheProcessIsTriedOnceMoreThenRefused() throws Exception {
    // 40 MB of output does not fit the worker's 32 MB heap: its JVM exits on the OutOfMemoryError.
    worker =
        new HelmWorker(
            tmp.resolve("helm"),
            new HelmWorker.Options(
                Duration.ofSeconds(60),
                Duration.ofSeconds(60),
                100,
                Duration.ofMinutes(10),
                List.of("-XX:+UseSerialGC", "-Xmx32m", "-XX:+ExitOnOutOfMemoryError")));
    Path huge =
        chart(
            "huge",
            """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: huge
            data:
              blob: {{ "x" | repeat 40000000 | quote }}
            """);

    assertThatThrownBy(() -> render(huge, 1))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("Helm stopped unexpectedly on this chart twice in a row")
        .hasMessageContaining("OutOfMemoryError");
    assertThat(worker.starts()).isEqualTo(2);

    assertThat(render(chart("web", DEPLOYMENT), 6)).contains("replicas: 6");
    assertThat(worker.starts()).isEqualTo(3);
  }

  @Test
  void helmsOwnErrorsComeBackAsRenderErrors() throws Exception {
    worker(Duration.ofSeconds(30), 100, Duration.ofMinutes(10));
    Path broken = chart("broken", "kind: {{ .Values.replicas | nosuchfunc }}\n");

    assertThatThrownBy(() -> render(broken, 1))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("nosuchfunc");
    // A chart error costs no process.
    assertThat(render(chart("web", DEPLOYMENT), 1)).contains("replicas: 1");
    assertThat(worker.starts()).isEqualTo(1);
  }

  @Test
  void aProcessThatCannotStartIsReportedAsHelmUnavailable() throws Exception {
    worker =
        new HelmWorker(
            tmp.resolve("helm"),
            new HelmWorker.Options(
                Duration.ofSeconds(60),
                Duration.ofSeconds(30),
                100,
                Duration.ofMinutes(10),
                List.of("-XX:+NoSuchOptionForThisTest")));
    Path chart = chart("web", DEPLOYMENT);

    assertThatThrownBy(() -> render(chart, 1))
        .isInstanceOf(HelmUnavailableException.class)
        .hasMessageContaining("the Helm process exited while starting")
        .hasMessageContaining("NoSuchOptionForThisTest");
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(entries(tmp.resolve("helm"))).isEmpty());
  }

  private static List<Path> entries(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.toList();
    }
  }
}
