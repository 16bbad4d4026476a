package io.edgefleet.launcher;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.agent.logs.LogsFeature;
import io.edgefleet.controller.Controller;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.controller.devices.FleetSummary;
import io.edgefleet.controller.onboarding.OnboardingTokens;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.Durations;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SecureFiles;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.random.RandomGenerator;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code edgefleet demo}: a controller in a temporary directory and N agents that enroll over
 * loopback TLS with their own keys, exactly as real devices would, then stay connected.
 */
@Command(
    name = "demo",
    description = "Start a controller and N agents on this machine and watch them enroll.",
    mixinStandardHelpOptions = true)
public final class DemoCommand implements Callable<Integer> {
  private static final String[] SITES = {"store-17", "store-18", "rig-4"};

  /** How long a stopping JVM waits for the demo to close and remove its directory. */
  private static final Duration CLEANUP_WAIT = Duration.ofSeconds(30);

  @Option(names = "--devices", paramLabel = "N", description = "Number of agents (default: 10).")
  int devices = 10;

  @Option(
      names = "--for",
      paramLabel = "DURATION",
      description = "Stop after this long, e.g. 90s or 10m (default: until Ctrl-C).")
  String runFor;

  @Option(
      names = "--port",
      paramLabel = "PORT",
      description = "Port for the controller on 127.0.0.1 (default: any free port).")
  int port = 0;

  @Option(names = "--keep", description = "Keep the temporary directory after the demo ends.")
  boolean keep;

