package io.edgefleet.e2e.runtimes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.AppHealth.State;
import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.Blobs;
import io.edgefleet.agent.runtime.DriftRepair;
import io.edgefleet.agent.runtime.DriftRepair.Cause;
import io.edgefleet.agent.runtime.WorkloadRuntime.LogQuery;
import io.edgefleet.agent.runtime.WorkloadRuntime.LogSink;
import io.edgefleet.agent.runtime.WorkloadRuntime.LogSource;
import io.edgefleet.agent.runtime.WorkloadRuntime.LogStream;
import io.edgefleet.agent.runtime.container.ContainerRuntime;
import io.edgefleet.testkit.oci.OciImages;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The container runtime with the real podman (rootful, runc) of this machine: a BusyBox httpd image
 * built as an OCI archive, found in a blob directory as the agent's cache keeps it, run, checked,
 * killed, replaced, read and removed. Every container, volume and image the test makes carries its
 * own app name and is removed afterwards.
 */
class ContainerRuntimeIT {
  private static final Duration WAIT = Duration.ofSeconds(60);

  @TempDir Path dir;

  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private ContainerRuntime runtime;
  private Path blobDir;
  private String app;
  private int port;
  private OciImages.Built image;

  @BeforeEach
  void start() throws IOException {
    app = "it-" + Long.toString(ThreadLocalRandom.current().nextLong(1L << 40), 36);
    blobDir = Files.createDirectories(dir.resolve("blobs"));
    Blobs blobs =
        digest -> {
          Path p = blobDir.resolve(digest.substring("sha256:".length()));
          return Files.isRegularFile(p) ? Optional.of(p) : Optional.empty();
        };
    runtime = new ContainerRuntime(ContainerRuntime.Options.defaults(), blobs);
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    // The app's name inside makes the image this test's own: no other test shares its tag.
    image =
        OciImages.busybox()
            .file("www/index.html", "hello from " + app + "\n", 0644)
            .file("www/health", "ok\n", 0644)
            .cmd("/bin/httpd", "-f", "-v", "-p", "8080", "-h", "/www")
            .expose("8080/tcp")
            .writeArchive(dir.resolve("image.tar"));
  }

  @AfterEach
  void stop() throws Exception {
    try {
      runtime.remove(app);
    } finally {
      runtime.close();
      // Whatever the runtime left behind, by label and by name.
      for (String id :
          podman("ps", "-a", "-q", "--filter", "label=io.edgefleet.app=" + app).lines().toList()) {
        podman("rm", "-f", id);
      }
      for (String v :
          podman("volume", "ls", "-q", "--filter", "label=io.edgefleet.app=" + app)
              .lines()
              .toList()) {
        podman("volume", "rm", "-f", v);
      }
      podman("rmi", "-f", imageName());
    }
  }

  private String imageName() {
    return "localhost/edgefleet-blob:" + image.archiveDigest().substring("sha256:".length());
  }

  private void storeBlob() throws IOException {
    Files.copy(
        image.archive(), blobDir.resolve(image.archiveDigest().substring("sha256:".length())));
  }

  private String container(String env, String healthCheck) {
    return """
        apiVersion: edgefleet.io/v1
        kind: Container
        metadata: {name: web}
        spec:
          image: %s
          env: {MODE: %s}
          ports: [{host: %d, container: 8080, hostIp: 127.0.0.1}]
          volumes: [{name: data, mountPath: /data}]
          restart: always
          healthCheck: %s
        """
        .formatted(image.archiveDigest(), env, port, healthCheck);
  }

  private static final String HTTP_CHECK =
      "{http: {port: 8080, path: /health}, interval: 1s, timeout: 2s, retries: 1}";

