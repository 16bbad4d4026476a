package io.edgefleet.launcher;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.logs.LogsFeature;
import io.edgefleet.controller.Controller;
import io.edgefleet.controller.onboarding.OnboardingTokens;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SecureFiles;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.random.RandomGenerator;

/**
 * The demo's devices: N agents in this process, each with its own key and state directory, that
 * enroll over loopback TLS as real devices would and apply apps to the {@link DemoRuntime}. Two
 * stores on fibre and, as the last device, an oil rig whose satellite link is a {@link DemoLink}
 * the demo can cut.
 */
final class DemoFleet implements AutoCloseable {
  /** The stores' sites; the rig is {@link #RIG}. */
  static final List<String> STORES = List.of("store-17", "store-18");

  static final String RIG = "rig-4";

  /** The rig's serial: the last device. */
  private final String rigSerial;

  private final Controller controller;
  private final DemoLink rigLink;
  private final List<Agent> agents = new ArrayList<>();
  private final ScheduledExecutorService scheduler;
  private final ExecutorService http;

  private DemoFleet(Controller controller, DemoLink rigLink, int devices) {
    this.controller = controller;
    this.rigLink = rigLink;
    this.rigSerial = serial(devices);
    this.scheduler =
        Executors.newScheduledThreadPool(
            2,
            r -> {
              Thread t = new Thread(r, "demo-agents");
              t.setDaemon(true);
              return t;
            });
    this.http = Executors.newVirtualThreadPerTaskExecutor();
  }

  /** Creates an onboarding token per site and starts the agents; they enroll in the background. */
  static DemoFleet start(Controller controller, Path dir, int devices) throws IOException {
    DemoFleet fleet = new DemoFleet(controller, new DemoLink(controller.port()), devices);
    try {
      fleet.startAgents(dir, devices);
      return fleet;
    } catch (IOException | RuntimeException e) {
      fleet.close();
      throw e;
    }
  }

  private void startAgents(Path dir, int devices) throws IOException {
    int uses = Math.max(60, devices);
    List<Path> stores = new ArrayList<>();
    for (String site : STORES) {
      stores.add(
          bootstrap(
              dir,
              site,
              Map.of("site", site, "env", "demo", "link", "fibre"),
              controller.url(),
              uses));
    }
    URI url = URI.create(controller.url());
    String viaLink = url.getScheme() + "://" + url.getHost() + ":" + rigLink.port();
    Path rig =
        bootstrap(dir, RIG, Map.of("site", RIG, "env", "demo", "link", "satellite"), viaLink, 1);
    PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
    int[] perStore = new int[stores.size()];
    for (int i = 1; i <= devices; i++) {
      boolean isRig = i == devices;
      int store = i % stores.size();
      String name = isRig ? RIG : STORES.get(store) + "-" + ++perStore[store];
      AgentOptions options =
          AgentOptions.of(isRig ? rig : stores.get(store), dir.resolve("agents/" + name))
              .withSerial(serial(i))
              .withName(name)
              // The rig comes back quickly once its link does, so the demo need not wait long.
              .withMaxBackoff(Duration.ofSeconds(isRig ? 2 : 10))
              .withQr(false);
      DemoRuntime runtime = new DemoRuntime();
      Agent agent =
          new Agent(
              options,
              scheduler,
              http,
              RandomGenerator.getDefault(),
              Clock.systemUTC(),
              quiet,
              runtime);
      // Workload logs as `edgefleet agent` serves them: here the demo runtime's own record.
      agent.add(
          LogsFeature.forAgent(agent, runtime, Clock.systemUTC(), LogsFeature.Options.defaults()));
      agents.add(agent);
      agent.start();
    }
  }

  private Path bootstrap(Path dir, String site, Map<String, String> tags, String url, int uses)
      throws IOException {
    OnboardingTokens.View token =
        controller
            .onboarding()
            .create(
                new OnboardingTokens.CreateRequest("demo " + site, tags, null, "1d", false, uses),
                "demo");
    Path file = dir.resolve("bootstrap-" + site + ".json");
    SecureFiles.writeSecret(
        file, Json.pretty(Bootstrap.of(url, controller.pki().caFingerprint(), token.token())));
    return file;
  }

  private static String serial(int i) {
    return String.format("DEMO-%05d", i);
  }

  /** The rig's link to the controller. */
  DemoLink rigLink() {
    return rigLink;
  }

  /** The rig's device id, once it has enrolled. */
  Optional<String> rigDeviceId() {
    return controller.devices().list(Optional.empty()).stream()
        .filter(d -> rigSerial.equals(d.serial()))
        .map(d -> d.id())
        .findFirst();
  }

  int size() {
    return agents.size();
  }

  @Override
  public void close() {
    agents.forEach(Agent::close);
    rigLink.close();
    scheduler.shutdownNow();
    http.shutdownNow();
  }
}
