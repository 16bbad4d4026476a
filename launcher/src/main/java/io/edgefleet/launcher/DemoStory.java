package io.edgefleet.launcher;

import io.edgefleet.controller.Controller;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.desired.AppStatusService;
import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.devices.DeviceView;
import io.edgefleet.controller.devices.FleetSummary;
import io.edgefleet.controller.gitops.AddSource;
import io.edgefleet.controller.rollouts.RolloutEngine;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * What {@code edgefleet demo} shows after the controller is up: the fleet enrolls, a commit to a
 * Git repository delivers an app to the devices its tags select, a second commit rolls out canary
 * first and then in waves, while the rig's satellite link is down: the rig is offline and
 * pending-offline, never failed, and converges when its link is back. Each step waits on what the
 * controller reports (never on a fixed time) and fails, saying what it waited for, past its bound.
 */
final class DemoStory {
  static final String SOURCE = "fleet-apps";
  static final String APP = "hello";
  static final String TARGET = "env=demo";

  /** The most any one step may take before the demo says what it is stuck on. */
  private static final Duration STEP_LIMIT = Duration.ofSeconds(90);

  private static final Duration POLL = Duration.ofMillis(200);

  /** Canary first, then half of the rest, then the rest; a short soak so each wave can be seen. */
  static final String POLICY =
      """
      # How each new revision of an app in this repository reaches the devices.
      canary: 1                   # one device first
      waves: [50%]                # then half of the others, then the rest
      successThreshold: 100%
      failureThreshold: 0%
      soak: 2s                    # wait after each successful batch
      progressDeadline: 2m
      offlineAtDeadline: proceed
      """;

  private final Controller controller;
  private final DemoFleet fleet;
  private final DemoProgress progress;
  private final CountDownLatch stop;
  private DemoRepo repo;
  private String rolloutId = "";
  private String batches = "";
  private Duration rigOffline = Duration.ZERO;

  /** A step that did not finish: what it waited for and what it saw last. */
  static final class StepFailed extends Exception {
    StepFailed(String message) {
      super(message);
    }
  }

  /** The demo was asked to stop (Ctrl-C) while a step waited. */
  static final class Stopped extends Exception {
    Stopped() {
      super("stopped");
    }
  }

  DemoStory(Controller controller, DemoFleet fleet, DemoProgress progress, CountDownLatch stop) {
    this.controller = controller;
    this.fleet = fleet;
    this.progress = progress;
    this.stop = stop;
  }

  /** Step: every agent enrolls and comes online. */
  void enroll() throws StepFailed, Stopped {
    int n = fleet.size();
    await(
        "all " + n + " agents online",
        () -> {
          FleetSummary s = controller.devices().summary();
          progress.update(
              String.format(
                  "      enrolling: %d/%d enrolled, %d/%d online",
                  s.total() - s.pending(), n, s.online(), n));
          return s.online() >= n;
        },
        () -> DemoCommand.fleetLine(controller.devices().summary()));
    progress.end();
  }

  /** Step: a Git repository in the demo directory delivers an app to the tagged devices. */
  void deliver(Path dir) throws IOException, StepFailed, Stopped {
    repo = DemoRepo.init(dir.resolve(SOURCE));
    repo.write("apps/edgefleet-rollout.yaml", POLICY)
        .write("apps/" + APP + "/deployment.yaml", deployment("1.0"));
    String sha = repo.commit("hello 1.0");
    controller
        .gitops()
        .add(
            new AddSource(
                SOURCE, repo.url(), "main", "apps/", "5s", null, null, TARGET, null, null),
            "demo");
    controller.gitops().sync(SOURCE);
    progress.say(
        "      repository "
            + repo.work()
            + ", commit "
            + sha.substring(0, 7)
            + " \"hello 1.0\": app "
            + APP
            + " for devices tagged "
            + TARGET);
    int targeted = fleet.size();
    await(
        APP + " READY on all " + targeted + " devices",
        () -> {
          long ready = ready();
          progress.update(String.format("      %s: %d/%d devices READY", APP, ready, targeted));
          return ready >= targeted;
        },
        () -> appStates());
    progress.end();
    // The first revision went out under the repository's policy too: let its rollout finish (its
    // last batch soaks) so the next commit does not supersede it.
    await(
        "the first rollout of " + APP + " to succeed",
        () ->
            controller.rollouts().list(Optional.of(APP), Optional.empty(), 1).stream()
                .anyMatch(r -> r.state() == RolloutEngine.State.SUCCEEDED),
        () ->
            controller.rollouts().list(Optional.of(APP), Optional.empty(), 1).stream()
                .map(r -> r.id() + " " + r.state() + ": " + r.reason())
                .findFirst()
                .orElse("no rollout"));
    progress.say(
        "      rollout "
            + controller.rollouts().list(Optional.of(APP), Optional.empty(), 1).getFirst().id()
            + " of hello 1.0 succeeded");
  }

