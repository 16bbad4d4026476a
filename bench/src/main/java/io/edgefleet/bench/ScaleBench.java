package io.edgefleet.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.cli.TarGz;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.testkit.AdminClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.eclipse.jgit.api.Git;

/**
 * The scale benchmark: one controller process and one simulator process ({@code edgefleet sim})
 * with N virtual devices on this machine, driven through the scenarios connect, steady, fan-out (a
 * Git commit announced by webhook, then a catalog deployment and its upgrade) and storm. Run by
 * {@code bench/scale.sh}; reports figures, asserts nothing.
 *
 * <p>The controller runs as {@code ./edgefleet controller --data DIR --listen 127.0.0.1:PORT}
 * (SQLite, default heartbeat 30 s and telemetry 60 s) with the launcher's flags plus {@link
 * #CONTROLLER_OPTS}; its CPU and RSS come from {@code /proc/PID}, its heap from {@code jcmd}.
 * Progress of the devices comes from the simulator's {@code --stats} file (rewritten every second,
 * so times read from it have a resolution of about one second) and from {@code GET
 * /api/v1/fleet/summary}.
 */
public final class ScaleBench {
  /**
   * The controller's JVM flags: the launcher's for the controller role plus a fixed heap range, so
   * runs on different machines size the heap alike.
   */
  static final List<String> CONTROLLER_OPTS =
      List.of(
          "-XX:+UseG1GC",
          "-XX:MaxRAMPercentage=50",
          "-XX:+ExitOnOutOfMemoryError",
          "-Xms512m",
          "-Xmx4g");

  /** The simulator's JVM flags: the launcher's for the sim role. */
  static final List<String> SIM_OPTS = List.of("-XX:+UseG1GC", "-Xmx4g", "-Xss512k");

  static final String APP = "scale-app";

  /** Descriptors a process needs besides the devices' sockets (jars, database, selectors). */
  static final int FD_RESERVE = 1_000;

  /** The Git source and the app in its repository. */
  static final String SOURCE = "scale-git";

  static final String GIT_APP = "scale-git-app";

  private final Path root;
  private final Path work;
  private final String profile;
  private final int devices;
  private final int[] milestones;
  private final int steadySeconds;
  private final long phaseTimeoutMillis;
  private final String link;
  private final Map<String, Object> result = new LinkedHashMap<>();
  private final int port = freePort();
  private final Path controllerData;
  private final Path statsFile;
  private final Sampler sampler = new Sampler();
  private Process controller;
  private Process sim;
  private AdminClient admin;
  private final long clockTicks;
  private Path jfrDir;

  /**
   * With {@code --attestation}: the simulated devices' software TPM CA, which the controller trusts
   * ({@code --tpm-ca}); null without.
   */
  private Path tpmCa;

  private Git git;
  private String webhookSecret;

  /** The Git app's content revision after the last commit, which devices report. */
  private String gitHead;

  ScaleBench(
      Path root, Path work, String profile, int devices, int steadySeconds, String link, long tmo) {
    this.root = root;
    this.work = work;
    this.profile = profile;
    this.devices = devices;
    this.milestones =
        devices > 20_000
            ? new int[] {10_000, devices / 2, devices}
            : new int[] {devices / 4, devices / 2, devices};
    this.steadySeconds = steadySeconds;
    this.link = link;
    this.phaseTimeoutMillis = tmo;
    this.controllerData = work.resolve("controller");
    this.statsFile = work.resolve("sim-stats.json");
    this.clockTicks = clockTicks();
  }

