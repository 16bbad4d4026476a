package io.edgefleet.e2e.logs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.logs.LogsFeature;
import io.edgefleet.agent.runtime.NoRuntime;
import io.edgefleet.agent.runtime.kubernetes.KubernetesRuntime;
import io.edgefleet.cli.CliCommands;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.CountingProxy;
import io.edgefleet.testkit.GitRepo;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import io.edgefleet.testkit.kube.KubeCluster;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Workload logs end to end: a real agent with the Kubernetes runtime applies an app to a real
 * kube-apiserver; the controller asks it for the app's logs over the agent's own connection, and
 * the agent reads them through the API server from the kubelet (on the local cluster the testkit's
 * kubelet stand-in, whose containers write {@code line N of POD/CONTAINER} every 200 ms; on a real
 * cluster a busybox container writing the same).
 */
class LogsIT {
  static final KubeCluster KUBE = KubeCluster.shared();
  static final Duration READY = Duration.ofSeconds(KUBE.local() ? 60 : 180);
  static final Pattern LINE = Pattern.compile("line (\\d+) of (web-[a-z0-9-]+)/web");
  static final LogsFeature.Options LOGS =
      LogsFeature.Options.defaults().withCollectEvery(Duration.ofSeconds(1));

  @TempDir static Path dir;
  static TestController controller;
  static AdminClient admin;
  static TestAgents agents;
  static GitRepo mainRepo;
  static GitRepo ringRepo;
  static CountingProxy apiProxy;
  static String ns;
  static String ringNs;
  static String app;
  static String ringApp;
  static String inventory;
  static Agent agent;
  static Agent ringAgent;
  static String deviceId;
  static String ringDeviceId;
  static final AtomicReference<LogsFeature> logs = new AtomicReference<>();
  static final AtomicReference<LogsFeature> ringLogs = new AtomicReference<>();
  static HttpClient http;

  @BeforeAll
  static void start() throws Exception {
    String suffix = UUID.randomUUID().toString().substring(0, 6);
    app = "logs-" + suffix;
    ringApp = "ring-" + suffix;
    inventory = "edgefleet-logs-" + suffix;
    ns = KUBE.newNamespace("logs");
    ringNs = KUBE.newNamespace("logs-ring");
    mainRepo = GitRepo.init(dir.resolve("main"));
    mainRepo.write("apps/" + app + "/app.yaml", deployment(ns)).commit("add " + app);
    ringRepo = GitRepo.init(dir.resolve("ring"));
    ringRepo.write("apps/" + ringApp + "/app.yaml", deployment(ringNs)).commit("add " + ringApp);
    controller = TestController.start(dir.resolve("controller"));
    admin = controller.admin();
    http =
        HttpClient.newBuilder()
            .sslContext(TlsContexts.pinned(new PinnedCaTrustManager(controller.caFingerprint())))
            .build();
    agents = new TestAgents(dir);
    addRepo("main", mainRepo, "role=main");
    addRepo("ring", ringRepo, "role=ring");

    agent = startAgent("main", "role=main", new KubernetesRuntime(KUBE.kubeconfig()), logs);
    deviceId = agent.status().deviceId().orElseThrow();

    // The ring agent reaches the API server only through a proxy the test can take away.
    URI server = URI.create(serverOf(KUBE.kubeconfig()));
    apiProxy = CountingProxy.start(server.getHost(), server.getPort());
    Path proxied = proxiedKubeconfig(KUBE.kubeconfig(), apiProxy.url(), !KUBE.local());
    ringAgent =
        startAgent(
            "ring",
            "role=ring",
            new KubernetesRuntime(
                KubernetesRuntime.Options.of(proxied).withInventoryNamespace(inventory)),
            ringLogs);
    ringDeviceId = ringAgent.status().deviceId().orElseThrow();

    awaitLines(deviceId, app, 5);
    awaitLines(ringDeviceId, ringApp, 5);
  }

