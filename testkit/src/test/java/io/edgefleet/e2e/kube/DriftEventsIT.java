package io.edgefleet.e2e.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.outbox.Outbox;
import io.edgefleet.agent.runtime.kubernetes.KubernetesRuntime;
import io.edgefleet.agent.telemetry.TelemetryFeature;
import io.edgefleet.cli.CliCommands;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.Telemetry;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.GitRepo;
import io.edgefleet.testkit.LinkProxy;
import io.edgefleet.testkit.MovableClock;
import io.edgefleet.testkit.RecordingRuntime;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import io.edgefleet.testkit.kube.KubeCluster;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
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
 * Someone keeps deleting and editing an app's objects on a device's real Kubernetes API. The agent
 * puts them back within a pass, and the operator sees it: {@code edgefleet events} lists one {@code
 * drift-repaired} warning per app naming the first repair, then, once the ten-minute interval is
 * over, one per app summing up every repair of the interval with counts, also when the device was
 * offline meanwhile (through its outbox). Nothing in between.
 */
class DriftEventsIT {
  static final KubeCluster KUBE = KubeCluster.shared();
  static final Duration WAIT = Duration.ofSeconds(60);

  @TempDir Path dir;
  private final KubernetesClient kube = KUBE.client();
  private TestController controller;
  private String web;
  private String cfg;

  @AfterEach
  void stop() {
    if (controller != null) {
      controller.close();
    }
    if (web != null) {
      kube.namespaces().withName(web).delete();
      kube.namespaces().withName(cfg).delete();
    }
  }

  @Test
  void repairsBehindTheAgentsBackReachTheEventLogOncePerAppPerInterval() throws Exception {
    String suffix = UUID.randomUUID().toString().substring(0, 8);
    // Objects without a namespace go to the namespace named like their app.
    web = "drift-web-" + suffix;
    cfg = "drift-cfg-" + suffix;
    try (GitRepo repo = GitRepo.init(dir.resolve("repo"));
        TestAgents agents = new TestAgents(dir)) {
      repo.write(
              "apps/" + web + "/app.yaml",
              GitRepo.deployment("web", 1)
                  + "---\n"
                  + GitRepo.configMap("settings", "greeting", "hello"))
          .write("apps/" + cfg + "/app.yaml", GitRepo.configMap("settings", "mode", "strict"))
          .commit("add apps");
      controller = TestController.start(dir.resolve("controller"));
      AdminClient admin = controller.admin();
      assertThat(
              admin
                  .post(
                      "/api/v1/repos",
                      Map.of(
                          "name",
                          "fleet",
                          "url",
                          repo.url(),
                          "target",
                          "site=" + suffix,
                          "interval",
                          "5s"))
                  .status())
          .isEqualTo(201);

      LinkProxy link = LinkProxy.forUrl(controller.url());
      // Behind the controller's clock, so that moving it on by an interval keeps it believable.
      MovableClock deviceClock =
          MovableClock.startingAt(Instant.now().minus(Duration.ofMinutes(15)));
      AgentOptions options =
          agents
              .options(
                  "till",
                  agents.bootstrap(
                      "t",
                      link.url(),
                      controller.caFingerprint(),
                      controller.token(Map.of("site", suffix), null, false)))
              .withReconcileInterval(Duration.ofSeconds(1));
      runtime = new RecordingRuntime(new KubernetesRuntime(KUBE.kubeconfig()));
      TestAgents.WithTelemetry started =
          agents.startWithTelemetry(
              options, deviceClock, runtime, Map::of, TelemetryFeature.Options.defaults());
      Agent agent = started.agent();
      Outbox outbox = started.telemetry().outbox();
      await().atMost(WAIT).until(() -> agent.status().state() == Agent.State.CONNECTED);
      String id = agent.status().deviceId().orElseThrow();
      await()
          .atMost(WAIT)
          .until(
              () ->
                  agent.apps().stream()
                          .filter(a -> a.phase() != null && a.phase().name().equals("READY"))
                          .count()
                      == 2);

      // Deleted by hand: back within a pass, and reported at once.
      deleteDeployment();
      await().atMost(WAIT).until(() -> driftEvents(id).size() == 1);
      assertThat(driftEvents(id).getFirst())
          .isEqualTo(
              new Drift(web, "warning", "recreated Deployment " + web + "/web that was deleted"));

      // Another app, edited by hand: its own report, at once.
      tamper(cfg, "mode");
      await().atMost(WAIT).until(() -> driftEvents(id).size() == 2);
      assertThat(driftEvents(id).getLast())
          .isEqualTo(
              new Drift(
                  cfg,
                  "warning",
                  "restored ConfigMap " + cfg + "/settings changed outside edgefleet"));

      // It goes on, online and then with the link cut: repaired every time, counted, not reported.
      deleteDeployment();
      link.cut();
      await().atMost(WAIT).until(() -> agent.status().state() != Agent.State.CONNECTED);
      deleteDeployment();
      tamper(web, "greeting");
      tamper(cfg, "mode");
      // The repairs are seen in the cluster as the runtime makes them, a moment before the agent
      // counts them: a later pass over each app shows they were counted in this interval.
      awaitNextApply(web);
      awaitNextApply(cfg);

      // The interval ends while the device is offline: the summaries wait in its outbox.
      deviceClock.advance(Duration.ofMinutes(10));
      await()
          .atMost(WAIT)
          .until(
              () ->
                  outbox.pending().stream()
                          .filter(
                              t ->
                                  t instanceof Telemetry.DeviceEvent e
                                      && e.kind().equals("drift-repaired"))
                          .count()
                      == 2);
      assertThat(driftEvents(id)).hasSize(2);
      Instant restored = deviceClock.instant();
      link.restore();
      await().atMost(WAIT).until(() -> driftEvents(id).size() == 4);

      List<Drift> events = driftEvents(id);
      assertThat(events).filteredOn(e -> e.app().equals(web)).hasSize(2);
      assertThat(events).filteredOn(e -> e.app().equals(cfg)).hasSize(2);
      Drift webSummary = events.stream().filter(e -> e.app().equals(web)).toList().getLast();
      assertThat(webSummary.message())
          .startsWith(
              "recreated Deployment "
                  + web
                  + "/web 3 times, restored ConfigMap "
                  + web
                  + "/settings once in the last ")
          .endsWith(" min");
      Drift cfgSummary = events.stream().filter(e -> e.app().equals(cfg)).toList().getLast();
      assertThat(cfgSummary.message())
          .startsWith("restored ConfigMap " + cfg + "/settings 2 times in the last ")
          .endsWith(" min");
      assertThat(cfgSummary.severity()).isEqualTo("warning");
      // Recorded while the link was cut, at the device's time, and delivered afterwards.
      List<JsonNode> summaries =
          events(id).stream()
              .filter(e -> e.path("kind").asText().equals("drift-repaired"))
              .filter(e -> e.path("message").asText().contains(" in the last "))
              .toList();
      assertThat(summaries)
          .hasSize(2)
          .allSatisfy(e -> assertThat(Instant.parse(e.path("at").asText())).isBefore(restored));

      // The app's status shows it too: the newest repair of the last hour, under the table.
      Cli status = cli("apps", "status", web);
      assertThat(status.exit()).as(status.err()).isZero();
      assertThat(status.out().lines())
          .contains("DEVICE" + " ".repeat(id.length() - 4) + "DRIFT REPAIRED  WHAT WAS REPAIRED")
          .anySatisfy(l -> assertThat(l).startsWith(id).endsWith(webSummary.message()));
      link.close();
    }
  }