  /** Step: the rig's satellite link goes down; the rig shows as offline, with the reason. */
  void cutRig() throws StepFailed, Stopped {
    String rig = rigId();
    fleet.rigLink().cut();
    long t0 = System.nanoTime();
    await(
        "the rig shown OFFLINE",
        () -> controller.devices().get(rig).status() == DeviceStatus.OFFLINE,
        () -> describe(controller.devices().get(rig)));
    DeviceView v = controller.devices().get(rig);
    progress.say(
        String.format(
            "      %s is %s after %.1fs: %s",
            v.name(), v.status(), (System.nanoTime() - t0) / 1e9, v.statusReason()));
    rigOffline = Duration.ofNanos(System.nanoTime() - t0);
  }

  /**
   * Step: a new commit rolls out canary first, then in waves; the offline rig counts as
   * pending-offline, its link comes back, it converges and the rollout succeeds.
   */
  void rollOut() throws IOException, StepFailed, Stopped {
    String rig = rigId();
    repo.write("apps/" + APP + "/deployment.yaml", deployment("1.1"));
    String sha = repo.commit("hello 1.1");
    controller.gitops().sync(SOURCE);
    String shortSha = sha.substring(0, 12);
    await(
        "a rollout of commit " + shortSha,
        () ->
            controller.rollouts().list(Optional.of(APP), Optional.empty(), 5).stream()
                .filter(r -> r.createdBy() != null && r.createdBy().contains(shortSha))
                .findFirst()
                .map(r -> rolloutId = r.id())
                .isPresent(),
        () -> "no rollout yet");
    RolloutEngine.View started = controller.rollouts().view(rolloutId, false);
    progress.say(
        "      commit "
            + sha.substring(0, 7)
            + " \"hello 1.1\" → rollout "
            + rolloutId
            + ": "
            + started.policySummary());
    long[] seenEvents = {0};
    boolean[] restored = {false};
    long offlineStart = System.nanoTime() - rigOffline.toNanos();
    await(
        "rollout " + rolloutId + " to succeed",
        () -> {
          RolloutEngine.View v = controller.rollouts().view(rolloutId, true);
          for (RolloutEngine.EventView e : v.events()) {
            if (e.seq() > seenEvents[0]) {
              seenEvents[0] = e.seq();
              progress.say("      · " + e.message());
            }
          }
          progress.update("      " + progressLine(v));
          if (!restored[0] && waitsOnlyFor(v, rig)) {
            progress.say(
                "      "
                    + DemoFleet.RIG
                    + " is offline: the rollout counts it pending-offline, not failed"
                    + " (failed: "
                    + v.counts().failed()
                    + "); its satellite link comes back");
            fleet.rigLink().restore();
            restored[0] = true;
          }
          if (v.state().finished() && v.state() != RolloutEngine.State.SUCCEEDED) {
            throw new IllegalStateException(
                "rollout " + rolloutId + " ended " + v.state() + ": " + v.reason());
          }
          return v.state() == RolloutEngine.State.SUCCEEDED;
        },
        () -> progressLine(controller.rollouts().view(rolloutId, true)));
    progress.end();
    RolloutEngine.View done = controller.rollouts().view(rolloutId, true);
    batches =
        done.batches().stream()
            .map(b -> b.name() + " " + b.counts().targeted())
            .collect(Collectors.joining(", "));
    await(
        "the rig back ONLINE",
        () -> controller.devices().get(rig).status() == DeviceStatus.ONLINE,
        () -> describe(controller.devices().get(rig)));
    rigOffline = Duration.ofNanos(System.nanoTime() - offlineStart);
    DeviceView v = controller.devices().get(rig);
    progress.say(
        "      "
            + v.name()
            + " is back "
            + v.status()
            + " and runs "
            + done.toRevision()
            + " READY, like every other device");
  }