  @AfterAll
  static void stop() {
    if (agents != null) {
      agents.close();
    }
    if (apiProxy != null) {
      apiProxy.close();
    }
    if (controller != null) {
      controller.close();
    }
    if (http != null) {
      http.close();
    }
    for (GitRepo r : new GitRepo[] {mainRepo, ringRepo}) {
      if (r != null) {
        r.close();
      }
    }
    for (String namespace : new String[] {ns, ringNs}) {
      if (namespace != null) {
        KUBE.deleteNamespace(namespace);
      }
    }
    if (inventory != null) {
      KUBE.client().namespaces().withName(inventory).delete();
    }
  }

  // ------------------------------------------------------------------ tests

  @Test
  void theTailIsTheLastLinesOfTheAppsContainers() {
    AdminClient.Answer a = admin.get(logsPath(deviceId, app) + "&tail=5");

    assertThat(a.status()).as(a.body().toString()).isEqualTo(200);
    List<JsonNode> lines = list(a.body().path("lines"));
    assertThat(lines).hasSize(5);
    assertThat(list(a.body().path("notes"))).isEmpty();
    List<Long> numbers = new ArrayList<>();
    for (JsonNode l : lines) {
      Matcher m = LINE.matcher(l.path("line").asText());
      assertThat(m.matches()).as(l.toString()).isTrue();
      assertThat(l.path("pod").asText()).isEqualTo(m.group(2));
      assertThat(l.path("container").asText()).isEqualTo("web");
      numbers.add(Long.parseLong(m.group(1)));
    }
    // One pod: five consecutive lines, the newest last, each stamped when it was written.
    long first = numbers.getFirst();
    assertThat(numbers).containsExactly(first, first + 1, first + 2, first + 3, first + 4);
    List<Instant> times = lines.stream().map(l -> Instant.parse(l.path("at").asText())).toList();
    assertThat(times).isSorted().doesNotHaveDuplicates();
    assertThat(times.getLast()).isBefore(Instant.now().plusSeconds(1));
  }