  public static void main(String[] args) throws Exception {
    String profile = "small";
    Integer devices = null;
    Path root = Path.of(".").toAbsolutePath().normalize();
    Path out = null;
    String link = "lan";
    Integer steady = null;
    Path jfr = null;
    java.util.Set<String> scenarios = ALL_SCENARIOS;
    boolean attestation = false;
    Integer clusters = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--profile" -> profile = args[++i];
        case "--devices" -> devices = Integer.parseInt(args[++i]);
        case "--root" -> root = Path.of(args[++i]).toAbsolutePath();
        case "--out" -> out = Path.of(args[++i]);
        case "--link" -> link = args[++i];
        case "--steady-seconds" -> steady = Integer.parseInt(args[++i]);
        case "--jfr" -> jfr = Path.of(args[++i]).toAbsolutePath();
        case "--scenarios" -> scenarios = java.util.Set.of(args[++i].split(","));
        case "--attestation" -> attestation = true;
        case "--clusters" -> clusters = Integer.parseInt(args[++i]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    boolean full =
        switch (profile) {
          case "small" -> false;
          case "full" -> true;
          default -> throw new IllegalArgumentException("--profile small|full, not " + profile);
        };
    int n = devices != null ? devices : full ? 100_000 : 1_000;
    int clusterCount = 0;
    if (scenarios.contains("clusters")) {
      // Three devices per cluster: --clusters sets the fleet unless --devices is given.
      clusterCount = clusters != null ? clusters : n / 3;
      if (devices == null) {
        n = 3 * clusterCount;
      }
      if (clusterCount < 1 || 3 * clusterCount > n) {
        throw new IllegalArgumentException(
            "--clusters "
                + clusterCount
                + " needs "
                + 3 * clusterCount
                + " devices; --devices is "
                + n);
      }
    }
    // Each device is one socket in the controller and one in the simulator, and a process may
    // hold only RLIMIT_NOFILE descriptors: beyond that the figures would be of refused
    // connections, not of the controller.
    long files = openFilesLimit();
    String capped = null;
    if (n > files - FD_RESERVE) {
      int fit = (int) Math.max(0, (files - FD_RESERVE) / 1000 * 1000);
      capped =
          String.format(
              Locale.ROOT,
              "%,d devices need %,d open files per process; this machine allows %,d (ulimit -Hn;"
                  + " raising it needs CAP_SYS_RESOURCE or limits.conf): running %,d devices",
              n,
              n + FD_RESERVE,
              files,
              fit);
      System.out.println("[scale] " + capped);
      n = fit;
    }
    Path work = Files.createTempDirectory("edgefleet-scale-");
    ScaleBench b =
        new ScaleBench(
            root,
            work,
            profile,
            n,
            steady != null ? steady : 60,
            link,
            // Clusters: thousands of enrollments and cluster formations on a shared machine.
            full || clusterCount > 0
                ? TimeUnit.MINUTES.toMillis(20)
                : TimeUnit.SECONDS.toMillis(120));
    b.jfrDir = jfr;
    if (attestation) {
      b.tpmCa = work.resolve("tpm-ca");
      io.edgefleet.protocol.tpm.SoftEkCa.loadOrCreate(b.tpmCa, "edgefleet simulator TPM EK CA");
    }
    b.scenarios = scenarios;
    b.clusterCount = clusterCount;
    if (capped != null) {
      b.result.put("capped", capped);
    }
    Thread cleanup = new Thread(b::close);
    Runtime.getRuntime().addShutdownHook(cleanup);
    try {
      b.run();
    } finally {
      b.close();
      Runtime.getRuntime().removeShutdownHook(cleanup);
    }
    String json = Json.pretty(b.result);
    if (out != null) {
      Files.createDirectories(out.toAbsolutePath().getParent());
      Files.writeString(out, json + "\n");
      System.out.println("results: " + out);
    } else {
      System.out.println(json);
    }
    deleteTree(work);
  }

  void run() throws Exception {
    result.put("benchmark", "scale");
    result.put("profile", profile);
    result.put("devices", devices);
    result.put("date", Instant.now().toString());
    result.put("attestation", tpmCa != null);
    result.put("machine", machine());
    result.put(
        "controller",
        Map.of(
            "command",
            "./edgefleet controller --data DIR --listen 127.0.0.1:PORT (SQLite, heartbeat 60 s,"
                + " telemetry 5 min)"
                + (tpmCa != null ? " --tpm-ca DIR (attestation at every connect)" : ""),
            "jvmFlags",
            String.join(" ", CONTROLLER_OPTS)));
    result.put(
        "simulator",
        Map.of(
            "command",
            "./edgefleet sim --bootstrap FILE --devices "
                + devices
                + " --link "
                + link
                + " --stats FILE --state DIR"
                + (tpmCa != null ? " --attestation --tpm-ca DIR" : "")
                + (clusterCount > 0
                    ? " --k3s-download-time " + K3S_DOWNLOAD + " --k3s-start-time " + K3S_START
                    : ""),
            "jvmFlags",
            String.join(" ", SIM_OPTS)));
    log("work directory %s, controller port %d", work, port);

    startController();
    sampler.start();
    admin = newAdmin();
    Map<String, Object> baseline = new LinkedHashMap<>();
    baseline.put("rssBytes", rss(pid(controller)));
    baseline.put("heapUsedAfterGcBytes", heapAfterGc(pid(controller)));
    result.put("idleController", baseline);
    Path bootstrap = bootstrapFile();

    try {
      profiled("connect", () -> connect(bootstrap, baseline));
      if (scenarios.contains("steady")) {
        profiled("steady", this::steady);
      }
      if (scenarios.contains("fan-out")) {
        profiled("git-fan-out", this::gitFanOut);
        profiled("catalog-fan-out", this::fanOut);
      }
      if (scenarios.contains("storm")) {
        profiled("storm", this::storm);
      }
      if (scenarios.contains("clusters")) {
        profiled("clusters", this::clusters);
      }
    } catch (RuntimeException e) {
      // Keep what was measured; the error says where it stopped.
      result.put("error", e.toString());
      log("stopped: %s", e);
    }
  }

  // ---------------------------------------------------------------- scenarios

  private interface Scenario {
    void run() throws Exception;
  }

  /**
   * Runs a scenario; with {@code --jfr DIR}, under a JFR recording of the controller ("profile"
   * settings) written to {@code DIR/<scenario>.jfr}. The storm's recording starts after the restart
   * (the killed process's recording is lost).
   */
  private void profiled(String name, Scenario scenario) throws Exception {
    if (jfrDir == null) {
      scenario.run();
      return;
    }
    Files.createDirectories(jfrDir);
    Path file = jfrDir.resolve(name + ".jfr");
    if (!name.equals("storm")) {
      jcmd("JFR.start", "name=" + name, "settings=profile");
    } else {
      stormRecording = file;
    }
    try {
      scenario.run();
    } finally {
      if (controller != null && controller.isAlive()) {
        jcmd("JFR.dump", "name=" + name, "filename=" + file);
        jcmd("JFR.stop", "name=" + name);
        log("%s: JFR recording %s", name, file);
      }
    }
  }

  private Path stormRecording;

  private void jcmd(String... args) throws IOException {
    Path jcmd =
        Path.of(ProcessHandle.current().info().command().orElse("java")).resolveSibling("jcmd");
    List<String> cmd = new ArrayList<>(List.of(jcmd.toString(), Long.toString(controller.pid())));
    cmd.addAll(List.of(args));
    run(cmd.toArray(String[]::new));
  }

  private void connect(Path bootstrap, Map<String, Object> baseline) throws Exception {
    log("connect: starting the simulator with %d devices", devices);
    long start = System.nanoTime();
    long cpu0 = sampler.cpuTicks();
    startSimulator(bootstrap);
    Map<String, Object> connect = new LinkedHashMap<>();
    List<Map<String, Object>> reached = new ArrayList<>();
    int next = 0;
    long deadline = System.currentTimeMillis() + phaseTimeoutMillis;
    int online = 0;
    while (next < milestones.length && System.currentTimeMillis() < deadline) {
      online = online();
      while (next < milestones.length && online >= milestones[next]) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("devices", milestones[next]);
        m.put("seconds", seconds(start));
        JsonNode s = stats();
        m.put("simEnrolled", s.path("enrolled").asLong());
        m.put("simConnected", s.path("connected").asLong());
        m.put("controllerRssBytes", rss(pid(controller)));
        reached.add(m);
        log("connect: %d online after %.1f s", milestones[next], seconds(start));
        next++;
      }
      if (!sim.isAlive()) {
        throw new IllegalStateException("the simulator exited: see " + work.resolve("sim.log"));
      }
      Thread.sleep(250);
    }
    connect.put("milestones", reached);
    connect.put("completed", next == milestones.length);
    if (next < milestones.length) {
      connect.put("onlineAtTimeout", online);
    }
    double elapsed = seconds(start);
    connect.put("controllerCpuSeconds", (sampler.cpuTicks() - cpu0) / (double) clockTicks);
    connect.put("controllerPeakCpuPercent", sampler.peakPercentSince(start));
    connect.put(
        "controllerMeanCpuPercent",
        100 * (sampler.cpuTicks() - cpu0) / (double) clockTicks / elapsed);
    // Let enrollment bursts settle before the memory is read.
    Thread.sleep(5_000);
    long pid = pid(controller);
    long rss = rss(pid);
    long heap = heapAfterGc(pid);
    connect.put("controllerRssBytes", rss);
    connect.put("controllerHeapUsedAfterGcBytes", heap);
    int connected = (int) stats().path("connected").asLong();
    connect.put("connected", connected);
    // Orphans: device records beyond the simulated devices, as an enrollment retried after a
    // lost answer would make if it were not idempotent.
    long records = deviceRecords();
    connect.put("controllerDeviceRecords", records);
    connect.put("orphanDeviceRecords", records < 0 ? -1 : Math.max(0, records - devices));
    log(
        "connect: %d device records for %d simulated devices (%d orphans)",
        records, devices, Math.max(0, records - devices));
    if (connected > 0) {
      connect.put("rssPerDeviceBytes", (rss - (long) baseline.get("rssBytes")) / connected);
      connect.put(
          "heapPerDeviceBytes", (heap - (long) baseline.get("heapUsedAfterGcBytes")) / connected);
    }
    JsonNode s = stats();
    connect.put("simHeapPerDeviceBytes", s.path("heapPerDeviceBytes").asLong());
    if (tpmCa != null) {
      long activations = s.path("activations").asLong();
      connect.put("activations", activations);
      connect.put("attestations", s.path("attestations").asLong());
      connect.put("quarantined", s.path("quarantined").asLong());
      // Every enrollment is two requests (EK certificate chain, key proof, credential, then the
      // activated credential and the enrollment quote) and the connect's first attestation.
      connect.put(
          "controllerCpuMsPerTpmEnrollment",
          activations == 0
              ? null
              : 1000.0 * (sampler.cpuTicks() - cpu0) / clockTicks / activations);
    }
    connect.put("simLastError", s.path("lastError").asText(null));
    result.put("connect", connect);
  }