  /** The story in one line, once every step is done. */
  String summary(double seconds) {
    FleetSummary s = controller.devices().summary();
    long ready = ready();
    return String.format(
        "demo done in %.1fs: %d/%d devices online; %s READY on %d/%d devices; rollout %s"
            + " succeeded (%s) with 0 failed; %s was offline %.0fs, pending-offline, and converged",
        seconds,
        s.online(),
        fleet.size(),
        APP,
        ready,
        fleet.size(),
        rolloutId,
        batches,
        DemoFleet.RIG,
        rigOffline.toMillis() / 1000.0);
  }

  String rolloutId() {
    return rolloutId;
  }

  Path repository() {
    return repo.work();
  }

  /**
   * The rig's batch has been released while it is offline, and every other released device is
   * READY: the rollout now waits for the rig alone, so its link comes back.
   */
  private static boolean waitsOnlyFor(RolloutEngine.View v, String rig) {
    boolean rigPending = false;
    for (RolloutEngine.DeviceView d : v.devices()) {
      if (d.deviceId().equals(rig)) {
        rigPending = d.state() == RolloutEngine.DeviceState.PENDING_OFFLINE;
      } else if (d.state() != RolloutEngine.DeviceState.READY
          && d.state() != RolloutEngine.DeviceState.WAITING) {
        return false;
      }
    }
    return rigPending;
  }

  private static String progressLine(RolloutEngine.View v) {
    String perBatch =
        v.batches().stream()
            .map(
                b ->
                    b.name()
                        + " "
                        + b.counts().ready()
                        + "/"
                        + b.counts().targeted()
                        + (b.counts().pendingOffline() > 0
                            ? " (" + b.counts().pendingOffline() + " pending-offline)"
                            : ""))
            .collect(Collectors.joining(" · "));
    return v.state() + "  " + perBatch + "  · failed " + v.counts().failed();
  }

  private String rigId() throws StepFailed {
    return fleet
        .rigDeviceId()
        .orElseThrow(() -> new StepFailed("the rig (the last demo device) has not enrolled"));
  }

  /** The app's status on every device it is meant for; none before the controller knows it. */
  private List<AppStatusService.DeviceApp> appOnDevices() {
    try {
      return controller.appStatus().byApp(APP);
    } catch (ControllerException e) {
      return List.of(); // not on any device yet
    }
  }

  private long ready() {
    return appOnDevices().stream().filter(a -> a.state() == AppStatusService.State.READY).count();
  }

  private String appStates() {
    return appOnDevices().stream()
        .collect(Collectors.groupingBy(a -> a.state().name(), Collectors.counting()))
        .toString();
  }

  private static String describe(DeviceView v) {
    return v.name() + " " + v.status() + ": " + v.statusReason();
  }

  private static String deployment(String version) {
    return """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: hello
          labels: {app: hello}
        spec:
          replicas: 1
          selector:
            matchLabels: {app: hello}
          template:
            metadata:
              labels: {app: hello}
            spec:
              containers:
                - name: hello
                  image: nginxinc/nginx-unprivileged:%s
                  ports: [{containerPort: 8080}]
        """
        .formatted(version.equals("1.0") ? "1.26-alpine" : "1.27-alpine");
  }

  /** Polls until the condition holds; fails past the step's bound saying what it last saw. */
  private void await(String what, Check condition, Supplier<String> lastSeen)
      throws StepFailed, Stopped {
    long deadline = System.nanoTime() + STEP_LIMIT.toNanos();
    while (true) {
      boolean met;
      try {
        met = condition.met();
      } catch (RuntimeException e) {
        progress.end();
        throw new StepFailed("waiting for " + what + ": " + e.getMessage());
      }
      if (met) {
        return;
      }
      if (System.nanoTime() > deadline) {
        progress.end();
        throw new StepFailed(
            "gave up waiting "
                + STEP_LIMIT.toSeconds()
                + "s for "
                + what
                + "; last seen: "
                + lastSeen.get());
      }
      try {
        if (stop.await(POLL.toMillis(), TimeUnit.MILLISECONDS)) {
          progress.end();
          throw new Stopped();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new Stopped();
      }
    }
  }

  @FunctionalInterface
  private interface Check {
    boolean met();
  }
}