  record Drift(String app, String severity, String message) {}

  /** The agent's runtime, counting the applies it begins per app. */
  private RecordingRuntime runtime;

  /** Waits until the agent starts another apply of {@code app} than the ones begun so far. */
  private void awaitNextApply(String app) {
    long begun = runtime.applies(app);
    await().atMost(WAIT).until(() -> runtime.applies(app) > begun);
  }

  /** The device's drift events as {@code edgefleet events} lists them, oldest first. */
  private List<Drift> driftEvents(String device) throws Exception {
    return events(device).stream()
        .filter(e -> e.path("kind").asText().equals("drift-repaired"))
        .map(
            e ->
                new Drift(
                    e.path("app").asText(),
                    e.path("severity").asText(),
                    e.path("message").asText()))
        .toList();
  }

  private List<JsonNode> events(String device) throws Exception {
    Cli r = cli("events", "--device", device, "--since", "1h", "--limit", "1000", "-o", "json");
    assertThat(r.exit()).as(r.err()).isZero();
    return StreamSupport.stream(Json.mapper().readTree(r.out()).path("items").spliterator(), false)
        .filter(e -> e.path("source").asText().equals("device"))
        .toList();
  }

  private Deployment deployment() {
    return kube.apps().deployments().inNamespace(web).withName("web").get();
  }

  /** Deletes the web Deployment and waits until the agent has put a new one in its place. */
  private void deleteDeployment() {
    String uid =
        await().atMost(WAIT).until(this::deployment, d -> d != null).getMetadata().getUid();
    kube.apps().deployments().inNamespace(web).withName("web").delete();
    await()
        .atMost(WAIT)
        .until(() -> deployment() != null && !deployment().getMetadata().getUid().equals(uid));
  }

  /** Edits the value of {@code key} in the namespace's ConfigMap and waits until it is back. */
  private void tamper(String namespace, String key) {
    String value = configMap(namespace).getData().get(key);
    kube.configMaps()
        .inNamespace(namespace)
        .withName("settings")
        .edit(c -> new ConfigMapBuilder(c).addToData(key, "tampered").build());
    await().atMost(WAIT).until(() -> value.equals(configMap(namespace).getData().get(key)));
  }

  private ConfigMap configMap(String namespace) {
    return kube.configMaps().inNamespace(namespace).withName("settings").get();
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