  /**
   * The scenarios after connect, all but clusters by default ({@code --scenarios
   * steady,fan-out,storm,clusters}).
   */
  static final java.util.Set<String> ALL_SCENARIOS = java.util.Set.of("steady", "fan-out", "storm");

  private java.util.Set<String> scenarios = ALL_SCENARIOS;

  private void steady() throws Exception {
    // Idle means idle: the window starts once no device has fetched or been sent a desired state
    // for 15 s (enrollment's first documents are done) and every device has sent its first metric
    // summary (on a new connection that one also names the metrics; later ones do not).
    long settleStart = System.nanoTime();
    long deadline = System.currentTimeMillis() + phaseTimeoutMillis + TimeUnit.MINUTES.toMillis(6);
    long last = -1;
    long quietSince = System.nanoTime();
    while (System.currentTimeMillis() < deadline) {
      JsonNode s = stats();
      long changes = s.path("desiredFetches").asLong() + s.path("pushedDocuments").asLong();
      if (changes != last) {
        last = changes;
        quietSince = System.nanoTime();
      } else if (System.nanoTime() - quietSince > TimeUnit.SECONDS.toNanos(15)
          && s.path("telemetryRecords").asLong() >= s.path("connected").asLong()) {
        break;
      }
      Thread.sleep(500);
    }
    double settled = seconds(settleStart);
    log("steady: %d s at %d idle devices (settled after %.0f s)", steadySeconds, devices, settled);
    JsonNode s0 = stats();
    long cpu0 = sampler.cpuTicks();
    long segs0 = tcpOutSegments();
    long start = System.nanoTime();
    Thread.sleep(steadySeconds * 1000L);
    JsonNode s1 = stats();
    long segs = tcpOutSegments() - segs0;
    double secs = seconds(start);
    long cpu = sampler.cpuTicks() - cpu0;
    long in = s1.path("bytesIn").asLong() - s0.path("bytesIn").asLong();
    long out = s1.path("bytesOut").asLong() - s0.path("bytesOut").asLong();
    int n = Math.max(1, (int) s1.path("connected").asLong());
    Map<String, Object> steady = new LinkedHashMap<>();
    steady.put("seconds", secs);
    steady.put("settledAfterSeconds", settled);
    steady.put("connected", n);
    steady.put("controllerCpuPercentOfOneCore", 100 * cpu / (double) clockTicks / secs);
    steady.put("controllerPeakCpuPercent", sampler.peakPercentSince(start));
    steady.put("controllerCpuMicrosPerDevicePerSecond", 1e6 * cpu / (double) clockTicks / secs / n);
    steady.put("simBytesIn", in);
    steady.put("simBytesOut", out);
    steady.put("bytesInPerDevicePerDay", Math.round(in / (double) n * 86_400 / secs));
    steady.put("bytesOutPerDevicePerDay", Math.round(out / (double) n * 86_400 / secs));
    // On the wire: TLS payload plus an IPv4 + TCP header (with timestamps, 52 B) per segment.
    // The kernel counts segments for the whole machine (both ends here, and anything else
    // running), so this is an upper bound.
    steady.put("tcpSegments", segs);
    steady.put(
        "wireBytesPerDevicePerDayUpperBound",
        Math.round((in + out + 52.0 * segs) / n * 86_400 / secs));
    steady.put("messagesOut", s1.path("messagesOut").asLong() - s0.path("messagesOut").asLong());
    steady.put("messagesIn", s1.path("messagesIn").asLong() - s0.path("messagesIn").asLong());
    steady.put("reconnects", s1.path("reconnects").asLong() - s0.path("reconnects").asLong());
    for (String k :
        List.of(
            "desiredFetches",
            "pushedDocuments",
            "bundleFetches",
            "inlineBundles",
            "telemetryRecords",
            "telemetryBatches",
            "telemetryCompactBatches",
            "telemetryPayloadBytes")) {
      steady.put(k, s1.path(k).asLong() - s0.path(k).asLong());
    }
    // WebSocket payload of the telemetry batches (an older simulator does not count it).
    long telemetryPayload =
        s1.path("telemetryPayloadBytes").asLong() - s0.path("telemetryPayloadBytes").asLong();
    steady.put(
        "telemetryPayloadBytesPerDevicePerDay",
        Math.round(telemetryPayload / (double) n * 86_400 / secs));
    steady.put("controllerRssBytes", rss(pid(controller)));
    result.put("steady", steady);
  }

  /**
   * A Git source whose one app targets every device; once all run its first commit, one commit
   * changes the app and the controller is told by a signed push webhook. The clock starts just
   * before the commit.
   */
  private void gitFanOut() throws Exception {
    Path repo = work.resolve("repo");
    git = Git.init().setDirectory(repo.toFile()).setInitialBranch("main").call();
    String first = commitGit(1);
    checked(
        admin.post(
            "/api/v1/repos",
            Map.of(
                "name", SOURCE, "url", repo.toUri().toString(), "target", "", "interval", "1h")));
    JsonNode source = checked(admin.get("/api/v1/repos/" + SOURCE));
    webhookSecret = source.path("webhookSecret").asText();
    log("git: source added at %s; waiting for every device to run it", first.substring(0, 12));
    result.put(
        "gitDeploy",
        progress(
            Json.mapper().createObjectNode(),
            appRevision(first),
            "first commit of a Git app on every device"));
    long t0 = System.nanoTime();
    String second = commitGit(2);
    int status = callWebhook(second);
    Map<String, Object> fan =
        progress(
            Json.mapper().createObjectNode(),
            appRevision(second),
            "one Git commit (webhook) changing an app on every device",
            t0);
    fan.put("commit", second);
    fan.put("webhookStatus", status);
    result.put("fanOut", fan);
    gitHead = (String) fan.get("revision");
  }

