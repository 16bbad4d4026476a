package io.edgefleet.e2e.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.runtime.NoRuntime;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.agent.runtime.kubernetes.KubernetesRuntime;
import io.edgefleet.cli.CliCommands;
import io.edgefleet.protocol.Json;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import io.edgefleet.testkit.kube.KubeCluster;
import io.edgefleet.testkit.kube.KubeletStandIn;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Honest health end to end: a real controller, real agents over mutual TLS, two of them applying a
 * catalog app into a real API server (where the kubelet stand-in runs one device's pods and keeps
 * the other's crashing), one without any workload runtime. The statuses, the fleet summary by site
 * and a device's unified event log are read through the CLI and the API, as an operator would.
 */
class HealthIT {
  static final KubeCluster KUBE = KubeCluster.shared();
  static final Duration WITHIN = Duration.ofSeconds(90);

  @TempDir Path dir;
  final String suffix = UUID.randomUUID().toString().substring(0, 6);
  final String app = "shop-" + suffix;
  final List<String> namespaces = new ArrayList<>();
  TestController controller;
  TestAgents agents;

  @AfterEach
  void stop() {
    if (agents != null) {
      agents.close();
    }
    if (controller != null) {
      controller.close();
    }
    for (String ns : namespaces) {
      KUBE.client().namespaces().withName(ns).delete();
    }
  }

  @Test
  void failingAppsDegradeAMissingRuntimeIsAnErrorAndAStoppedAgentIsOfflineNotError()
      throws Exception {
    controller = TestController.start(dir.resolve("controller"));
    agents = new TestAgents(dir);
    Instant start = Instant.now();
    String good = device("good", Map.of("site", "s1", "img", "1.0"), true);
    String crashy = device("crashy", Map.of("site", "s1", "img", KubeletStandIn.TAG_CRASH), true);
    Agent bare = agent("bare", Map.of("site", "s2", "img", "1.0"), false);
    String noRuntime = id(bare);
    pushChart();
    deploy();

    JsonNode g = awaitStatus(good, "ONLINE", d -> appReady(good));
    assertThat(g.path("statusReason").asText()).startsWith("connected, last heard from");

    JsonNode c = awaitStatus(crashy, "DEGRADED", d -> true);
    assertThat(c.path("statusReason").asText())
        .startsWith("app " + app + " FAILED")
        .contains("CrashLoopBackOff");
    assertThat(Instant.parse(c.path("statusSince").asText())).isAfter(start);

    JsonNode e = awaitStatus(noRuntime, "ERROR", d -> true);
    assertThat(e.path("statusReason").asText())
        .startsWith("cannot run its app " + app + ": no workload runtime on this node")
        .contains("install a workload runtime");

    // The CLI lists by status, and the summary counts per site.
    Cli degradedList = cli("devices", "list", "--status", "degraded", "-o", "json");
    assertThat(degradedList.exit()).as(degradedList.err()).isZero();
    assertThat(ids(Json.mapper().readTree(degradedList.out()).path("items")))
        .containsExactly(crashy);
    JsonNode bySite = summary();
    assertThat(bySite.path("sentence").asText())
        .isEqualTo(
            "66.6 % of 3 devices are operational (1 online, 1 degraded); 0 in maintenance;"
                + " 1 in error; 0 offline; 0 never seen");
    JsonNode s1 = group(bySite, "s1");
    assertThat(s1.path("enrolled").asInt()).isEqualTo(2);
    assertThat(s1.path("online").asInt()).isEqualTo(1);
    assertThat(s1.path("degraded").asInt()).isEqualTo(1);
    assertThat(s1.path("operationalPercent").asDouble()).isEqualTo(100.0);
    assertThat(group(bySite, "s2").path("error").asInt()).isEqualTo(1);
    Cli table = cli("fleet", "summary", "--by", "site", "--selector", "fleet=" + suffix);
    assertThat(table.out())
        .containsPattern("(?m)^s1 +2 +100 % +1 +1 +0 +0 +0 +0 +0$")
        .containsPattern("(?m)^s2 +1 +0 % +0 +0 +1 +0 +0 +0 +0$");

    // The error is on record as a health event, then its agent stops: the device is offline,
    // which is not a failure.
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () ->
                assertThat(events(noRuntime))
                    .extracting(ev -> ev.path("source").asText() + " " + ev.path("kind").asText())
                    .contains("health ERROR"));
    bare.close();
    JsonNode off = awaitStatus(noRuntime, "OFFLINE", d -> true);
    assertThat(off.path("statusReason").asText())
        .matches("(connection closed .* ago, not back since|nothing heard for .*)");
    JsonNode s2 = group(summary(), "s2");
    assertThat(s2.path("offline").asInt()).isEqualTo(1);
    assertThat(s2.path("error").asInt()).isZero();
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () ->
                assertThat(events(noRuntime))
                    .anySatisfy(
                        ev -> {
                          assertThat(ev.path("source").asText()).isEqualTo("health");
                          assertThat(ev.path("message").asText()).startsWith("ERROR → OFFLINE");
                        }));
  }

  @Test
  void aDevicesEventsAreOneChronologyOfControllerRolloutDeviceAppAndHealthEvents()
      throws Exception {
    controller = TestController.start(dir.resolve("controller"));
    agents = new TestAgents(dir);
    String crashy = device("crashy", Map.of("site", "s1", "img", KubeletStandIn.TAG_CRASH), true);
    pushChart();
    deploy();
    awaitStatus(crashy, "DEGRADED", d -> true);

    List<JsonNode> items = new ArrayList<>();
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              items.clear();
              items.addAll(events(crashy));
              assertThat(items)
                  .extracting(ev -> ev.path("source").asText() + " " + ev.path("kind").asText())
                  .contains("device app-failed", "app FAILED", "health DEGRADED");
            });
    List<String> kinds =
        items.stream()
            .map(ev -> ev.path("source").asText() + " " + ev.path("kind").asText())
            .toList();
    assertThat(kinds)
        .as("%s", items)
        .containsSubsequence(
            "controller device.enroll", "rollout CREATED", "app FAILED", "health DEGRADED");
    int enrolled = kinds.indexOf("controller device.enroll");
    int created = kinds.indexOf("rollout CREATED");
    // What the agent itself reported about the failure, at the device's time.
    int reported = indexOfDeviceFailure(items);
    assertThat(enrolled).isLessThan(created);
    assertThat(created).isLessThan(reported);

    // The same through the CLI: a table in that order.
    Cli table = cli("events", "--device", crashy);
    assertThat(table.exit()).as(table.err()).isZero();
    List<String> lines = table.out().lines().toList();
    assertThat(lines.getFirst()).matches("TIME +DEVICE +SOURCE +KIND +MESSAGE");
    assertThat(lines)
        .filteredOn(
            l -> l.contains(" controller ") || l.contains(" rollout ") || l.contains(" device "))
        .extracting(l -> l.split(" +")[2])
        .containsSubsequence("controller", "rollout", "device");
  }

  // ------------------------------------------------------------------ helpers

  private String device(String name, Map<String, String> tags, boolean kubernetes)
      throws Exception {
    return id(agent(name, tags, kubernetes));
  }

  /** Enrolls and starts an agent with a runtime on the shared API server, or none. */
  private Agent agent(String name, Map<String, String> tags, boolean kubernetes) {
    Map<String, String> t = new LinkedHashMap<>(tags);
    t.put("fleet", suffix);
    String ns = "h-" + suffix + "-" + name;
    t.put("ns", ns);
    AdminClient.Answer token =
        controller.admin().post("/api/v1/onboarding-tokens", Map.of("tags", t, "maxUses", 1));
    assertThat(token.status()).as(token.body().toString()).isEqualTo(201);
    Path bootstrap =
        agents.bootstrap(
            name,
            controller.url(),
            controller.caFingerprint(),
            token.body().path("token").asText());
    WorkloadRuntime runtime;
    if (kubernetes) {
      namespaces.add(ns);
      namespaces.add("inv-" + ns);
      runtime =
          new KubernetesRuntime(
              KubernetesRuntime.Options.of(KUBE.kubeconfig()).withInventoryNamespace("inv-" + ns));
    } else {
      runtime = new NoRuntime("test agent without a workload runtime");
    }
    Agent agent = agents.start(agents.options(name, bootstrap), Clock.systemUTC(), runtime);
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> agent.status().state() == Agent.State.CONNECTED);
    return agent;
  }

  private static String id(Agent agent) {
    return agent.status().deviceId().orElseThrow();
  }

  /** A chart of one Deployment whose namespace and image tag come from the device's tags. */
  private void pushChart() throws Exception {
    Path chart = dir.resolve("chart").resolve(app);
    Map<String, String> files = new LinkedHashMap<>();
    files.put("Chart.yaml", "apiVersion: v2\nname: " + app + "\nversion: 1.0.0\n");
    files.put("values.yaml", "namespace: default\nimage: registry.example/edgefleet/shop:1.0\n");
    files.put(
        "templates/deployment.yaml",
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: shop
          namespace: {{ .Values.namespace }}
        spec:
          replicas: 1
          selector: {matchLabels: {app: shop}}
          template:
            metadata: {labels: {app: shop}}
            spec:
              containers:
              - name: shop
                image: {{ .Values.image }}
        """);
    for (var f : files.entrySet()) {
      Files.createDirectories(chart.resolve(f.getKey()).getParent());
      Files.writeString(chart.resolve(f.getKey()), f.getValue());
    }
    Path archive = dir.resolve(app + ".tgz");
    Process tar =
        new ProcessBuilder(
                "tar", "-czf", archive.toString(), "-C", chart.getParent().toString(), app)
            .redirectErrorStream(true)
            .start();
    assertThat(tar.waitFor()).as(new String(tar.getInputStream().readAllBytes())).isZero();
    AdminClient.Answer pushed =
        controller
            .admin()
            .post(
                "/api/v1/catalog/apps/" + app + "/versions",
                Map.of(
                    "version",
                    "1.0.0",
                    "kind",
                    "chart",
                    "archive",
                    Base64.getEncoder().encodeToString(Files.readAllBytes(archive))));
    assertThat(pushed.status()).as(pushed.body().toString()).isEqualTo(201);
  }

  private void deploy() {
    AdminClient.Answer a =
        controller
            .admin()
            .post(
                "/api/v1/deployments",
                Map.of(
                    "app",
                    app,
                    "version",
                    "1.0.0",
                    "target",
                    "fleet=" + suffix,
                    "values",
                    Map.of(
                        "namespace",
                        "${tag:ns}",
                        "image",
                        "registry.example/edgefleet/shop:${tag:img}")));
    assertThat(a.status()).as(a.body().toString()).isEqualTo(201);
  }

  private boolean appReady(String device) {
    JsonNode apps = controller.admin().get("/api/v1/devices/" + device + "/apps").body();
    for (JsonNode a : apps.path("items")) {
      if (a.path("app").asText().equals(app) && a.path("state").asText().equals("READY")) {
        return true;
      }
    }
    return false;
  }

  private JsonNode awaitStatus(
      String device, String status, java.util.function.Predicate<JsonNode> also) {
    JsonNode[] last = {null};
    await()
        .atMost(WITHIN)
        .pollInterval(Duration.ofMillis(250))
        .alias(device + " " + status)
        .until(
            () -> {
              last[0] = controller.admin().get("/api/v1/devices/" + device).body();
              return last[0].path("status").asText().equals(status) && also.test(last[0]);
            });
    return last[0];
  }

  private JsonNode summary() throws Exception {
    Cli r = cli("fleet", "summary", "--by", "site", "--selector", "fleet=" + suffix, "-o", "json");
    assertThat(r.exit()).as(r.err()).isZero();
    return Json.mapper().readTree(r.out());
  }

  private static JsonNode group(JsonNode summary, String value) {
    for (JsonNode g : summary.path("groups")) {
      if (g.path("value").asText().equals(value)) {
        return g;
      }
    }
    throw new AssertionError("no group " + value + " in " + summary);
  }

  private List<JsonNode> events(String device) throws Exception {
    Cli r = cli("events", "--device", device, "--since", "1h", "-o", "json");
    assertThat(r.exit()).as(r.err()).isZero();
    return list(Json.mapper().readTree(r.out()).path("items"));
  }

  private static int indexOfDeviceFailure(List<JsonNode> items) {
    for (int i = 0; i < items.size(); i++) {
      if (items.get(i).path("source").asText().equals("device")
          && items
              .get(i)
              .path("kind")
              .asText()
              .toLowerCase(java.util.Locale.ROOT)
              .contains("fail")) {
        return i;
      }
    }
    throw new AssertionError("no device event about the failure in " + items);
  }

  private static List<String> ids(JsonNode devices) {
    return list(devices).stream().map(d -> d.path("id").asText()).toList();
  }

  private static List<JsonNode> list(JsonNode array) {
    return StreamSupport.stream(array.spliterator(), false).toList();
  }

  record Cli(int exit, String out, String err) {}

  @CommandLine.Command(name = "edgefleet")
  static final class Root {}

  /** Runs a CLI verb in-process, as the launcher registers them, against this controller. */
  private Cli cli(String... args) {
    CommandLine root = new CommandLine(new Root());
    CliCommands.commands().forEach(root::addSubcommand);
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    root.setOut(new PrintWriter(out, true));
    root.setErr(new PrintWriter(err, true));
    String[] all =
        Stream.concat(
                Stream.of(args),
                Stream.of("--config", controller.controller().cliConfig().toString()))
            .toArray(String[]::new);
    int exit = root.execute(all);
    return new Cli(exit, out.toString(), err.toString());
  }
}