  private String get(String path) throws Exception {
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(5))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    return r.statusCode() + " " + r.body();
  }

  private String containerId() throws Exception {
    return podman("inspect", "--format", "{{.Id}}", app + "_web").strip();
  }

  @Test
  void runsTheImageFromItsBlobAndKeepsItRunning() throws Exception {
    String yaml = container("edge", HTTP_CHECK);

    ApplyOutcome waiting = runtime.apply(app, "r1", yaml);
    assertThat(waiting).isInstanceOf(ApplyOutcome.RetryAfter.class);
    assertThat(((ApplyOutcome.RetryAfter) waiting).reason())
        .isEqualTo(
            "image " + image.archiveDigest().substring(0, 19) + "… is not on the device yet");

    storeBlob();
    assertThat(runtime.apply(app, "r1", yaml)).isEqualTo(new ApplyOutcome.Applied(1, 0));
    assertThat(runtime.ownedApps()).contains(app);
    await().atMost(WAIT).until(() -> runtime.health(app).state() == State.READY);
    assertThat(get("/index.html")).isEqualTo("200 hello from " + app + "\n");
    assertThat(runtime.apply(app, "r1", yaml)).isInstanceOf(ApplyOutcome.InSync.class);
    assertThat(exitCode("volume", "exists", app + "_data")).isZero();
    assertThat(
            podman(
                    "inspect",
                    "--format",
                    "{{index .Config.Labels \"io.edgefleet.revision\"}}",
                    app + "_web")
                .strip())
        .isEqualTo("r1");

    // The health check drives readiness: a failing check makes the app not ready.
    podman("exec", app + "_web", "rm", "/www/health");
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              AppHealth h = runtime.health(app);
              assertThat(h.state()).isEqualTo(State.FAILED);
              assertThat(h.reason()).contains("web: unhealthy").contains("answered 404");
            });
    podman("exec", app + "_web", "sh", "-c", "echo ok > /www/health");
    await().atMost(WAIT).until(() -> runtime.health(app).state() == State.READY);

    // Killed: the next pass starts it again and reports it.
    String id = containerId();
    podman("kill", app + "_web");
    await()
        .atMost(WAIT)
        .until(
            () -> podman("inspect", "--format", "{{.State.Status}}", id).strip().equals("exited"));
    assertThat(runtime.health(app).state()).isNotEqualTo(State.READY);
    assertThat(runtime.apply(app, "r1", yaml))
        .isEqualTo(
            new ApplyOutcome.Applied(
                1, 0, List.of(new DriftRepair("Container " + app + "/web", Cause.STOPPED))));
    assertThat(containerId()).isEqualTo(id);
    await().atMost(WAIT).until(() -> runtime.health(app).state() == State.READY);
    assertThat(get("/index.html")).startsWith("200 ");

    // Deleted by hand: created again, and reported.
    podman("rm", "-f", app + "_web");
    assertThat(runtime.apply(app, "r1", yaml))
        .isEqualTo(
            new ApplyOutcome.Applied(
                1, 0, List.of(new DriftRepair("Container " + app + "/web", Cause.DELETED))));
    String recreated = containerId();
    assertThat(recreated).isNotEqualTo(id);

    // A changed spec replaces the container; the agent's own change is no drift.
    String changed = container("changed", HTTP_CHECK);
    assertThat(runtime.apply(app, "r2", changed)).isEqualTo(new ApplyOutcome.Applied(1, 0));
    assertThat(containerId()).isNotEqualTo(recreated);
    assertThat(podman("exec", app + "_web", "sh", "-c", "echo $MODE").strip()).isEqualTo("changed");
    await().atMost(WAIT).until(() -> runtime.health(app).state() == State.READY);
    assertThat(get("/index.html")).startsWith("200 ");

    // Removal takes the containers, the volume and the image.
    assertThat(runtime.remove(app)).isEqualTo(new ApplyOutcome.Applied(0, 2));
    assertThat(podman("ps", "-a", "-q", "--filter", "label=io.edgefleet.app=" + app)).isBlank();
    assertThat(exitCode("volume", "exists", app + "_data")).isNotZero();
    assertThat(exitCode("image", "exists", imageName())).isNotZero();
    assertThat(runtime.ownedApps()).doesNotContain(app);
    assertThat(runtime.remove(app)).isInstanceOf(ApplyOutcome.InSync.class);
    assertThat(runtime.health(app).state()).isEqualTo(State.MISSING);
  }

  @Test
  void logsAreReadAndFollowed() throws Exception {
    storeBlob();
    String yaml = container("edge", "{tcp: {port: 8080}, interval: 1s}");
    assertThat(runtime.apply(app, "r1", yaml)).isInstanceOf(ApplyOutcome.Applied.class);
    await().atMost(WAIT).until(() -> runtime.health(app).state() == State.READY);
    get("/index.html");

    List<LogSource> sources = runtime.logSources(app);
    assertThat(sources).containsExactly(new LogSource(app, "web", "web"));

    Lines tail = new Lines();
    try (LogStream s =
        runtime.readLogs(sources.get(0), new LogQuery(100, false, Instant.EPOCH), tail)) {
      await().atMost(WAIT).until(() -> tail.ended != null);
    }
    assertThat(tail.ended).isEqualTo("completed");
    assertThat(tail.lines).anyMatch(l -> l.contains("response:200"));
    assertThat(tail.times).allMatch(t -> t.isAfter(Instant.now().minusSeconds(600)));

    // Only lines written since a time: none after the last one.
    Instant last = tail.times.get(tail.times.size() - 1);
    Lines since = new Lines();
    try (LogStream s =
        runtime.readLogs(sources.get(0), new LogQuery(100, false, last.plusSeconds(1)), since)) {
      await().atMost(WAIT).until(() -> since.ended != null);
    }
    assertThat(since.ended).isEqualTo("completed");
    assertThat(since.lines).isEmpty();

    Lines follow = new Lines();
    LogStream f = runtime.readLogs(sources.get(0), new LogQuery(0, true, Instant.EPOCH), follow);
    try {
      await()
          .atMost(WAIT)
          .untilAsserted(
              () -> {
                get("/missing-" + app);
                assertThat(follow.lines).anyMatch(l -> l.contains("response:404"));
              });
    } finally {
      f.close();
    }
  }

  @Test
  void anExecCheckAndAContainerThatExitsForGood() throws Exception {
    storeBlob();
    String yaml =
        """
        apiVersion: edgefleet.io/v1
        kind: Container
        metadata: {name: job}
        spec:
          image: %s
          command: [/bin/sh, -c, "echo working; exit 3"]
          restart: never
        ---
        apiVersion: edgefleet.io/v1
        kind: Container
        metadata: {name: web}
        spec:
          image: %s
          healthCheck: {exec: [test, -f, /www/health], interval: 1s, retries: 2}
        """
            .formatted(image.archiveDigest(), image.archiveDigest());
    assertThat(runtime.apply(app, "r1", yaml)).isEqualTo(new ApplyOutcome.Applied(2, 0));
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              AppHealth h = runtime.health(app);
              assertThat(h.state()).isEqualTo(State.FAILED);
              assertThat(h.reason()).isEqualTo("job: exited with code 3");
            });
    // Not restarted: its policy says never.
    assertThat(runtime.apply(app, "r1", yaml)).isInstanceOf(ApplyOutcome.InSync.class);

    // Dropping the job from the app removes its container; the exec check makes web ready.
    String webOnly = yaml.substring(yaml.indexOf("---") + 4);
    assertThat(runtime.apply(app, "r2", webOnly)).isEqualTo(new ApplyOutcome.Applied(0, 1));
    await().atMost(WAIT).until(() -> runtime.health(app).state() == State.READY);
    assertThat(exitCode("container", "exists", app + "_job")).isNotZero();
  }

  /** Collects a log stream. */
  static final class Lines implements LogSink {
    final List<String> lines = new CopyOnWriteArrayList<>();
    final List<Instant> times = new CopyOnWriteArrayList<>();
    volatile String ended;

    @Override
    public void line(Instant at, String line) {
      times.add(at);
      lines.add(line);
    }

    @Override
    public void completed() {
      ended = "completed";
    }

    @Override
    public void failed(String reason) {
      ended = "failed: " + reason;
    }
  }

  private static String podman(String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of("podman"));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    return out;
  }

  private static int exitCode(String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of("podman"));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    p.getOutputStream().close();
    p.getInputStream().readAllBytes();
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    return p.exitValue();
  }
}
