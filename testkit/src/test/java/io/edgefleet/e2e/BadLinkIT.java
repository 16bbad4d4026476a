package io.edgefleet.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.agent.telemetry.TelemetryFeature;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.Gzip;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.DelayProxy;
import io.edgefleet.testkit.GitRepo;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A link that dies in the middle of a large bundle download, without closing the connection (the
 * far end just stops answering, as a satellite link does): the agent's control loop must go on
 * (reconcile, telemetry sampling, dead-link detection), and once the link is back the download must
 * resume from the byte it reached and the app be ready within seconds.
 */
@Timeout(180)
class BadLinkIT {
  /** Random bytes, hex-encoded: the bundle gzips to a little over half, ~350 KB on the wire. */
  static final int BUNDLE_BYTES = 600 * 1024;

  /** Cut when this much of the bundle crossed the link, well inside the download. */
  static final int CUT_AFTER = 150 * 1024;

  @TempDir Path dir;
  TestController controller;
  AdminClient admin;
  TestAgents agents;
  DelayProxy link;
  GitRepo repo;

  @BeforeEach
  void start() {
    controller = TestController.start(dir.resolve("controller"));
    admin = controller.admin();
    agents = new TestAgents(dir);
    // About 10 s for the bundle; a little latency each way.
    link =
        DelayProxy.forUrl(controller.url())
            .delay(Duration.ofMillis(20))
            .rate(1 << 20, 64 * 1024)
            .start();
    repo = GitRepo.init(dir.resolve("repo"));
  }

  @AfterEach
  void stop() {
    agents.close();
    link.close();
    controller.close();
    repo.close();
  }

  @Test
  void aStalledDownloadFreezesNothingAndResumesWhenTheLinkReturns() throws Exception {
    repo.write("apps/small/app.yaml", GitRepo.configMap("small", "k", "v")).commit("small app");
    assertThat(
            admin
                .post(
                    "/api/v1/repos",
                    Map.of(
                        "name", "fleet", "url", repo.url(), "target", "site=s1", "interval", "1h"))
                .status())
        .isEqualTo(201);
    CountingRuntime runtime = new CountingRuntime();
    AtomicInteger samples = new AtomicInteger();
    String token = controller.token(Map.of("site", "s1"), null, false);
    AgentOptions options =
        agents
            .options("a1", agents.bootstrap("t", link.url(), controller.caFingerprint(), token))
            .withReconcileInterval(Duration.ofSeconds(1))
            .withStallTimeout(Duration.ofSeconds(3));
    TestAgents.WithTelemetry started =
        agents.startWithTelemetry(
            options,
            Clock.systemUTC(),
            runtime,
            () -> {
              samples.incrementAndGet();
              return Map.of("cpu.used", 0.5);
            },
            TelemetryFeature.Options.defaults().withSampleEvery(Duration.ofMillis(500)));
    Agent agent = started.agent();
    await().atMost(Duration.ofSeconds(30)).until(() -> ready(agent, "small"));

    // A large app: its bundle is far above what travels inline with the nudge.
    byte[] noise = new byte[BUNDLE_BYTES / 2];
    new Random(7).nextBytes(noise);
    repo.write(
            "apps/big/app.yaml", GitRepo.configMap("big", "blob", HexFormat.of().formatHex(noise)))
        .commit("big app");
    long downBefore = link.bytesDown();
    admin.post("/api/v1/repos/fleet/sync", Map.of());

    // Cut the link (black hole: nothing passes, nothing closes) inside the download.
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> link.bytesDown() - downBefore > CUT_AFTER);
    link.blackhole();
    long cutAt = System.nanoTime();
    long partialAtCut = link.bytesDown() - downBefore;
    long reconcilesAtCut = runtime.healthChecks.get();
    int samplesAtCut = samples.get();

