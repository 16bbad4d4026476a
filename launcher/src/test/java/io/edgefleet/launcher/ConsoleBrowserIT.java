package io.edgefleet.launcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.logs.LogsFeature;
import io.edgefleet.agent.outbox.Outbox;
import io.edgefleet.agent.telemetry.NodeSampler;
import io.edgefleet.agent.telemetry.TelemetryFeature;
import io.edgefleet.controller.alerts.AlertOptions;
import io.edgefleet.simulator.Simulator;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The web console in a real Chromium against a real controller: agents that enrolled over TLS (the
 * demo runtime, serving its log), a device waiting for approval, simulated devices for paging, and
 * a catalog app with two versions. The scenarios themselves are node tests in {@code console/e2e}
 * (playwright-core driving the system's Chromium); this test sets the fleet up, runs them, streams
 * their output here and fails when they do. An agent can be stopped (and started again) by the
 * scenarios through a small loopback control endpoint, so a device goes offline mid-scenario.
 *
 * <p>Needs {@code node}/{@code npm} (v20+) and Chromium ({@code /usr/bin/chromium}, or {@code
 * EDGEFLEET_CHROMIUM}); fails saying what is missing otherwise. Screenshots (1280x800 PNG) are
 * written to {@code launcher/target/console-screenshots}.
 */
class ConsoleBrowserIT {
  /** Real agents: enough for a canary and two waves. */
  static final int AGENTS = 12;

  /** Simulated devices, so that the devices list has more than one page. */
  static final int SIMULATED = 60;

  static final String[] SITES = {"store-17", "store-18", "rig-4"};
  static final String APP = "pos";
  static final Duration NODE_TIMEOUT = Duration.ofMinutes(8);

  @TempDir Path dir;
  TestController controller;
  TestAgents agents;
  Simulator sim;
  HttpServer control;
  final Map<String, Agent> byName = new ConcurrentHashMap<>();
  final ScheduledExecutorService telemetryThreads = Executors.newSingleThreadScheduledExecutor();
  final Map<String, DemoRuntime> runtimes = new ConcurrentHashMap<>();

  @AfterEach
  void stop() {
    if (control != null) {
      control.stop(0);
    }
    if (sim != null) {
      sim.close();
    }
    if (agents != null) {
      agents.close();
    }
    runtimes.values().forEach(DemoRuntime::close);
    telemetryThreads.shutdownNow();
    if (controller != null) {
      controller.close();
    }
  }

  @Test
  void theConsoleScenariosPassInChromium() throws Exception {
    Path e2e = e2eDir();
    String chromium = chromium();
    String node = tool("node");
    String npm = tool("npm");

    controller =
        TestController.start(
            TestController.config(dir.resolve("controller"))
                .withAlerts(AlertOptions.defaults().withTick(Duration.ofSeconds(1)))
                .withTelemetryInterval(Duration.ofSeconds(2)));
    AdminClient admin = controller.admin();
    agents = new TestAgents(dir, new PrintStream(OutputStream.nullOutputStream()));
    List<String> names = new ArrayList<>();
    for (int i = 0; i < AGENTS; i++) {
      String site = SITES[i % SITES.length];
      String name = String.format("%s-pos-%02d", site, i / SITES.length + 1);
      Path bootstrap =
          agents.bootstrap(
              name,
              controller.url(),
              controller.caFingerprint(),
              controller.token(Map.of("site", site, "env", "demo"), 1, false));
      launch(name, bootstrap);
      names.add(name);
    }
    String pendingToken = controller.token(Map.of("site", "lab-1", "env", "lab"), 1, true);
    Path pendingBootstrap =
        agents.bootstrap("lab-gw-01", controller.url(), controller.caFingerprint(), pendingToken);
    Agent pending = launch("lab-gw-01", pendingBootstrap);
    sim = startSimulator(admin);

    pushVersion(admin, "1.0.0", "1.0");
    pushVersion(admin, "2.0.0", "2.0");
    pushVersion(admin, "2.1.0", "2.1");

    await()
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(200))
        .alias("every agent online, the lab gateway pending, every simulated device online")
        .until(
            () ->
                names.stream()
                        .allMatch(n -> byName.get(n).status().state() == Agent.State.CONNECTED)
                    && pending.status().state() == Agent.State.PENDING_APPROVAL
                    && sim.connected() == SIMULATED);
    String pendingId = pending.status().deviceId().orElseThrow();

    control = controlServer();
    Path shots = Path.of("target", "console-screenshots").toAbsolutePath();
    Files.createDirectories(shots);
    Map<String, String> env = new LinkedHashMap<>();
    env.put("EDGEFLEET_URL", controller.url());
    env.put("EDGEFLEET_TOKEN", controller.controller().adminToken().orElseThrow());
    env.put("EDGEFLEET_CHROMIUM", chromium);
    env.put("EDGEFLEET_SCREENSHOTS", shots.toString());
    env.put("EDGEFLEET_CONTROL", "http://127.0.0.1:" + control.getAddress().getPort());
    env.put("EDGEFLEET_PENDING_DEVICE", pendingId);
    env.put("EDGEFLEET_PENDING_AGENT", "lab-gw-01");
    env.put("EDGEFLEET_AGENTS", String.join(",", names));
    env.put("EDGEFLEET_AGENT_IDS", String.join(",", names.stream().map(this::idOf).toList()));
    env.put("EDGEFLEET_APP", APP);
    env.put("EDGEFLEET_SIMULATED", Integer.toString(SIMULATED));

    if (hold(env)) {
      return;
    }
    npmCi(npm, e2e);
    List<String> command =
        new ArrayList<>(List.of(node, "--test", "--test-concurrency=1", "--test-reporter=spec"));
    command.addAll(scenarios(e2e));
    int exit = run(e2e, env, command.toArray(String[]::new));
    assertThat(exit).as("node --test in %s (its output is above)", e2e).isZero();
  }

  /**
   * For working on the scenarios: with {@code -Dconsole.e2e.hold=SECONDS} the fleet is kept that
   * long (or until {@code target/console-e2e.stop} exists) instead of running node, and its
   * environment is written to {@code target/console-e2e.env} for {@code set -a; .
   * launcher/target/console-e2e.env; cd console/e2e; node --test tests/NN-….e2e.mjs}.
   */
  private static boolean hold(Map<String, String> env) throws IOException {
    String hold = System.getProperty("console.e2e.hold", "");
    if (hold.isEmpty()) {
      return false;
    }
    Path file = Path.of("target", "console-e2e.env");
    Path stop = Path.of("target", "console-e2e.stop");
    Files.deleteIfExists(stop);
    StringBuilder lines = new StringBuilder();
    env.forEach((k, v) -> lines.append(k).append("='").append(v).append("'\n"));
    Files.writeString(file, lines);
    System.out.println("holding the fleet; environment in " + file.toAbsolutePath());
    try {
      await()
          .atMost(Duration.ofSeconds(Long.parseLong(hold)))
          .pollInterval(Duration.ofSeconds(1))
          .until(() -> Files.exists(stop));
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      System.out.println("held the fleet for " + hold + " s");
    }
    return true;
  }

  private String idOf(String name) {
    return byName.get(name).status().deviceId().orElseThrow();
  }

  private Agent launch(String name, Path bootstrap) {
    DemoRuntime runtime = new DemoRuntime();
    DemoRuntime before = runtimes.put(name, runtime);
    if (before != null) {
      before.close();
    }
    AgentOptions options = agents.options(name, bootstrap).withName(name).withSerial("SN-" + name);
    Clock clock = Clock.systemUTC();
    // As `edgefleet agent` has them: workload logs (here the demo runtime's record) and telemetry
    // (this machine's own figures, sampled often so the device page has charts within the test).
    Agent agent =
        agents.start(
            options,
            clock,
            runtime,
            List.of(
                a ->
                    LogsFeature.forAgent(
                        a,
                        runtime,
                        clock,
                        LogsFeature.Options.defaults().withCollectEvery(Duration.ofSeconds(1))),
                a -> {
                  TelemetryFeature telemetry =
                      new TelemetryFeature(
                          Outbox.open(
                              options.stateDir().resolve("outbox"),
                              Outbox.Options.defaults(),
                              clock),
                          NodeSampler.system(),
                          a::apps,
                          telemetryThreads,
                          clock,
                          TelemetryFeature.Options.defaults()
                              .withSampleEvery(Duration.ofMillis(500)));
                  telemetry.start();
                  return telemetry;
                }));
    byName.put(name, agent);
    return agent;
  }

  private Simulator startSimulator(AdminClient admin) {
    AdminClient.Answer token =
        admin.post(
            "/api/v1/onboarding-tokens",
            Map.of("tags", Map.of("env", "sim", "site", "sim-1"), "maxUses", SIMULATED));
    assertThat(token.status()).as(token.body().toString()).isEqualTo(201);
    Path bootstrap =
        agents.bootstrap(
            "sim",
            controller.url(),
            controller.caFingerprint(),
            token.body().path("token").asText());
    return Simulator.start(
        Simulator.Options.of(bootstrap, SIMULATED, dir.resolve("sim-state"))
            .withMaxBackoff(Duration.ofSeconds(2)),
        new PrintStream(OutputStream.nullOutputStream()));
  }

  /** A chart with one Deployment, pushed to the catalog as {@code pos@version}. */
  private void pushVersion(AdminClient admin, String version, String image)
      throws IOException, InterruptedException {
    Path chart = dir.resolve("chart-" + version).resolve(APP);
    Files.createDirectories(chart.resolve("templates"));
    Files.writeString(
        chart.resolve("Chart.yaml"), "apiVersion: v2\nname: " + APP + "\nversion: " + version);
    Files.writeString(
        chart.resolve("values.yaml"), "image: registry.example/edgefleet/pos:" + image + "\n");
    Files.writeString(
        chart.resolve("templates/deployment.yaml"),
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: pos
        spec:
          replicas: 1
          selector: {matchLabels: {app: pos}}
          template:
            metadata: {labels: {app: pos}}
            spec:
              containers:
              - name: pos
                image: {{ .Values.image }}
        """);
    Path archive = dir.resolve(APP + "-" + version + ".tgz");
    Process tar =
        new ProcessBuilder(
                "tar", "-czf", archive.toString(), "-C", chart.getParent().toString(), APP)
            .redirectErrorStream(true)
            .start();
    assertThat(tar.waitFor()).as(new String(tar.getInputStream().readAllBytes())).isZero();
    AdminClient.Answer pushed =
        admin.post(
            "/api/v1/catalog/apps/" + APP + "/versions",
            Map.of(
                "version",
                version,
                "kind",
                "chart",
                "description",
                "point of sale " + version,
                "archive",
                Base64.getEncoder().encodeToString(Files.readAllBytes(archive))));
    assertThat(pushed.status()).as(pushed.body().toString()).isEqualTo(201);
  }

  /**
   * {@code POST /agents/NAME/stop} closes an agent (its device goes silent, as if unplugged);
   * {@code POST /agents/NAME/start} starts it again from its saved identity. Loopback only.
   */
  private HttpServer controlServer() throws IOException {
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext(
        "/agents/",
        exchange -> {
          try (exchange) {
            String[] parts = exchange.getRequestURI().getPath().split("/");
            if (!exchange.getRequestMethod().equals("POST") || parts.length != 4) {
              answer(exchange, 405, "POST /agents/NAME/stop|start");
              return;
            }
            String name = parts[2];
            Agent agent = byName.get(name);
            if (agent == null) {
              answer(exchange, 404, "no agent " + name);
              return;
            }
            switch (parts[3]) {
              case "stop" -> {
                agent.close();
                answer(exchange, 200, "stopped " + name);
              }
              case "start" -> {
                launch(name, dir.resolve("bootstrap-" + name + ".json"));
                answer(exchange, 200, "started " + name);
              }
              default -> answer(exchange, 404, "stop or start");
            }
          }
        });
    server.start();
    return server;
  }

  private static void answer(HttpExchange exchange, int status, String text) throws IOException {
    byte[] body = text.getBytes(StandardCharsets.UTF_8);
    exchange.sendResponseHeaders(status, body.length);
    exchange.getResponseBody().write(body);
  }

  // ------------------------------------------------------------------ node and Chromium

  private static Path e2eDir() {
    Path base = Path.of(System.getProperty("basedir", ".")).toAbsolutePath();
    Path e2e = base.resolve("../console/e2e").normalize();
    assertThat(e2e.resolve("package-lock.json")).as("the browser tests' folder").exists();
    return e2e;
  }

  /**
   * The scenario files {@code tests/*.e2e.mjs} in name order (they build on each other: the
   * approved device, the deployed app); {@code -Dconsole.e2e.only=REGEX} runs the matching ones.
   */
  private static List<String> scenarios(Path e2e) throws IOException {
    String only = System.getProperty("console.e2e.only", "");
    try (var files = Files.list(e2e.resolve("tests"))) {
      List<String> out =
          files
              .map(p -> "tests/" + p.getFileName())
              .filter(n -> n.endsWith(".e2e.mjs"))
              .filter(
                  n -> only.isEmpty() || java.util.regex.Pattern.compile(only).matcher(n).find())
              .sorted()
              .toList();
      assertThat(out).as("scenarios in %s/tests", e2e).isNotEmpty();
      return out;
    }
  }

  /** Chromium from EDGEFLEET_CHROMIUM, else Debian's {@code chromium}; fails when there is none. */
  private static String chromium() {
    String configured = System.getenv("EDGEFLEET_CHROMIUM");
    for (String candidate :
        configured != null && !configured.isBlank()
            ? List.of(configured)
            : List.of("/usr/bin/chromium", "/usr/bin/chromium-browser")) {
      if (Files.isExecutable(Path.of(candidate))) {
        return candidate;
      }
    }
    return fail(
        "ConsoleBrowserIT needs Chromium: none at "
            + (configured != null ? configured : "/usr/bin/chromium")
            + ". Install it with `apt-get install chromium` (.ci/run does), or point"
            + " EDGEFLEET_CHROMIUM at a Chromium binary.");
  }

  /** The absolute path of {@code name} on the PATH; fails when it is not there. */
  private static String tool(String name) {
    for (String d : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
      Path p = Path.of(d, name);
      if (!d.isEmpty() && Files.isExecutable(p)) {
        return p.toString();
      }
    }
    return fail(
        "ConsoleBrowserIT needs "
            + name
            + " (Node.js 20 or newer with npm) on the PATH to run the browser tests in"
            + " console/e2e; install Node.js (e.g. `apt-get install nodejs npm`).");
  }

  /** {@code npm ci} once: again only when the lock file changed since. */
  private static void npmCi(String npm, Path e2e) throws Exception {
    Path installed = e2e.resolve("node_modules/.package-lock.json");
    if (Files.exists(installed)
        && Files.getLastModifiedTime(installed)
                .compareTo(Files.getLastModifiedTime(e2e.resolve("package-lock.json")))
            >= 0) {
      return;
    }
    int exit = run(e2e, Map.of(), npm, "ci", "--no-audit", "--no-fund");
    assertThat(exit).as("npm ci in %s", e2e).isZero();
  }

  /** Runs a command in {@code dir}, copying its output here line by line; its exit status. */
  private static int run(Path dir, Map<String, String> env, String... command) throws Exception {
    ProcessBuilder pb =
        new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
    pb.environment().putAll(env);
    System.out.println("$ " + String.join(" ", command) + "   (in " + dir + ")");
    Process p = pb.start();
    Thread copy =
        Thread.ofPlatform()
            .daemon()
            .start(
                () -> {
                  try (BufferedReader r =
                      new BufferedReader(
                          new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = r.readLine()) != null; ) {
                      System.out.println("[" + command[0].replaceAll(".*/", "") + "] " + line);
                    }
                  } catch (IOException e) {
                    System.out.println("(output ended: " + e + ")");
                  }
                });
    if (!p.waitFor(NODE_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      copy.join(5_000);
      return fail(String.join(" ", command) + " did not end within " + NODE_TIMEOUT);
    }
    copy.join(5_000);
    return p.exitValue();
  }
}
