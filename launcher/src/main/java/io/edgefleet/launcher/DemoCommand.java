package io.edgefleet.launcher;

import io.edgefleet.controller.Controller;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.controller.devices.FleetSummary;
import io.edgefleet.protocol.Durations;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code edgefleet demo}: the whole job in about a minute on this machine. A controller in a
 * temporary directory and N agents that enroll over loopback TLS with their own keys, exactly as
 * real devices would; a Git repository in that directory delivers an app to the devices its tags
 * select; a second commit rolls out canary first, then in waves, while the rig's satellite link is
 * down (offline, pending-offline, never failed) and comes back; then the console and the CLI are
 * there to explore until Ctrl-C or {@code --for}. Agents apply apps to the {@link DemoRuntime}.
 */
@Command(
    name = "demo",
    description = {
      "Run a controller and N agents on this machine and watch the whole job: enrollment, an app"
          + " delivered from Git, a phased rollout, a device that goes offline and comes back.",
      "Then explore with the console and the CLI until Ctrl-C (or --for)."
    },
    mixinStandardHelpOptions = true)
public final class DemoCommand implements Callable<Integer> {
  /** How long a stopping JVM waits for the demo to close and remove its directory. */
  private static final Duration CLEANUP_WAIT = Duration.ofSeconds(30);

  private static final int STEPS = 5;

  @Option(names = "--devices", paramLabel = "N", description = "Number of agents (default: 10).")
  int devices = 10;

  @Option(
      names = "--for",
      paramLabel = "DURATION",
      description =
          "After the story, keep the fleet running this long for exploring, e.g. 10m; 0s ends"
              + " right away (default: until Ctrl-C).")
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
    System.setProperty("org.slf4j.simpleLogger.log.io.edgefleet", "warn");
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
    DemoFleet fleet = null;
    try {
      controller =
          Controller.start(
              ControllerConfig.defaults(dir.resolve("controller"))
                  .withListen("127.0.0.1", port)
                  // Every demo agent enrolls from loopback at the same moment.
                  .withEnrollmentsPerAddress(Math.max(60, devices))
                  // Rollouts move a batch as soon as the devices say it is done.
                  .withRolloutTick(Duration.ofSeconds(1)),
              Clock.systemUTC());
      step(out, 1, "controller up at " + controller.url(), t0);
      out.println("      CA " + controller.pki().caFingerprint());
      fleet = DemoFleet.start(controller, dir, devices);
      DemoProgress progress = new DemoProgress(out, System.console() != null);
      DemoStory story = new DemoStory(controller, fleet, progress, stop);

      step(
          out,
          2,
          devices
              + " agents enroll: stores "
              + String.join(", ", DemoFleet.STORES)
              + " on fibre, "
              + DemoFleet.RIG
              + " (the last one) on a satellite link",
          t0);
      story.enroll();
      step(out, 3, "a commit to a Git repository delivers an app to the tagged devices", t0);
      story.deliver(dir);
      step(out, 4, DemoFleet.RIG + "'s satellite link goes down", t0);
      story.cutRig();
      step(out, 5, "a new commit rolls out: canary first, then waves", t0);
      story.rollOut();

      String token = controller.adminToken().orElse("?");
      String cli = "EDGEFLEET_CONFIG=" + controller.cliConfig() + " ./edgefleet";
      out.println();
      out.println("console:  " + controller.url() + "/#token=" + token);
      out.println("          (one click signs in; the browser warns once about the demo's own CA)");
      out.println("API:      " + controller.url() + "/api/v1   token " + token);
      out.println("try:      " + cli + " devices list");
      out.println("          " + cli + " rollouts status " + story.rolloutId());
      out.println("          " + cli + " repos history " + DemoStory.SOURCE);
      out.println(
          "          edit "
              + story.repository().resolve("apps/" + DemoStory.APP)
              + ", commit with git, and watch the next rollout");
      out.println();
      out.println(story.summary((System.nanoTime() - t0) / 1e9));
      out.println(
          limit == null
              ? "running until Ctrl-C"
              : "running for " + Durations.human(limit) + " (Ctrl-C stops earlier)");
      explore(out, controller, stop, limit);
      out.println(fleetLine(controller.devices().summary()));
      return 0;
    } catch (DemoStory.StepFailed e) {
      out.println();
      out.println("demo failed: " + e.getMessage());
      return 1;
    } catch (DemoStory.Stopped e) {
      return 130;
    } finally {
      out.println("stopping: closing agents and controller" + (keep ? "" : ", removing " + dir));
      try {
        if (fleet != null) {
          fleet.close();
        }
        if (controller != null) {
          controller.close();
        }
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

  private static void step(PrintStream out, int n, String what, long t0) {
    out.printf("[%d/%d] %s   (%.1fs)%n", n, STEPS, what, (System.nanoTime() - t0) / 1e9);
  }

  /** Keeps the fleet running, with a fleet line every 30 s, until stopped or the limit. */
  private static void explore(
      PrintStream out, Controller controller, CountDownLatch stop, Duration limit)
      throws InterruptedException {
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