    // The dead link is noticed within three heartbeat intervals (1 s each here), while the
    // transfer is still stuck.
    await()
        .atMost(TestController.HEARTBEAT.multipliedBy(3).plusSeconds(3))
        .until(() -> agent.status().state() != Agent.State.CONNECTED);
    // Meanwhile the agent keeps working: reconcile passes and telemetry samples go on.
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                runtime.healthChecks.get() >= reconcilesAtCut + 5
                    && samples.get() >= samplesAtCut + 5);
    // The stuck transfer is given up (no progress for 3 s), as a link down for minutes would be.
    await().atMost(Duration.ofSeconds(20)).until(() -> agent.status().stalledTransfers() >= 1);
    assertThat(Duration.ofNanos(System.nanoTime() - cutAt)).isLessThan(Duration.ofSeconds(30));
    assertThat(ready(agent, "big")).isFalse();

    long downBeforeRestore = link.bytesDown();
    link.restore();
    long restoredAt = System.nanoTime();
    await().atMost(Duration.ofSeconds(10)).until(() -> ready(agent, "big"));
    Duration toReady = Duration.ofNanos(System.nanoTime() - restoredAt);
    assertThat(toReady).isLessThan(Duration.ofSeconds(10));

    // Resumed, not restarted: the controller answered a range, and what crossed the link after
    // the cut is about the rest of the bundle, not all of it again.
    assertThat(metric("edgefleet_http_requests_total", "/device/v1/bundles/{digest}", "206"))
        .isGreaterThanOrEqualTo(1);
    long afterRestore = link.bytesDown() - downBeforeRestore;
    assertThat(afterRestore)
        .isLessThan(BUNDLE_BYTES + BUNDLE_BYTES / 10 - partialAtCut + 64 * 1024);
    assertThat(agent.status().state()).isEqualTo(Agent.State.CONNECTED);
  }

  @Test
  void aReconnectBringsTheNewerDocumentOnTheNewSocketAndSaysWhatWentWrong() throws Exception {
    repo.write("apps/small/app.yaml", GitRepo.configMap("small", "k", "v1")).commit("v1");
    assertThat(
            admin
                .post(
                    "/api/v1/repos",
                    Map.of(
                        "name", "fleet", "url", repo.url(), "target", "site=s1", "interval", "1h"))
                .status())
        .isEqualTo(201);
    java.io.ByteArrayOutputStream said = new java.io.ByteArrayOutputStream();
    java.io.PrintStream out =
        new java.io.PrintStream(said, true, java.nio.charset.StandardCharsets.UTF_8);
    agents.close();
    agents = new TestAgents(dir, out);
    String token = controller.token(Map.of("site", "s1"), null, false);
    Agent agent =
        agents.start(
            agents
                .options("a1", agents.bootstrap("t", link.url(), controller.caFingerprint(), token))
                .withReconcileInterval(Duration.ofSeconds(1)),
            Clock.systemUTC(),
            new CountingRuntime());
    await().atMost(Duration.ofSeconds(30)).until(() -> ready(agent, "small"));
    long generation = agent.generation();

    // The link goes down (cut: connections reset, new ones refused) and a change is made.
    link.cut();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> agent.status().state() != Agent.State.CONNECTED);
    repo.write("apps/small/app.yaml", GitRepo.configMap("small", "k", "v2")).commit("v2");
    admin.post("/api/v1/repos/fleet/sync", Map.of());
    double fetchesBefore = metric("edgefleet_http_requests_total", "/device/v1/desired", "200");
    // While it is down the agent keeps trying, and says why each attempt failed.
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> said.toString(java.nio.charset.StandardCharsets.UTF_8).contains("retrying in"));
    await().atMost(Duration.ofSeconds(20)).until(() -> agent.status().lastError().isPresent());

    link.restore();
    await().atMost(Duration.ofSeconds(30)).until(() -> agent.generation() > generation);
    await().atMost(Duration.ofSeconds(10)).until(() -> ready(agent, "small"));
    // The document came over the new WebSocket, not with a request of its own.
    assertThat(metric("edgefleet_http_requests_total", "/device/v1/desired", "200"))
        .isEqualTo(fetchesBefore);
    String log = said.toString(java.nio.charset.StandardCharsets.UTF_8);
    assertThat(log).contains("[CONTROLLER_UNREACHABLE]").contains("retrying in");
    assertThat(log)
        .containsPattern("connected to .* after [0-9.]+s without it \\([0-9]+ attempts?\\)");
  }

  private static boolean ready(Agent agent, String app) {
    return agent.apps().stream()
        .anyMatch(s -> s.name().equals(app) && s.phase() == AppState.Phase.READY);
  }

  /** What the largest stored bundle takes on the wire (the controller serves it gzipped). */
  private static long wireSize(Path stateDir) throws Exception {
    try (Stream<Path> files = Files.list(stateDir.resolve("desired/bundles"))) {
      Path largest =
          files
              .max(
                  java.util.Comparator.comparingLong(
                      p -> {
                        try {
                          return Files.size(p);
                        } catch (java.io.IOException e) {
                          return 0;
                        }
                      }))
              .orElseThrow();
      return Gzip.deflate(Files.readAllBytes(largest)).length;
    }
  }

  private double metric(String name, String route, String status) {
    String text = admin.raw("GET", "/metrics", null, adminToken(), null).body().asText();
    double sum = 0;
    for (String line : text.split("\n")) {
      if (line.startsWith(name + "{")
          && line.contains("route=\"" + route + "\"")
          && line.contains("status=\"" + status + "\"")) {
        sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return sum;
  }

  private String adminToken() {
    return controller.controller().adminToken().orElseThrow();
  }

  /** Applies anything, is always ready, and counts the reconcile passes' health checks. */
  static final class CountingRuntime implements WorkloadRuntime {
    final AtomicInteger healthChecks = new AtomicInteger();
    final Set<String> apps = ConcurrentHashMap.newKeySet();
    final Map<String, String> revisions = new ConcurrentHashMap<>();

    @Override
    public ApplyOutcome apply(String app, String revision, String manifestsYaml) {
      apps.add(app);
      return revision.equals(revisions.put(app, revision))
          ? new ApplyOutcome.InSync()
          : new ApplyOutcome.Applied(1, 0);
    }

    @Override
    public ApplyOutcome remove(String app) {
      apps.remove(app);
      return new ApplyOutcome.Applied(0, 1);
    }

    @Override
    public AppHealth health(String app) {
      healthChecks.incrementAndGet();
      return new AppHealth(AppHealth.State.READY, "ready");
    }

    @Override
    public Set<String> ownedApps() {
      return Set.copyOf(apps);
    }

    @Override
    public void close() {}
  }
}