  /**
   * The Git app's content revision once the controller recorded {@code sha}: devices report the
   * app's content digest, not the commit (a commit that leaves the app as it was keeps its
   * revision).
   */
  private String appRevision(String sha) throws Exception {
    long deadline = System.currentTimeMillis() + phaseTimeoutMillis;
    while (System.currentTimeMillis() < deadline) {
      AdminClient.Answer a = admin.get("/api/v1/repos/" + SOURCE + "/commits/" + sha);
      if (a.status() == 200) {
        for (JsonNode app : a.body().path("apps")) {
          if (app.path("app").asText().equals(GIT_APP) && app.hasNonNull("revision")) {
            return app.path("revision").asText();
          }
        }
        throw new IllegalStateException(
            "commit " + sha + " was recorded without a revision of " + GIT_APP + ": " + a.body());
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException("the controller did not record commit " + sha + " in time");
  }

  private String commitGit(int version) throws Exception {
    Path dir = git.getRepository().getWorkTree().toPath().resolve("apps").resolve(GIT_APP);
    Files.createDirectories(dir);
    Files.writeString(
        dir.resolve("configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: scale-git\n  namespace: scale\n"
            + "data:\n  version: \""
            + version
            + "\"\n");
    git.add().addFilepattern(".").call();
    return git.commit()
        .setMessage("scale-git " + version)
        .setAuthor("Bench", "bench@example.com")
        .setCommitter("Bench", "bench@example.com")
        .setSign(false)
        .call()
        .getName();
  }

  /** A GitHub-style push webhook, signed with the source's secret. */
  private int callWebhook(String sha) throws Exception {
    byte[] body =
        Json.writeBytes(
            Map.of(
                "ref",
                "refs/heads/main",
                "after",
                sha,
                "repository",
                Map.of("full_name", "bench/" + SOURCE)));
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(webhookSecret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
    String signature = "sha256=" + java.util.HexFormat.of().formatHex(mac.doFinal(body));
    AdminClient.Answer a =
        admin.raw(
            "POST",
            "/api/v1/hooks/git/" + SOURCE,
            body,
            null,
            "application/json",
            Map.of("X-GitHub-Event", "push", "X-Hub-Signature-256", signature));
    if (a.status() / 100 != 2) {
      throw new IllegalStateException("the webhook answered " + a.status() + ": " + a.body());
    }
    return a.status();
  }

  /** The catalog: a new app deployed to every device, then upgraded (default rollout policy). */
  private void fanOut() throws Exception {
    log("fan-out: pushing %s 1 and deploying it to '*'", APP);
    push("1");
    // The clock starts before the request: what it takes to answer is part of the operator's wait.
    long deployStart = System.nanoTime();
    JsonNode d =
        checked(
            admin.post(
                "/api/v1/deployments",
                Map.of("name", APP, "app", APP, "version", "1", "target", "*")));
    double deployAnswered = seconds(deployStart);
    Map<String, Object> deployed =
        progress(d, "1", "deploy of a new app to every device", deployStart);
    deployed.put("requestSeconds", deployAnswered);
    log("  the deploy request was answered after %.1f s", deployAnswered);
    result.put("deploy", deployed);
    push("2");
    log("fan-out: upgrading %s to 2", APP);
    // The target is repeated: a deployment to '*' stores the empty (canonical) selector, and an
    // upgrade without 'target' re-reads that as missing (422 VALIDATION_FAILED).
    long upgradeStart = System.nanoTime();
    JsonNode u =
        checked(
            admin.post(
                "/api/v1/deployments/" + APP + "/upgrade", Map.of("version", "2", "target", "*")));
    double upgradeAnswered = seconds(upgradeStart);
    Map<String, Object> upgraded =
        progress(u, "2", "upgrade of one app on every device", upgradeStart);
    upgraded.put("requestSeconds", upgradeAnswered);
    log("  the upgrade request was answered after %.1f s", upgradeAnswered);
    result.put("catalogUpgrade", upgraded);
  }

  /** Times until 50/90/99/100 % of the devices report the revision READY. */
  private Map<String, Object> progress(JsonNode answer, String revision, String what)
      throws Exception {
    return progress(answer, revision, what, System.nanoTime());
  }

  private Map<String, Object> progress(JsonNode answer, String revision, String what, long start)
      throws Exception {
    long cpu0 = sampler.cpuTicks();
    JsonNode s0 = stats();
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("what", what);
    r.put("revision", revision);
    double[] shares = {0.5, 0.9, 0.99, 1.0};
    Map<String, Object> times = new LinkedHashMap<>();
    int next = 0;
    long deadline = System.currentTimeMillis() + phaseTimeoutMillis;
    long ready = 0;
    while (next < shares.length && System.currentTimeMillis() < deadline) {
      JsonNode s = stats();
      ready = ready(s, revision);
      while (next < shares.length && ready >= Math.ceil(shares[next] * devices)) {
        times.put(Math.round(shares[next] * 100) + "%", seconds(start));
        next++;
      }
      Thread.sleep(100);
    }
    double secs = seconds(start);
    JsonNode s1 = stats();
    r.put("secondsUntil", times);
    r.put("completed", next == shares.length);
    r.put("readyAtEnd", ready);
    r.put("failedApplies", s1.path("failedApplies").asLong() - s0.path("failedApplies").asLong());
    r.put(
        "desiredFetches", s1.path("desiredFetches").asLong() - s0.path("desiredFetches").asLong());
    r.put("bundleFetches", s1.path("bundleFetches").asLong() - s0.path("bundleFetches").asLong());
    r.put(
        "pushedDocuments",
        s1.path("pushedDocuments").asLong() - s0.path("pushedDocuments").asLong());
    r.put("inlineBundles", s1.path("inlineBundles").asLong() - s0.path("inlineBundles").asLong());
    r.put("simBytesIn", s1.path("bytesIn").asLong() - s0.path("bytesIn").asLong());
    r.put("simBytesOut", s1.path("bytesOut").asLong() - s0.path("bytesOut").asLong());
    r.put("controllerCpuSeconds", (sampler.cpuTicks() - cpu0) / (double) clockTicks);
    r.put("controllerPeakCpuPercent", sampler.peakPercentSince(start));
    r.put(
        "controllerMeanCpuPercent", 100 * (sampler.cpuTicks() - cpu0) / (double) clockTicks / secs);
    r.put("rollout", answer.path("rollout").path("id").asText(null));
    log("%s: %s", what, times);
    return r;
  }

  private void storm() throws Exception {
    JsonNode before = stats();
    log("storm: kill -9 of the controller with %d connected", before.path("connected").asLong());
    Map<String, Object> storm = new LinkedHashMap<>();
    storm.put("connectedBefore", before.path("connected").asLong());
    storm.put("generationsBefore", before.path("generations"));
    long killed = System.nanoTime();
    controller.destroyForcibly();
    controller.waitFor(30, TimeUnit.SECONDS);
    startController();
    if (stormRecording != null) {
      jcmd("JFR.start", "name=storm", "settings=profile");
    }
    double serving = seconds(killed);
    storm.put("secondsUntilServing", serving);
    long restarted = System.nanoTime();
    admin.close();
    admin = newAdmin();
    Double allConnected = null;
    Double allOnline = null;
    Double inSync = null;
    Double allAttested = null;
    long cpuConnected = 0;
    long cpuAttested = 0;
    long attestationsBefore = before.path("attestations").asLong();
    long deadline = System.currentTimeMillis() + phaseTimeoutMillis;
    long cpu0 = sampler.cpuTicks();
    while (inSync == null && System.currentTimeMillis() < deadline) {
      JsonNode s = stats();
      if (allConnected == null && s.path("connected").asLong() >= devices) {
        allConnected = seconds(killed);
        cpuConnected = sampler.cpuTicks() - cpu0;
      }
      if (tpmCa != null
          && allAttested == null
          && s.path("attestations").asLong() - attestationsBefore >= devices) {
        allAttested = seconds(killed);
        cpuAttested = sampler.cpuTicks() - cpu0;
      }
      if (allOnline == null && online() >= devices) {
        allOnline = seconds(killed);
      }
      if (allConnected != null
          && allOnline != null
          && s.path("connected").asLong() >= devices
          && (!scenarios.contains("fan-out") || ready(s, "2") >= devices)
          && (gitHead == null || ready(s, gitHead) >= devices)
          && (tpmCa == null || allAttested != null)
          && s.path("generations").size() == 1) {
        inSync = seconds(killed);
      }
      Thread.sleep(250);
    }
    storm.put("secondsUntilAllConnected", allConnected);
    storm.put("secondsUntilAllOnline", allOnline);
    storm.put("secondsUntilInSync", inSync);
    // Controller CPU from the restart until every device was connected again: the reconnect
    // alone, to compare with the same figure of a run with --attestation.
    storm.put("controllerCpuSecondsUntilAllConnected", cpuConnected / (double) clockTicks);
    storm.put("controllerCpuSeconds", (sampler.cpuTicks() - cpu0) / (double) clockTicks);
    storm.put("controllerPeakCpuPercent", sampler.peakPercentSince(restarted));
    // Stay a few more seconds: a device that is lost or gives up late should show.
    Thread.sleep(5_000);
    JsonNode after = stats();
    storm.put("connectedAtEnd", after.path("connected").asLong());
    storm.put("onlineAtEnd", online());
    storm.put("gaveUp", after.path("gaveUp").asLong());
    storm.put("reconnects", after.path("reconnects").asLong() - before.path("reconnects").asLong());
    storm.put(
        "desiredFetches",
        after.path("desiredFetches").asLong() - before.path("desiredFetches").asLong());
    storm.put(
        "bundleFetches",
        after.path("bundleFetches").asLong() - before.path("bundleFetches").asLong());
    storm.put(
        "enrollments", after.path("enrollments").asLong() - before.path("enrollments").asLong());
    storm.put("generationsAfter", after.path("generations"));
    storm.put("controllerRssBytes", rss(pid(controller)));
    storm.put("simLastError", after.path("lastError").asText(null));
    if (tpmCa != null) {
      long attested = after.path("attestations").asLong() - before.path("attestations").asLong();
      storm.put("attestations", attested);
      storm.put("quarantinedAtEnd", after.path("quarantined").asLong());
      storm.put("secondsUntilAllAttested", allAttested);
      // The controller's CPU (/proc/PID/stat) from the restart until every device had answered
      // its connect challenge, per attestation: an upper bound, as it includes the reconnects
      // themselves; controllerCpuSecondsUntilAllConnected of a storm without --attestation is
      // the part that is not attestation.
      storm.put("controllerCpuSecondsUntilAllAttested", cpuAttested / (double) clockTicks);
      storm.put(
          "controllerCpuMsPerAttestation",
          allAttested == null ? null : 1000.0 * cpuAttested / clockTicks / devices);
    }
    log(
        "storm: serving after %.1f s, all connected after %s s, in sync after %s s, gaveUp %d",
        serving, allConnected, inSync, after.path("gaveUp").asLong());
    result.put("storm", storm);
  }

  // ---------------------------------------------------------------- clusters

  /** The K3s versions of the clusters scenario: formed at the first, bumped to the second. */
  static final String K3S_V1 = "v1.20.2+k3s1";

  static final String K3S_V2 = "v1.20.4+k3s1";

  /** The profile every benchmark cluster follows (selector over the clusters' labels). */
  static final String CLUSTER_PROFILE = "scale-clusters";

  /** Simulated K3s: how long a node takes to fetch the binary and to become ready. */
  static final String K3S_DOWNLOAD = "2s";

  static final String K3S_START = "3s";

  /** Clusters of 3 servers ({@code --clusters}); 0: the scenario does not run. */
  private int clusterCount;

  /**
   * Clusters from tags: tags 3 devices per pool ({@code clusterpool=pool-<i>}), pushes a K3s binary
   * for two versions, creates one cluster per pool (3..3 servers) and times formation until every
   * cluster is READY; then publishes a profile whose Kubernetes layer bumps the version and times
   * it until every member runs the new version and every cluster is READY again.
   */
  private void clusters() throws Exception {
    int n = clusterCount;
    Map<String, Object> c = new LinkedHashMap<>();
    c.put("clusters", n);
    c.put("nodesPerCluster", 3);
    c.put(
        "k3s", Map.of("from", K3S_V1, "to", K3S_V2, "download", K3S_DOWNLOAD, "start", K3S_START));
    result.put("clusters", c);

    // Devices by their simulator index (serial sim-<fleet>-<index>).
    Map<Integer, String> byIndex = new java.util.TreeMap<>();
    String after = null;
    do {
      JsonNode page =
          checked(
              admin.get("/api/v1/devices?limit=1000" + (after == null ? "" : "&after=" + after)));
      for (JsonNode d : page.path("items")) {
        String serial = d.path("serial").asText();
        int dash = serial.lastIndexOf('-');
        byIndex.put(Integer.parseInt(serial.substring(dash + 1)), d.path("id").asText());
      }
      after = page.path("next").isTextual() ? page.path("next").asText() : null;
    } while (after != null);
    if (byIndex.size() < 3 * n) {
      throw new IllegalStateException(
          byIndex.size() + " devices enrolled; " + n + " clusters of 3 need " + 3 * n);
    }
    long tagStart = System.nanoTime();
    List<Integer> indices = new ArrayList<>(byIndex.keySet()).subList(0, 3 * n);
    parallel(
        indices,
        i ->
            checked(
                admin.patch(
                    "/api/v1/devices/" + byIndex.get(i) + "/tags",
                    Map.of("set", Map.of("clusterpool", "pool-" + (i / 3))))));
    c.put("tagSeconds", seconds(tagStart));
    log("clusters: tagged %d devices into %d pools in %.1f s", 3 * n, n, seconds(tagStart));

    for (String v : List.of(K3S_V1, K3S_V2)) {
      // A stand-in binary: any bytes, different per version (a different digest).
      byte[] binary = new byte[4 << 20];
      new java.util.Random(v.hashCode()).nextBytes(binary);
      checked(
          admin.raw(
              "POST",
              "/api/v1/artifacts?kind=k3s&arch=amd64&version="
                  + java.net.URLEncoder.encode(v, StandardCharsets.UTF_8),
              binary,
              adminToken(),
              "application/octet-stream"));
    }
    log("clusters: pushed the K3s artifacts %s and %s", K3S_V1, K3S_V2);

    // The profile every benchmark cluster follows (by name, not pinned): version 1's Kubernetes
    // layer is the version the clusters form at.
    checked(
        admin.post(
            "/api/v1/profiles",
            Map.of(
                "name",
                CLUSTER_PROFILE,
                "selector",
                "bench=scale",
                "layers",
                kubernetesLayer(K3S_V1))));
    log("clusters: published profile %s@1 (Kubernetes %s)", CLUSTER_PROFILE, K3S_V1);

    // Formation.
    long cpu0 = sampler.cpuTicks();
    long start = System.nanoTime();
    Map<String, Long> created = new java.util.concurrent.ConcurrentHashMap<>();
    List<Integer> pools = java.util.stream.IntStream.range(0, n).boxed().toList();
    // Created in the background while the clusters are watched, so a cluster that forms while
    // others are still being created is timed from its own creation to its own READY.
    java.util.concurrent.CompletableFuture<Double> creating =
        java.util.concurrent.CompletableFuture.supplyAsync(
            () -> {
              try {
                parallel(
                    pools,
                    i -> {
                      checked(admin.post("/api/v1/clusters", clusterRequest("pool-" + i)));
                      created.put("pool-" + i, System.nanoTime());
                    });
              } catch (Exception e) {
                throw new java.util.concurrent.CompletionException(e);
              }
              double secs = seconds(start);
              log("clusters: created %d clusters in %.1f s", n, secs);
              return secs;
            });
    Map<String, Object> formation =
        untilClusters(
            created,
            n,
            () -> {
              if (creating.isCompletedExceptionally()) {
                creating.join();
              }
            },
            start,
            cpu0,
            cl -> cl.path("state").asText().equals("READY"),
            s -> s.path("k3sRunning").path(K3S_V1).asLong() >= 3L * n);
    formation.put("createSeconds", creating.join());
    c.put("formation", formation);

    // The bump: version 2 of the profile changes its Kubernetes layer; publishing it starts its
    // rollout across every cluster following it (the default policy: one batch).
    long cpu1 = sampler.cpuTicks();
    long bumpStart = System.nanoTime();
    checked(
        admin.post(
            "/api/v1/profiles/" + CLUSTER_PROFILE + "/versions",
            Map.of("layers", kubernetesLayer(K3S_V2))));
    log("clusters: published profile %s@2 (Kubernetes %s)", CLUSTER_PROFILE, K3S_V2);
    Map<String, Long> bumpStarted = new java.util.HashMap<>();
    for (String name : created.keySet()) {
      bumpStarted.put(name, bumpStart);
    }
    // A cluster is done when the list shows it READY again after it was seen changing (READY
    // means every member settled at the wanted version); afterwards every cluster is read whole
    // to check that each member reports the new version, so the reads do not slow the polling.
    java.util.Set<String> changing = java.util.concurrent.ConcurrentHashMap.newKeySet();
    Map<String, Object> bump =
        untilClusters(
            bumpStarted,
            n,
            () -> {},
            bumpStart,
            cpu1,
            cl -> {
              String name = cl.path("name").asText();
              if (!cl.path("state").asText().equals("READY")) {
                changing.add(name);
                return false;
              }
              return changing.contains(name);
            },
            s -> s.path("k3sRunning").path(K3S_V2).asLong() >= 3L * n);
    java.util.concurrent.atomic.AtomicInteger atNewVersion =
        new java.util.concurrent.atomic.AtomicInteger();
    parallel(
        new ArrayList<>(created.keySet()),
        name -> {
          if (runsEverywhere(checked(admin.get("/api/v1/clusters/" + name)), K3S_V2)) {
            atNewVersion.incrementAndGet();
          }
        });
    bump.put("clustersWithEveryMemberAtNewVersion", atNewVersion.get());
    log("clusters: %d of %d clusters have every member at %s", atNewVersion.get(), n, K3S_V2);
    c.put("bump", bump);
    c.put("controllerRssBytes", rss(pid(controller)));
    c.put("controllerHeapUsedAfterGcBytes", heapAfterGc(pid(controller)));
    JsonNode s = stats();
    c.put("simK3sPhases", s.path("k3sPhases"));
    c.put("simArtifactChecks", s.path("artifactChecks").asLong());
    c.put("simTokenFetches", s.path("tokenFetches").asLong());
    c.put("simClusterReports", s.path("clusterReports").asLong());
    c.put("simLastError", s.path("lastError").asText(null));
  }

  /**
   * Whether the cluster view says every member runs {@code version}: its members' versions, else
   * the versions it lists as running.
   */
  static boolean runsEverywhere(JsonNode cluster, String version) {
    JsonNode members = cluster.path("members");
    if (members.isArray() && !members.isEmpty()) {
      for (JsonNode m : members) {
        if (!version.equals(m.path("kubernetesVersion").asText())) {
          return false;
        }
      }
      return true;
    }
    JsonNode running = cluster.path("kubernetes").path("running");
    return running.isArray()
        && !running.isEmpty()
        && java.util.stream.StreamSupport.stream(running.spliterator(), false)
            .allMatch(v -> version.equals(v.asText()));
  }

  private Map<String, Object> clusterRequest(String name) {
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("name", name);
    r.put("selector", "clusterpool=" + name);
    r.put("servers", Map.of("min", 3, "max", 3));
    r.put("agents", Map.of("min", 0, "max", 0));
    r.put("profile", CLUSTER_PROFILE);
    r.put("labels", Map.of("bench", "scale"));
    return r;
  }

  /** The layers of a profile version that only sets the Kubernetes version. */
  private static List<Map<String, Object>> kubernetesLayer(String version) {
    return List.of(Map.of("name", "k3s", "kind", "kubernetes", "kubernetesVersion", version));
  }

  /**
   * Polls the cluster list until {@code expected} clusters of {@code since} (which may still grow
   * while they are created) are {@code done}, each timed from its own start, and {@code simDone}
   * holds for the simulator's counters: the total, and p50/p99 of the clusters' own times. {@code
   * check} runs before each poll (it throws to stop).
   */
  private Map<String, Object> untilClusters(
      Map<String, Long> since,
      int expected,
      Runnable check,
      long start,
      long cpu0,
      java.util.function.Predicate<JsonNode> done,
      java.util.function.Predicate<JsonNode> simDone)
      throws Exception {
    Map<String, Double> doneAfter = new java.util.HashMap<>();
    Map<String, String> lastState = new java.util.HashMap<>();
    long deadline = System.currentTimeMillis() + Math.max(phaseTimeoutMillis, 1_200_000);
    Double allDone = null;
    Double simAll = null;
    long lastLog = 0;
    while ((allDone == null || simAll == null) && System.currentTimeMillis() < deadline) {
      check.run();
      JsonNode list = checked(admin.get("/api/v1/clusters"));
      long now = System.nanoTime();
      for (JsonNode cl : list.path("items")) {
        String name = cl.path("name").asText();
        lastState.put(name, cl.path("state").asText());
        if (since.containsKey(name) && !doneAfter.containsKey(name) && done.test(cl)) {
          doneAfter.put(name, Math.round((now - since.get(name)) / 1e8) / 10.0);
        }
      }
      JsonNode s = stats();
      if (simAll == null && simDone.test(s)) {
        simAll = seconds(start);
      }
      if (allDone == null && doneAfter.size() >= expected) {
        allDone = seconds(start);
      }
      if (System.nanoTime() - lastLog > TimeUnit.SECONDS.toNanos(10)) {
        lastLog = System.nanoTime();
        log(
            "  %.0f s: clusters %s, done %d/%d; nodes %s, running %s",
            seconds(start),
            count(lastState),
            doneAfter.size(),
            expected,
            s.path("k3sPhases"),
            s.path("k3sRunning"));
      }
      Thread.sleep(1_000);
    }
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("completed", allDone != null && simAll != null);
    r.put("secondsUntilAllClusters", allDone);
    r.put("secondsUntilAllNodes", simAll);
    List<Double> times = new ArrayList<>(doneAfter.values());
    java.util.Collections.sort(times);
    r.put("clustersDone", times.size());
    r.put("perClusterSecondsP50", percentile(times, 0.5));
    r.put("perClusterSecondsP99", percentile(times, 0.99));
    r.put("perClusterSecondsMax", times.isEmpty() ? null : times.getLast());
    r.put("statesAtEnd", count(lastState));
    double secs = seconds(start);
    long cpu = sampler.cpuTicks() - cpu0;
    r.put("controllerCpuSeconds", cpu / (double) clockTicks);
    r.put("controllerMeanCpuPercent", 100 * cpu / (double) clockTicks / secs);
    r.put("controllerPeakCpuPercent", sampler.peakPercentSince(start));
    r.put("controllerRssBytes", rss(pid(controller)));
    log("clusters: %s", r);
    return r;
  }

  private static Map<String, Integer> count(Map<String, String> states) {
    Map<String, Integer> m = new java.util.TreeMap<>();
    states.values().forEach(st -> m.merge(st, 1, Integer::sum));
    return m;
  }

  static Double percentile(List<Double> sorted, double p) {
    if (sorted.isEmpty()) {
      return null;
    }
    int i = (int) Math.ceil(p * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, i)));
  }

  private interface Each<T> {
    void accept(T t) throws Exception;
  }

  /** Runs {@code each} over {@code items} on 4 threads (admin requests in flight). */
  private static <T> void parallel(List<T> items, Each<T> each) throws Exception {
    java.util.concurrent.ExecutorService pool =
        java.util.concurrent.Executors.newFixedThreadPool(4);
    try {
      List<java.util.concurrent.Future<?>> fs = new ArrayList<>();
      for (T t : items) {
        fs.add(
            pool.submit(
                () -> {
                  each.accept(t);
                  return null;
                }));
      }
      for (var f : fs) {
        try {
          f.get();
        } catch (java.util.concurrent.ExecutionException e) {
          throw e.getCause() instanceof Exception x ? x : new IllegalStateException(e.getCause());
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }

  private String adminToken() throws IOException {
    return Files.readString(controllerData.resolve("admin-token")).trim();
  }

  // ---------------------------------------------------------------- processes

  private void startController() throws Exception {
    ProcessBuilder pb =
        new ProcessBuilder(
                launcher(
                    CONTROLLER_OPTS,
                    "controller",
                    "--data",
                    controllerData.toString(),
                    "--listen",
                    "127.0.0.1:" + port,
                    // The whole simulated fleet enrolls from a few addresses at once.
                    "--enrollments-per-address",
                    "1000000"))
            .redirectErrorStream(true)
            .redirectOutput(
                ProcessBuilder.Redirect.appendTo(work.resolve("controller.log").toFile()));
    if (tpmCa != null) {
      pb.command().addAll(List.of("--tpm-ca", tpmCa.toString()));
    }
    Path logFile = work.resolve("controller.log");
    long mark = Files.exists(logFile) ? Files.size(logFile) : 0;
    controller = pb.start();
    sampler.watch(controller.pid());
    long deadline = System.currentTimeMillis() + 120_000;
    while (System.currentTimeMillis() < deadline) {
      String text = Files.exists(logFile) ? Files.readString(logFile) : "";
      if (text.length() > mark
          && text.substring((int) Math.min(mark, text.length())).contains(" serving https://")) {
        return;
      }
      if (!controller.isAlive()) {
        throw new IllegalStateException("the controller exited:\n" + text);
      }
      Thread.sleep(50);
    }
    throw new IllegalStateException("the controller did not start in 120 s; see " + logFile);
  }

  private void startSimulator(Path bootstrap) throws IOException {
    ProcessBuilder pb =
        new ProcessBuilder(
                launcher(
                    SIM_OPTS,
                    "sim",
                    "--bootstrap",
                    bootstrap.toString(),
                    "--devices",
                    Integer.toString(devices),
                    "--link",
                    link,
                    "--stats",
                    statsFile.toString(),
                    "--state",
                    work.resolve("sim-state").toString()))
            .redirectErrorStream(true)
            .redirectOutput(work.resolve("sim.log").toFile());
    if (tpmCa != null) {
      pb.command().addAll(List.of("--attestation", "--tpm-ca", tpmCa.toString()));
    }
    if (clusterCount > 0) {
      pb.command()
          .addAll(List.of("--k3s-download-time", K3S_DOWNLOAD, "--k3s-start-time", K3S_START));
    }
    if (devices > 5_000) {
      // One source address has ~28k ephemeral ports, shared by the sockets and the enrollment
      // connections in TIME_WAIT: spread larger fleets over 127.0.0.2-11 (all of 127/8 is local
      // on Linux).
      pb.command().addAll(List.of("--source-addresses", "127.0.0.2-127.0.0.11"));
    }
    sim = pb.start();
  }

  private List<String> launcher(List<String> jvmOpts, String... args) {
    return Launcher.command(root, jvmOpts, args);
  }

  private AdminClient newAdmin() throws IOException {
    String token = Files.readString(controllerData.resolve("admin-token")).trim();
    String ca =
        Fingerprints.of(Pem.certificateOf(Files.readString(controllerData.resolve("pki/ca.crt"))));
    return new AdminClient("https://127.0.0.1:" + port, token, ca);
  }

  private Path bootstrapFile() throws IOException {
    JsonNode token =
        checked(
            admin.post(
                "/api/v1/onboarding-tokens",
                Map.of(
                    "name",
                    "scale-bench",
                    "tags",
                    Map.of("bench", "scale"),
                    "perMinute",
                    1_000_000)));
    JsonNode bootstrap =
        checked(
            admin.post(
                "/api/v1/onboarding-tokens/bootstrap",
                Map.of("token", token.path("token").asText())));
    Path f = work.resolve("bootstrap.json");
    Files.writeString(f, Json.pretty(bootstrap));
    return f;
  }

  /** Pushes a one-ConfigMap manifests app at this version. */
  private void push(String version) {
    String yaml =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: scale\n  namespace: scale\ndata:\n"
            + "  version: \""
            + version
            + "\"\n";
    byte[] tgz = TarGz.write(Map.of("scale/configmap.yaml", yaml.getBytes(StandardCharsets.UTF_8)));
    checked(
        admin.post(
            "/api/v1/catalog/apps/" + APP + "/versions",
            Map.of(
                "version",
                version,
                "kind",
                "manifests",
                "archive",
                Base64.getEncoder().encodeToString(tgz))));
  }

  void close() {
    sampler.stop();
    if (admin != null) {
      admin.close();
    }
    for (Process p : new Process[] {sim, controller}) {
      if (p != null && p.isAlive()) {
        p.destroy();
        try {
          if (!p.waitFor(20, TimeUnit.SECONDS)) {
            p.destroyForcibly();
          }
        } catch (InterruptedException e) {
          p.destroyForcibly();
          Thread.currentThread().interrupt();
        }
      }
    }
  }

  // ---------------------------------------------------------------- observations

  private int online() {
    try {
      AdminClient.Answer a = admin.get("/api/v1/fleet/summary");
      return a.status() == 200 ? a.body().path("online").asInt() : -1;
    } catch (RuntimeException e) {
      return -1;
    }
  }

  /** Every device record the controller holds (pending and retired included); -1 if unknown. */
  private long deviceRecords() {
    try {
      AdminClient.Answer a = admin.get("/api/v1/fleet/summary");
      return a.status() == 200 ? a.body().path("total").asLong() : -1;
    } catch (RuntimeException e) {
      return -1;
    }
  }

  private JsonNode stats() {
    for (int i = 0; i < 20; i++) {
      try {
        if (Files.exists(statsFile)) {
          return Json.mapper().readTree(Files.readString(statsFile));
        }
      } catch (IOException e) {
        // Being replaced; read again.
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    return Json.mapper().createObjectNode();
  }

  /** Devices that report {@code revision} (or {@code revision+values}) READY. */
  /** The soft limit of open files this process (and its children) may hold. */
  static long openFilesLimit() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
        if (line.startsWith("Max open files")) {
          String soft = line.substring("Max open files".length()).trim().split("\\s+")[0];
          return soft.equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(soft);
        }
      }
    } catch (IOException | RuntimeException e) {
      // Not Linux: no limit known.
    }
    return Long.MAX_VALUE;
  }

  /** {@code Tcp: OutSegs} of {@code /proc/net/snmp}: segments this machine sent. */
  private static long tcpOutSegments() {
    try {
      List<String> tcp =
          Files.readAllLines(Path.of("/proc/net/snmp")).stream()
              .filter(l -> l.startsWith("Tcp:"))
              .toList();
      List<String> names = List.of(tcp.get(0).split("\\s+"));
      return Long.parseLong(tcp.get(1).split("\\s+")[names.indexOf("OutSegs")]);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  static long ready(JsonNode stats, String revision) {
    long n = 0;
    var it = stats.path("appReady").fields();
    while (it.hasNext()) {
      var e = it.next();
      if (e.getKey().equals(revision) || e.getKey().startsWith(revision + "+")) {
        n += e.getValue().asLong();
      }
    }
    return n;
  }

  static JsonNode checked(AdminClient.Answer a) {
    if (a.status() / 100 != 2) {
      throw new IllegalStateException("the admin API answered " + a.status() + ": " + a.body());
    }
    return a.body();
  }

  private static long pid(Process p) {
    return p.pid();
  }

  static long rss(long pid) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException e) {
      // The process is gone.
    }
    return -1;
  }

  /** Heap in use after a full collection ({@code jcmd PID GC.run}, then {@code GC.heap_info}). */
  private long heapAfterGc(long pid) {
    Path jcmd =
        Path.of(ProcessHandle.current().info().command().orElse("java")).resolveSibling("jcmd");
    try {
      run(jcmd.toString(), Long.toString(pid), "GC.run");
      String info = run(jcmd.toString(), Long.toString(pid), "GC.heap_info");
      // G1 (JDK 21-25): " garbage-first heap   total reserved 4194304K, committed 524288K, used
      // 21011K [...]"; the first "used" is the whole heap's.
      var m = java.util.regex.Pattern.compile("used (\\d+)K").matcher(info);
      if (m.find()) {
        return Long.parseLong(m.group(1)) * 1024;
      }
    } catch (IOException e) {
      log("jcmd failed: %s", e);
    }
    return -1;
  }

  static String run(String... cmd) throws IOException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      p.waitFor(60, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return out;
  }

  static Map<String, Object> machine() throws IOException {
    Map<String, Object> m = new LinkedHashMap<>();
    String cpuinfo = Files.readString(Path.of("/proc/cpuinfo"));
    m.put(
        "cpu",
        cpuinfo
            .lines()
            .filter(l -> l.startsWith("model name"))
            .findFirst()
            .map(l -> l.substring(l.indexOf(':') + 1).trim())
            .orElse("?"));
    m.put("cores", Runtime.getRuntime().availableProcessors());
    String meminfo = Files.readString(Path.of("/proc/meminfo"));
    m.put(
        "memoryBytes",
        meminfo
            .lines()
            .filter(l -> l.startsWith("MemTotal:"))
            .findFirst()
            .map(l -> Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024)
            .orElse(-1L));
    m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
    m.put(
        "jvm",
        System.getProperty("java.vm.vendor")
            + " "
            + System.getProperty("java.vm.name")
            + " "
            + System.getProperty("java.vm.version"));
    return m;
  }

  static long clockTicks() {
    try {
      return Long.parseLong(run("getconf", "CLK_TCK").trim());
    } catch (IOException | NumberFormatException e) {
      return 100;
    }
  }

  /**
   * Samples the controller's CPU (utime + stime of {@code /proc/PID/stat}) every second; survives a
   * restart (the counter continues from the dead process's last value).
   */
  private final class Sampler {
    private record Sample(long nanos, long ticks) {}

    private final List<Sample> samples = new CopyOnWriteArrayList<>();
    private volatile long pid = -1;
    private volatile long carried;
    private volatile long lastOfPid;
    private volatile boolean running;
    private Thread thread;

    void watch(long newPid) {
      carried += lastOfPid;
      lastOfPid = 0;
      pid = newPid;
    }

    void start() {
      running = true;
      thread =
          new Thread(
              () -> {
                while (running) {
                  samples.add(new Sample(System.nanoTime(), cpuTicks()));
                  try {
                    Thread.sleep(1_000);
                  } catch (InterruptedException e) {
                    return;
                  }
                }
              },
              "scale-sampler");
      thread.setDaemon(true);
      thread.start();
    }

    void stop() {
      running = false;
      if (thread != null) {
        thread.interrupt();
      }
    }

    /** CPU ticks of the controller so far, across restarts. */
    synchronized long cpuTicks() {
      try {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        // After ')' the fields start at state (3rd); utime is the 14th, stime the 15th.
        lastOfPid = Long.parseLong(f[11]) + Long.parseLong(f[12]);
      } catch (IOException | RuntimeException e) {
        // Gone: keep the last value seen.
      }
      return carried + lastOfPid;
    }

    /** The highest one-second CPU use (percent of one core) since {@code sinceNanos}. */
    double peakPercentSince(long sinceNanos) {
      double peak = 0;
      Sample prev = null;
      for (Sample s : samples) {
        if (prev != null && s.nanos() >= sinceNanos) {
          double secs = (s.nanos() - prev.nanos()) / 1e9;
          if (secs > 0) {
            peak = Math.max(peak, 100 * (s.ticks() - prev.ticks()) / (double) clockTicks / secs);
          }
        }
        prev = s;
      }
      return Math.round(peak * 10) / 10.0;
    }
  }

  // ---------------------------------------------------------------- helpers

  static double seconds(long startNanos) {
    return Math.round((System.nanoTime() - startNanos) / 1e8) / 10.0;
  }

  private static void log(String format, Object... args) {
    System.out.printf(Locale.ROOT, "[scale] " + format + "%n", args);
  }

  static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static void deleteTree(Path dir) {
    try (var walk = Files.walk(dir)) {
      walk.sorted(java.util.Comparator.reverseOrder())
          .forEach(
              p -> {
                try {
                  Files.deleteIfExists(p);
                } catch (IOException e) {
                  // Best effort.
                }
              });
    } catch (IOException e) {
      // Best effort.
    }
  }
}