  @Test
  void followStreamsNewLinesUntilTheClientLeavesAndTheAgentIsToldToStop() throws Exception {
    // The agent's ring already follows the app's container.
    // Only the agent's ring follows the app's one container now.
    int before = 1;
    awaitFollowedLogs(before);
    HttpResponse<InputStream> response =
        http.send(
            request(logsPath(deviceId, app) + "&tail=1&follow=true"),
            HttpResponse.BodyHandlers.ofInputStream());
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Content-Type")).hasValue("application/x-ndjson");
    List<JsonNode> records = new ArrayList<>();
    try (InputStream body = response.body()) {
      BufferedReader reader =
          new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8));
      while (records.size() < 6) {
        String text = reader.readLine();
        assertThat(text).as("the stream ended early after " + records).isNotNull();
        if (!text.isBlank()) {
          records.add(Json.mapper().readTree(text));
        }
      }
      assertThat(logs.get().activeRequests()).hasSize(1);
      assertThat(controller.controller().logs().active()).hasSize(1);
      if (KUBE.local()) {
        assertThat(KUBE.standIn().followedLogs(ns)).isEqualTo(before + 1);
      }
    }

    // The tail line, then lines written after the request, in order, none twice.
    List<Long> numbers =
        records.stream()
            .map(r -> LINE.matcher(r.path("line").asText()))
            .peek(m -> assertThat(m.matches()).isTrue())
            .map(m -> Long.parseLong(m.group(1)))
            .toList();
    for (int i = 1; i < numbers.size(); i++) {
      assertThat(numbers.get(i)).isEqualTo(numbers.get(i - 1) + 1);
    }
    // Closing the response is all a client does; the controller notices and cancels on the
    // device, which stops reading.
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                logs.get().activeRequests().isEmpty()
                    && controller.controller().logs().active().isEmpty());
    // ... and its read through the API server ends, down to the kubelet.
    awaitFollowedLogs(before);
  }

  @Test
  void theRingServesTheLastLinesWhenTheRuntimeIsUnreachable() {
    await().atMost(READY).until(() -> ringLogs.get().keptLines(ringApp) >= 10);
    Instant outage = Instant.now();
    apiProxy.close();

    AdminClient.Answer a = admin.get(logsPath(ringDeviceId, ringApp) + "&tail=5");

    assertThat(a.status()).as(a.body().toString()).isEqualTo(200);
    assertThat(list(a.body().path("notes")))
        .singleElement()
        .satisfies(
            n ->
                assertThat(n.asText())
                    .contains("the workload runtime cannot be asked")
                    .contains("showing the last 5 line(s) the agent kept"));
    List<JsonNode> lines = list(a.body().path("lines"));
    assertThat(lines).hasSize(5);
    List<Long> numbers = new ArrayList<>();
    for (JsonNode l : lines) {
      Matcher m = LINE.matcher(l.path("line").asText());
      assertThat(m.matches()).as(l.toString()).isTrue();
      numbers.add(Long.parseLong(m.group(1)));
      assertThat(Instant.parse(l.path("at").asText())).isBefore(outage.plusSeconds(1));
    }
    long first = numbers.getFirst();
    assertThat(numbers).containsExactly(first, first + 1, first + 2, first + 3, first + 4);
  }

  @Test
  void anAppNotOnTheDeviceIsNotFound() {
    AdminClient.Answer a = admin.get(logsPath(deviceId, "no-such-app"));

    assertThat(a.status()).isEqualTo(404);
    assertThat(a.code()).isEqualTo("NOT_FOUND");
    assertThat(a.body().path("message").asText())
        .isEqualTo(
            "app 'no-such-app' is not deployed to device "
                + deviceId
                + " (its apps: GET /api/v1/devices/"
                + deviceId
                + "/apps)");
    assertThat(admin.get("/api/v1/devices/d-nope/logs?app=" + app).status()).isEqualTo(404);
  }

  @Test
  void badParametersAreRefusedWithAStableCode() {
    for (String query :
        List.of(
            "?app=" + app + "&tail=0",
            "?app=" + app + "&tail=10001",
            "?app=" + app + "&tail=ten",
            "?app=" + app + "&follow=maybe",
            "?app=Not_An_App",
            "")) {
      AdminClient.Answer a = admin.get("/api/v1/devices/" + deviceId + "/logs" + query);
      assertThat(a.status()).as(query).isEqualTo(422);
      assertThat(a.code()).as(query).isEqualTo("VALIDATION_FAILED");
    }
    assertThat(admin.get(logsPath(deviceId, app) + "&tail=0").body().path("message").asText())
        .isEqualTo("tail must be a whole number from 1 to 10000, got '0'");
  }

  @Test
  void aDeviceThatIsNotConnectedIsAConflictThatSaysWhenItWasLastSeen() {
    // A third device that runs the main app's desired state, then goes away.
    AtomicReference<LogsFeature> unused = new AtomicReference<>();
    Agent gone = startAgent("gone", "role=main", new NoRuntime("test"), unused);
    String goneId = gone.status().deviceId().orElseThrow();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                list(admin.get("/api/v1/devices/" + goneId + "/apps").body().path("items")).stream()
                    .anyMatch(r -> r.path("app").asText().equals(app)));
    gone.close();
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> !controller.controller().connections().isConnected(goneId));

    AdminClient.Answer a = admin.get(logsPath(goneId, app));

    assertThat(a.status()).isEqualTo(409);
    assertThat(a.code()).isEqualTo("DEVICE_NOT_CONNECTED");
    assertThat(a.body().path("message").asText())
        .startsWith("device " + goneId + " is not connected (OFFLINE")
        .contains("; last seen 20")
        .endsWith("its logs travel over its own connection, so ask again once it is back");
  }

  @Test
  void theCliPrintsTimePodContainerAndLineOrJsonAndFollows() throws Exception {
    Run table = cli("logs", deviceId, "--app", app, "--tail", "3");
    assertThat(table.exitCode()).as(table.err()).isZero();
    List<String> lines = table.out().lines().toList();
    assertThat(lines).hasSize(3);
    assertThat(lines)
        .allSatisfy(
            l -> assertThat(l).matches("20\\S+Z (web-[a-z0-9-]+)/web line \\d+ of \\1/web"));

    Run raw = cli("logs", deviceId, "--app", app, "--tail", "2", "--no-prefix");
    assertThat(raw.out().lines()).hasSize(2).allMatch(l -> LINE.matcher(l).matches());

    Run json = cli("logs", deviceId, "--app", app, "--tail", "2", "-o", "json");
    assertThat(json.out().lines().toList())
        .hasSize(2)
        .allSatisfy(
            l -> {
              JsonNode n = Json.mapper().readTree(l);
              assertThat(n.path("pod").asText()).startsWith("web-");
              assertThat(n.path("container").asText()).isEqualTo("web");
              assertThat(LINE.matcher(n.path("line").asText()).matches()).isTrue();
            });

    // Following until the reader goes away after four lines, as `edgefleet logs -f | head -4`.
    Run follow = cli(4, "logs", deviceId, "--app", app, "--tail", "1", "--follow");
    assertThat(follow.exitCode()).as(follow.err()).isZero();
    assertThat(follow.out().lines().toList()).hasSize(4);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> controller.controller().logs().active().isEmpty());
    awaitFollowedLogs(1);

    Run missing = cli("logs", deviceId, "--app", "no-such-app");
    assertThat(missing.exitCode()).isEqualTo(1);
    assertThat(missing.err()).contains("is not deployed to device").contains("(NOT_FOUND)");
  }

  // ------------------------------------------------------------------ helpers

  static String deployment(String namespace) {
    // The stand-in ignores the command; a real kubelet runs it.
    return """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: %s}
        spec:
          replicas: 1
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: web
                image: busybox:1.36
                command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo \\"line $i of $HOSTNAME/web\\"; sleep 0.2; done"]
        """
        .formatted(namespace);
  }

  static void addRepo(String name, GitRepo repo, String target) {
    AdminClient.Answer a =
        admin.post(
            "/api/v1/repos",
            Map.of("name", name, "url", repo.url(), "target", target, "interval", "5s"));
    assertThat(a.status()).as(a.body().toString()).isEqualTo(201);
  }

  static Agent startAgent(
      String name,
      String tag,
      io.edgefleet.agent.runtime.WorkloadRuntime runtime,
      AtomicReference<LogsFeature> feature) {
    String[] kv = tag.split("=");
    Path bootstrap =
        agents.bootstrap(
            name,
            controller.url(),
            controller.caFingerprint(),
            controller.token(Map.of(kv[0], kv[1]), null, false));
    Agent a =
        agents.start(
            agents.options(name, bootstrap).withReconcileInterval(Duration.ofSeconds(1)),
            Clock.systemUTC(),
            runtime,
            List.of(
                x -> {
                  LogsFeature f = LogsFeature.forAgent(x, runtime, Clock.systemUTC(), LOGS);
                  feature.set(f);
                  return f;
                }));
    await().atMost(Duration.ofSeconds(30)).until(() -> a.status().state() == Agent.State.CONNECTED);
    return a;
  }

  static void awaitLines(String device, String appName, int n) {
    await()
        .atMost(READY)
        .pollInterval(Duration.ofMillis(500))
        .until(
            () -> {
              AdminClient.Answer a = admin.get(logsPath(device, appName) + "&tail=" + n);
              return a.status() == 200 && list(a.body().path("lines")).size() == n;
            });
  }

  /** On the local cluster: waits until the kubelet stand-in serves {@code n} followed logs. */
  static void awaitFollowedLogs(int n) {
    if (KUBE.local()) {
      await().atMost(Duration.ofSeconds(20)).until(() -> KUBE.standIn().followedLogs(ns) == n);
    }
  }

  static String logsPath(String device, String appName) {
    return "/api/v1/devices/" + device + "/logs?app=" + appName;
  }

  static HttpRequest request(String path) {
    return HttpRequest.newBuilder(URI.create(controller.url() + path))
        .header("Authorization", "Bearer " + controller.controller().adminToken().orElseThrow())
        .GET()
        .build();
  }

  static List<JsonNode> list(JsonNode array) {
    return StreamSupport.stream(array.spliterator(), false).toList();
  }

  static String serverOf(Path kubeconfig) throws IOException {
    JsonNode doc = new ObjectMapper(new YAMLFactory()).readTree(kubeconfig.toFile());
    String context = doc.path("current-context").asText();
    String cluster = "";
    for (JsonNode c : doc.path("contexts")) {
      if (c.path("name").asText().equals(context)) {
        cluster = c.path("context").path("cluster").asText();
      }
    }
    for (JsonNode c : doc.path("clusters")) {
      if (c.path("name").asText().equals(cluster)) {
        return c.path("cluster").path("server").asText();
      }
    }
    throw new IllegalStateException("no server for context " + context + " in " + kubeconfig);
  }

  /**
   * A copy of the kubeconfig whose clusters are reached through {@code url}; on a real cluster,
   * whose certificate does not name 127.0.0.1, without verifying the server.
   */
  static Path proxiedKubeconfig(Path kubeconfig, String url, boolean insecure) throws IOException {
    ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
    JsonNode doc = yaml.readTree(kubeconfig.toFile());
    for (JsonNode c : doc.path("clusters")) {
      ObjectNode cluster = (ObjectNode) c.path("cluster");
      cluster.put("server", url);
      if (insecure) {
        cluster.remove("certificate-authority");
        cluster.remove("certificate-authority-data");
        cluster.put("insecure-skip-tls-verify", true);
      }
    }
    Path file = dir.resolve("kubeconfig-proxied");
    Files.writeString(file, yaml.writeValueAsString(doc));
    return file;
  }

  record Run(int exitCode, String out, String err) {}

  @CommandLine.Command(name = "edgefleet")
  static final class Root {}

  static Run cli(String... args) {
    return cli(-1, args);
  }

  /** Runs the CLI in-process; with {@code maxLines} ≥ 0 its stdout breaks after that many lines. */
  static Run cli(int maxLines, String... args) {
    CommandLine root = new CommandLine(new Root());
    CliCommands.commands().forEach(root::addSubcommand);
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    Writer target = maxLines < 0 ? out : new LineLimited(out, maxLines);
    root.setOut(new PrintWriter(target, true));
    root.setErr(new PrintWriter(err, true));
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(
        List.of(
            "--server",
            controller.url(),
            "--token",
            controller.controller().adminToken().orElseThrow(),
            "--ca-fingerprint",
            controller.caFingerprint()));
    int code = root.execute(all.toArray(String[]::new));
    return new Run(code, out.toString(), err.toString());
  }

  /** A writer that fails once it has taken {@code max} lines, like a closed pipe. */
  static final class LineLimited extends Writer {
    private final StringWriter target;
    private final int max;
    private int lines;

    LineLimited(StringWriter target, int max) {
      this.target = target;
      this.max = max;
    }

    @Override
    public void write(char[] buf, int off, int len) throws IOException {
      if (lines >= max) {
        throw new IOException("broken pipe");
      }
      for (int i = off; i < off + len; i++) {
        target.write(buf[i]);
        if (buf[i] == '\n' && ++lines >= max) {
          return;
        }
      }
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  }
}