  @Override
  public Integer call() throws Exception {
    if (devices < 1 || devices > 5000) {
      System.err.println("error: --devices must be between 1 and 5000");
      return 2;
    }
    Duration limit = null;
    if (runFor != null) {
      try {
        limit = Durations.parse(runFor);
      } catch (IllegalArgumentException e) {
        System.err.println("error: --for: " + e.getMessage());
        return 2;
      }
    }
    long t0 = System.nanoTime();
    // The demo prints the fleet's story itself; a line per device connecting would drown it.
    System.setProperty("org.slf4j.simpleLogger.log.io.edgefleet.controller.gateway", "warn");
    Path dir = Files.createTempDirectory("edgefleet-demo-");
    PrintStream out = System.out;
    out.println("edgefleet demo: controller + " + devices + " agents in " + dir);
    // Ctrl-C (SIGINT) and SIGTERM run the shutdown hooks and then halt the JVM: the hook stops
    // the demo and waits until it has cleaned up, so the directory (with the CA key and the
    // admin token) is removed on every way out.
    CountDownLatch stop = new CountDownLatch(1);
    CountDownLatch cleanedUp = new CountDownLatch(1);
    Thread hook =
        new Thread(
            () -> {
              stop.countDown();
              try {
                cleanedUp.await(CLEANUP_WAIT.toMillis(), TimeUnit.MILLISECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "demo-stop");
    Runtime.getRuntime().addShutdownHook(hook);
    Controller controller = null;
    ScheduledExecutorService scheduler =
        Executors.newScheduledThreadPool(
            2,
            r -> {
              Thread t = new Thread(r, "demo-agents");
              t.setDaemon(true);
              return t;
            });
    ExecutorService http = Executors.newVirtualThreadPerTaskExecutor();
    List<Agent> agents = new ArrayList<>();
    try {
      controller =
          Controller.start(
              ControllerConfig.defaults(dir.resolve("controller"))
                  .withListen("127.0.0.1", port)
                  // Every demo agent enrolls from loopback at the same moment.
                  .withEnrollmentsPerAddress(Math.max(60, devices)),
              Clock.systemUTC());
      out.println(
          "controller: " + controller.url() + "  (CA " + controller.pki().caFingerprint() + ")");
      List<Path> bootstraps = new ArrayList<>();
      for (String site : SITES) {
        OnboardingTokens.View token =
            controller
                .onboarding()
                .create(
                    new OnboardingTokens.CreateRequest(
                        "demo " + site,
                        Map.of("site", site, "env", "demo"),
                        null,
                        "1d",
                        false,
                        Math.max(60, devices)),
                    "demo");
        Path file = dir.resolve("bootstrap-" + site + ".json");
        SecureFiles.writeSecret(
            file,
            Json.pretty(
                Bootstrap.of(controller.url(), controller.pki().caFingerprint(), token.token())));
        bootstraps.add(file);
      }
      PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
      for (int i = 0; i < devices; i++) {
        AgentOptions options =
            AgentOptions.of(
                    bootstraps.get(i % bootstraps.size()), dir.resolve("agents/agent-" + (i + 1)))
                .withSerial(String.format("DEMO-%05d", i + 1))
                .withMaxBackoff(Duration.ofSeconds(10))
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
            LogsFeature.forAgent(
                agent, runtime, Clock.systemUTC(), LogsFeature.Options.defaults()));
        agents.add(agent);
        agent.start();
      }

      boolean tty = System.console() != null;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      FleetSummary s = controller.devices().summary();
      String last = "";
      while (s.online() < devices && System.nanoTime() < deadline && stop.getCount() > 0) {
        String line =
            String.format(
                "enrolling: %d/%d enrolled, %d/%d online",
                s.total() - s.pending(), devices, s.online(), devices);
        if (!line.equals(last)) {
          if (tty) {
            out.print("\r" + line + "   ");
          } else {
            out.println(line);
          }
          last = line;
        }
        stop.await(200, TimeUnit.MILLISECONDS);
        s = controller.devices().summary();
      }
      if (tty) {
        out.println();
      }
      double seconds = (System.nanoTime() - t0) / 1e9;
      out.printf("%d/%d agents online after %.1fs%n%n", s.online(), devices, seconds);
      String token = controller.adminToken().orElse("?");
      out.println(
          "API:       "
              + controller.url()
              + "/api/v1   (OpenAPI: "
              + controller.url()
              + "/api/v1/openapi.json)");
      out.println("token:     " + token);
      out.println(
          "try next:  EDGEFLEET_CONFIG=" + controller.cliConfig() + " ./edgefleet devices list");
      out.println(
          "           curl --cacert "
              + dir.resolve("controller/pki/ca.crt")
              + " -H 'Authorization: Bearer "
              + token
              + "' "
              + controller.url()
              + "/api/v1/fleet/summary");
      out.println(fleetLine(controller.devices().summary()));
      out.println(
          limit == null
              ? "running until Ctrl-C"
              : "running for " + Durations.human(limit) + " (Ctrl-C stops earlier)");
      long end = limit == null ? Long.MAX_VALUE : System.nanoTime() + limit.toNanos();
      long nextReport = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (stop.getCount() > 0 && System.nanoTime() < end) {
        long wait = Math.min(end, nextReport) - System.nanoTime();
        stop.await(Math.max(1, wait), TimeUnit.NANOSECONDS);
        if (System.nanoTime() >= nextReport) {
          out.println(fleetLine(controller.devices().summary()));
          nextReport += TimeUnit.SECONDS.toNanos(30);
        }
      }
      out.println(fleetLine(controller.devices().summary()));
      return s.online() == devices ? 0 : 1;
    } finally {
      out.println("stopping: closing agents and controller" + (keep ? "" : ", removing " + dir));
      try {
        agents.forEach(Agent::close);
        if (controller != null) {
          controller.close();
        }
        scheduler.shutdownNow();
        http.shutdownNow();
      } finally {
        if (!keep) {
          deleteTree(dir);
        }
        cleanedUp.countDown();
        try {
          Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
          // Already shutting down: the hook is waiting for cleanedUp.
        }
      }
    }
  }

  static String fleetLine(FleetSummary s) {
    int enrolled = s.total() - s.pending() - s.rejected() - s.decommissioned();
    return String.format(
        "fleet: %d/%d online%s%s",
        s.online(),
        enrolled,
        s.offline() > 0 ? ", " + s.offline() + " offline" : "",
        s.neverSeen() > 0 ? ", " + s.neverSeen() + " never seen" : "");
  }

  private static void deleteTree(Path dir) {
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      System.err.println("could not remove " + dir + ": " + e.getMessage());
    }
  }
}
