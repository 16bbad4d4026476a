package io.edgefleet.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.cli.TarGz;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.Postgres;
import io.edgefleet.testkit.ReplicaData;
import java.io.IOException;
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
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * The scale benchmark's replicas mode: R controller replicas on one PostgreSQL and S simulator
 * processes with N virtual devices in total, which the bootstrap file spreads over the replicas
 * (each device starts at a random URL and moves on when it fails). Scenarios: connect, steady,
 * fan-out (a catalog app deployed to every device, then upgraded), storm (every replica killed with
 * kill -9 and restarted) and kill-one (one replica killed with kill -9; its devices move to the
 * others). Run by {@code bench/replicas.sh}; reports figures per replica and in total, asserts
 * nothing.
 *
 * <p>Which replica holds a device comes from the simulators' {@code connectedByUrl} counters;
 * replicas' CPU and RSS from {@code /proc/PID}.
 */
public final class ReplicaBench {
  static final String APP = "replicas-app";

  static final Set<String> ALL_SCENARIOS = Set.of("steady", "fan-out", "storm", "kill-one");

  private final Path root;
  private final Path work;
  private final int replicaCount;
  private final int simCount;
  private final int devices;
  private final int steadySeconds;
  private final long phaseTimeoutMillis;
  private final Set<String> scenarios;
  private final Map<String, Object> result = new LinkedHashMap<>();
  private final long clockTicks = ScaleBench.clockTicks();
  private final List<ReplicaProcess> replicas = new ArrayList<>();
  private final List<SimProcess> sims = new ArrayList<>();
  private String databaseUrl;
  private AdminClient admin;

  /** Replica used for the admin API (one that lives). */
  private ReplicaProcess adminReplica;

  ReplicaBench(
      Path root,
      Path work,
      int replicas,
      int simulators,
      int devices,
      int steadySeconds,
      long timeoutMillis,
      Set<String> scenarios) {
    this.root = root;
    this.work = work;
    this.replicaCount = replicas;
    this.simCount = simulators;
    this.devices = devices;
    this.steadySeconds = steadySeconds;
    this.phaseTimeoutMillis = timeoutMillis;
    this.scenarios = scenarios;
  }

  public static void main(String[] args) throws Exception {
    int replicas = 3;
    int simulators = 2;
    int devices = 2_000;
    int steady = 60;
    Path root = Path.of(".").toAbsolutePath().normalize();
    Path out = null;
    Set<String> scenarios = ALL_SCENARIOS;
    Integer timeout = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--replicas" -> replicas = Integer.parseInt(args[++i]);
        case "--simulators" -> simulators = Integer.parseInt(args[++i]);
        case "--devices" -> devices = Integer.parseInt(args[++i]);
        case "--steady-seconds" -> steady = Integer.parseInt(args[++i]);
        case "--root" -> root = Path.of(args[++i]).toAbsolutePath();
        case "--out" -> out = Path.of(args[++i]);
        case "--scenarios" -> scenarios = Set.of(args[++i].split(","));
        case "--phase-timeout-minutes" -> timeout = Integer.parseInt(args[++i]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    if (replicas < 2 || simulators < 1 || devices < simulators) {
      throw new IllegalArgumentException(
          "--replicas needs at least 2, --simulators at least 1, --devices at least one per"
              + " simulator");
    }
    String fit = fits(devices, replicas, simulators, ScaleBench.openFilesLimit());
    if (fit != null) {
      System.err.println("[replicas] " + fit);
      System.exit(2);
    }
    Path work = Files.createTempDirectory("edgefleet-replicas-");
    ReplicaBench b =
        new ReplicaBench(
            root,
            work,
            replicas,
            simulators,
            devices,
            steady,
            TimeUnit.MINUTES.toMillis(
                timeout != null ? timeout : Math.max(2, 2 + devices / 10_000 * 2)),
            scenarios);
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
    if (b.result.containsKey("error")) {
      System.out.println("kept the logs for the error in " + work);
    } else {
      ScaleBench.deleteTree(work);
    }
  }

  /**
   * Null when every process stays under the open-files limit, else why not: each device is one
   * socket in its simulator and one in its replica, and a random spread puts up to about three
   * standard deviations more than the mean on one replica.
   */
  static String fits(int devices, int replicas, int simulators, long openFiles) {
    long room = openFiles - ScaleBench.FD_RESERVE;
    long perSim = (devices + simulators - 1) / simulators;
    if (perSim > room) {
      return String.format(
          Locale.ROOT,
          "%,d devices on %d simulators are %,d per process; the open-files limit (%,d) allows"
              + " %,d: add simulators",
          devices,
          simulators,
          perSim,
          openFiles,
          room);
    }
    long perReplica = busiest(devices, replicas);
    if (perReplica > room) {
      return String.format(
          Locale.ROOT,
          "%,d devices on %d replicas put up to %,d on one replica; the open-files limit (%,d)"
              + " allows %,d: add replicas",
          devices,
          replicas,
          perReplica,
          openFiles,
          room);
    }
    return null;
  }

  /** The most devices one of {@code replicas} is likely to hold (mean + 3 sigma of a binomial). */
  static long busiest(int devices, int replicas) {
    double p = 1.0 / replicas;
    return Math.round(devices * p + 3 * Math.sqrt(devices * p * (1 - p)));
  }

  void run() throws Exception {
    result.put("benchmark", "scale-replicas");
    result.put("devices", devices);
    result.put("replicas", replicaCount);
    result.put("simulators", simCount);
    result.put("date", Instant.now().toString());
    result.put("machine", ScaleBench.machine());
    result.put(
        "controller",
        Map.of(
            "command",
            "./edgefleet controller --data DIR --listen 127.0.0.1:PORT --database-url"
                + " jdbc:postgresql://... --also-advertise-url URL (one per other replica)",
            "jvmFlags",
            String.join(" ", ScaleBench.CONTROLLER_OPTS)));
    result.put(
        "simulator",
        Map.of(
            "command",
            "./edgefleet sim --bootstrap FILE (every replica's URL) --devices N/S --stats FILE"
                + " --state DIR --source-addresses 127.0.S.2-127.0.S.11",
            "jvmFlags",
            String.join(" ", ScaleBench.SIM_OPTS)));
    log("work directory %s", work);
    try {
      startReplicas();
      Map<String, Long> baseline = new LinkedHashMap<>();
      for (ReplicaProcess r : replicas) {
        baseline.put(r.url(), r.rss());
      }
      Path bootstrap = bootstrapFile();
      connect(bootstrap, baseline);
      if (scenarios.contains("steady")) {
        steady();
      }
      if (scenarios.contains("fan-out")) {
        fanOut();
      }
      if (scenarios.contains("storm")) {
        storm();
      }
      if (scenarios.contains("kill-one")) {
        killOne();
      }
      long records = deviceRecords();
      result.put("controllerDeviceRecords", records);
      result.put("orphanDeviceRecords", records < 0 ? -1 : Math.max(0, records - devices));
    } catch (RuntimeException e) {
      // Keep what was measured; the error says where it stopped.
      result.put("error", e.toString());
      log("stopped: %s", e);
    }
  }

  // ---------------------------------------------------------------- set-up

  private void startReplicas() throws Exception {
    databaseUrl = Postgres.newDatabase();
    result.put("database", database());
    List<Integer> ports = new ArrayList<>();
    for (int i = 0; i < replicaCount; i++) {
      ports.add(ScaleBench.freePort());
    }
    for (int i = 0; i < replicaCount; i++) {
      // Each replica's kubectl listener on a port of its own (the default is one fixed port).
      List<String> args =
          new ArrayList<>(
              List.of(
                  "--database-url",
                  databaseUrl,
                  "--kube-port",
                  Integer.toString(ScaleBench.freePort())));
      for (int j = 0; j < replicaCount; j++) {
        if (j != i) {
          args.addAll(List.of("--also-advertise-url", "https://127.0.0.1:" + ports.get(j)));
        }
      }
      replicas.add(new ReplicaProcess(i, ports.get(i), work.resolve("replica-" + i), root, args));
    }
    // The first creates the schema and the keys; the others share its keys.
    long start = System.nanoTime();
    replicas.get(0).start();
    replicas.get(0).awaitServing(180_000);
    for (ReplicaProcess r : replicas.subList(1, replicas.size())) {
      ReplicaData.copyKeys(replicas.get(0).data, r.data);
      r.start();
    }
    for (ReplicaProcess r : replicas) {
      r.awaitServing(180_000);
    }
    log("%d replicas serving after %.1f s", replicaCount, ScaleBench.seconds(start));
    adminReplica = replicas.get(0);
    admin = newAdmin(adminReplica);
  }

  /** The PostgreSQL server's connection limit and what the replicas hold of it. */
  private Map<String, Object> database() {
    Map<String, Object> d = new LinkedHashMap<>();
    d.put("server", "embedded PostgreSQL (io.edgefleet.testkit.Postgres)");
    d.put("maxConnections", sql("SHOW max_connections"));
    d.put("poolSizePerReplica", 10);
    return d;
  }

  /** One value of a query on the benchmark's database; null when it cannot be read. */
  private String sql(String query) {
    try (var c = java.sql.DriverManager.getConnection(databaseUrl);
        var s = c.createStatement();
        var rs = s.executeQuery(query)) {
      return rs.next() ? rs.getString(1) : null;
    } catch (java.sql.SQLException e) {
      return null;
    }
  }

  private AdminClient newAdmin(ReplicaProcess r) throws IOException {
    String token = Files.readString(r.data.resolve("admin-token")).trim();
    String ca = Fingerprints.of(Pem.certificateOf(Files.readString(r.data.resolve("pki/ca.crt"))));
    return new AdminClient(r.url(), token, ca);
  }

  private Path bootstrapFile() throws IOException {
    JsonNode token =
        checked(
            admin.post(
                "/api/v1/onboarding-tokens",
                Map.of(
                    "name",
                    "replicas-bench",
                    "tags",
                    Map.of("bench", "replicas"),
                    "perMinute",
                    1_000_000)));
    JsonNode bootstrap =
        checked(
            admin.post(
                "/api/v1/onboarding-tokens/bootstrap",
                Map.of("token", token.path("token").asText())));
    int urls = 1 + bootstrap.path("controllerUrls").size();
    if (urls != replicaCount) {
      throw new IllegalStateException(
          "the bootstrap names " + urls + " URLs for " + replicaCount + " replicas: " + bootstrap);
    }
    Path f = work.resolve("bootstrap.json");
    Files.writeString(f, Json.pretty(bootstrap));
    return f;
  }

  // ---------------------------------------------------------------- scenarios

  private void connect(Path bootstrap, Map<String, Long> baseline) throws Exception {
    log("connect: %d devices on %d simulators", devices, simCount);
    Map<ReplicaProcess, Long> cpu0 = cpu();
    long start = System.nanoTime();
    for (int i = 0; i < simCount; i++) {
      int share = devices / simCount + (i < devices % simCount ? 1 : 0);
      sims.add(SimProcess.start(root, work, i, share, bootstrap));
    }
    int[] milestones = {devices / 4, devices / 2, devices};
    List<Map<String, Object>> reached = new ArrayList<>();
    // Per replica: when (seconds) it held how many, to time each replica's own share afterwards.
    List<double[]> timeline = new ArrayList<>();
    int next = 0;
    long deadline = System.currentTimeMillis() + phaseTimeoutMillis;
    while (next < milestones.length && System.currentTimeMillis() < deadline) {
      Map<String, Integer> byUrl = connectedByUrl();
      double[] row = new double[replicaCount + 1];
      row[0] = ScaleBench.seconds(start);
      for (ReplicaProcess r : replicas) {
        row[r.index + 1] = held(byUrl, r);
      }
      timeline.add(row);
      // The devices' own count decides (the summary's online count is reported beside it: a
      // replica's presence may lag or disagree, which is itself a figure).
      int connectedNow = sum("connected");
      while (next < milestones.length && connectedNow >= milestones[next]) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("devices", milestones[next]);
        m.put("seconds", ScaleBench.seconds(start));
        m.put("connectedByReplica", byUrl);
        m.put("summaryOnline", online());
        reached.add(m);
        log("connect: %d connected after %.1f s %s", milestones[next], row[0], byUrl);
        next++;
      }
      for (SimProcess s : sims) {
        if (!s.alive()) {
          throw new IllegalStateException("simulator " + s.index + " exited: see " + s.log());
        }
      }
      Thread.sleep(250);
    }
    double elapsed = ScaleBench.seconds(start);
    Map<String, Object> connect = new LinkedHashMap<>();
    connect.put("milestones", reached);
    connect.put("completed", next == milestones.length);
    connect.put("seconds", elapsed);
    Map<ReplicaProcess, Long> cpu = since(cpu0);
    // Let enrollment bursts settle before memory is read.
    Thread.sleep(5_000);
    Map<String, Integer> byUrl = connectedByUrl();
    List<Map<String, Object>> per = new ArrayList<>();
    long totalCpu = 0;
    long totalRss = 0;
    for (ReplicaProcess r : replicas) {
      int held = held(byUrl, r);
      long rss = r.rss();
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("replica", r.index);
      m.put("url", r.url());
      m.put("connected", held);
      m.put("secondsUntil", replicaMilestones(timeline, r.index + 1, held));
      m.put("cpuSeconds", cpu.get(r) / (double) clockTicks);
      m.put("cpuMsPerDevice", held == 0 ? null : 1000.0 * cpu.get(r) / clockTicks / held);
      m.put("rssBytes", rss);
      m.put("idleRssBytes", baseline.get(r.url()));
      m.put("rssPerDeviceBytes", held == 0 ? null : (rss - baseline.get(r.url())) / held);
      m.put("openFiles", r.openFiles());
      per.add(m);
      totalCpu += cpu.get(r);
      totalRss += rss;
    }
    connect.put("perReplica", per);
    int connected = sum("connected");
    connect.put("connected", connected);
    connect.put("summaryOnlineAfterSettling", online());
    connect.put("cpuSeconds", totalCpu / (double) clockTicks);
    connect.put("meanCpuPercent", 100.0 * totalCpu / clockTicks / elapsed);
    connect.put("rssBytes", totalRss);
    connect.put(
        "rssPerDeviceBytes",
        connected == 0
            ? null
            : (totalRss - baseline.values().stream().mapToLong(Long::longValue).sum()) / connected);
    connect.put("simRssBytes", sims.stream().mapToLong(SimProcess::rss).sum());
    connect.put("databaseConnections", sql("SELECT count(*) FROM pg_stat_activity"));
    long records = deviceRecords();
    connect.put("controllerDeviceRecords", records);
    connect.put("orphanDeviceRecords", records < 0 ? -1 : Math.max(0, records - devices));
    connect.put("simLastErrors", lastErrors());
    result.put("connect", connect);
    if (next < milestones.length) {
      throw new IllegalStateException(
          "connect: " + sum("connected") + " of " + devices + " connected at the time-out");
    }
  }

  /** Seconds until the replica held 25/50/100 % of {@code held}, read from the timeline. */
  private static Map<String, Double> replicaMilestones(
      List<double[]> timeline, int column, int held) {
    Map<String, Double> m = new LinkedHashMap<>();
    for (double share : new double[] {0.25, 0.5, 1.0}) {
      Double at = null;
      for (double[] row : timeline) {
        if (held > 0 && row[column] >= Math.ceil(share * held)) {
          at = row[0];
          break;
        }
      }
      m.put(Math.round(share * 100) + "%", at);
    }
    return m;
  }

  private void steady() throws Exception {
    // Idle means idle: once no device fetched or was sent a document for 15 s and every device
    // sent its first metric summary (as ScaleBench's steady scenario).
    long settleStart = System.nanoTime();
    long deadline = System.currentTimeMillis() + phaseTimeoutMillis + TimeUnit.MINUTES.toMillis(6);
    long last = -1;
    long quietSince = System.nanoTime();
    while (System.currentTimeMillis() < deadline) {
      long changes = sum("desiredFetches") + sum("pushedDocuments");
      if (changes != last) {
        last = changes;
        quietSince = System.nanoTime();
      } else if (System.nanoTime() - quietSince > TimeUnit.SECONDS.toNanos(15)
          && sum("telemetryRecords") >= sum("connected")) {
        break;
      }
      Thread.sleep(500);
    }
    double settled = ScaleBench.seconds(settleStart);
    log("steady: %d s at %d idle devices (settled after %.0f s)", steadySeconds, devices, settled);
    Map<ReplicaProcess, Long> cpu0 = cpu();
    long start = System.nanoTime();
    Thread.sleep(steadySeconds * 1000L);
    double secs = ScaleBench.seconds(start);
    Map<ReplicaProcess, Long> cpu = since(cpu0);
    Map<String, Integer> byUrl = connectedByUrl();
    Map<String, Object> steady = new LinkedHashMap<>();
    steady.put("seconds", secs);
    steady.put("settledAfterSeconds", settled);
    List<Map<String, Object>> per = new ArrayList<>();
    long total = 0;
    for (ReplicaProcess r : replicas) {
      int held = held(byUrl, r);
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("replica", r.index);
      m.put("connected", held);
      m.put("cpuPercentOfOneCore", 100.0 * cpu.get(r) / clockTicks / secs);
      m.put(
          "cpuMicrosPerDevicePerSecond",
          held == 0 ? null : 1e6 * cpu.get(r) / clockTicks / secs / held);
      m.put("rssBytes", r.rss());
      per.add(m);
      total += cpu.get(r);
    }
    int connected = Math.max(1, sum("connected"));
    steady.put("perReplica", per);
    steady.put("connected", connected);
    steady.put("cpuPercentOfOneCore", 100.0 * total / clockTicks / secs);
    steady.put("cpuMicrosPerDevicePerSecond", 1e6 * total / clockTicks / secs / connected);
    steady.put("databaseConnections", sql("SELECT count(*) FROM pg_stat_activity"));
    result.put("steady", steady);
    log("steady: %.1f %% of one core in total", 100.0 * total / clockTicks / secs);
  }

  /** A catalog app deployed to every device, then upgraded: the upgrade is the timed change. */
  private void fanOut() throws Exception {
    log("fan-out: deploying %s 1 to '*'", APP);
    push("1");
    long deployStart = System.nanoTime();
    JsonNode d =
        checked(
            admin.post(
                "/api/v1/deployments",
                Map.of("name", APP, "app", APP, "version", "1", "target", "*")));
    result.put("deploy", progress(d, "1", "deploy of a new app to every device", deployStart));
    push("2");
    log("fan-out: upgrading %s to 2", APP);
    long upgradeStart = System.nanoTime();
    JsonNode u =
        checked(
            admin.post(
                "/api/v1/deployments/" + APP + "/upgrade", Map.of("version", "2", "target", "*")));
    result.put(
        "fanOut",
        progress(u, "2", "upgrade of one app on every device (request to READY)", upgradeStart));
  }

  /** Times (from {@code start}) until 50/99/100 % of the devices report the revision READY. */
  private Map<String, Object> progress(JsonNode answer, String revision, String what, long start)
      throws Exception {
    Map<ReplicaProcess, Long> cpu0 = cpu();
    double[] shares = {0.5, 0.99, 1.0};
    Map<String, Object> times = new LinkedHashMap<>();
    int next = 0;
    long deadline = System.currentTimeMillis() + phaseTimeoutMillis;
    long ready = 0;
    while (next < shares.length && System.currentTimeMillis() < deadline) {
      ready = 0;
      for (SimProcess s : sims) {
        ready += ScaleBench.ready(s.stats(), revision);
      }
      while (next < shares.length && ready >= Math.ceil(shares[next] * devices)) {
        times.put(Math.round(shares[next] * 100) + "%", ScaleBench.seconds(start));
        next++;
      }
      Thread.sleep(100);
    }
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("what", what);
    r.put("secondsUntil", times);
    r.put("completed", next == shares.length);
    r.put("readyAtEnd", ready);
    r.put("failedApplies", sum("failedApplies"));
    r.put("rollout", answer.path("rollout").path("id").asText(null));
    r.put("cpuSecondsPerReplica", cpuSeconds(since(cpu0)));
    log("%s: %s", what, times);
    return r;
  }

  /** kill -9 of every replica with every device connected, then all restarted. */
  private void storm() throws Exception {
    long room = ScaleBench.openFilesLimit() - ScaleBench.FD_RESERVE;
    if (devices > room) {
      // Devices keep to the first URL that answers: the first replica serving again after the
      // restart may be given every device, beyond its open-files limit.
      String why =
          String.format(
              Locale.ROOT,
              "the first replica to serve again may be given all %,d devices; the open-files"
                  + " limit allows %,d",
              devices,
              room);
      result.put("storm", Map.of("skipped", why));
      log("storm: skipped: %s", why);
      return;
    }
    int before = sum("connected");
    log("storm: kill -9 of all %d replicas with %d connected", replicaCount, before);
    Map<String, Object> storm = new LinkedHashMap<>();
    storm.put("connectedBefore", before);
    long reconnects0 = sum("reconnects");
    long enrollments0 = sum("enrollments");
    long killed = System.nanoTime();
    for (ReplicaProcess r : replicas) {
      r.kill();
    }
    Map<ReplicaProcess, Long> cpu0 = cpu();
    for (ReplicaProcess r : replicas) {
      r.start();
    }
    for (ReplicaProcess r : replicas) {
      r.awaitServing(180_000);
    }
    storm.put("secondsUntilServing", ScaleBench.seconds(killed));
    admin.close();
    admin = newAdmin(adminReplica);
    Double allConnected = null;
    long deadline = System.currentTimeMillis() + phaseTimeoutMillis;
    while (allConnected == null && System.currentTimeMillis() < deadline) {
      if (sum("connected") >= devices) {
        allConnected = ScaleBench.seconds(killed);
      }
      Thread.sleep(250);
    }
    // The summary counts a device online until its offline delay passes, so it says little
    // during the storm; once all are back, every replica's presence flush shows them online.
    Double allOnline = untilOnline(killed);
    storm.put("secondsUntilAllConnected", allConnected);
    storm.put("secondsUntilAllOnline", allOnline);
    storm.put("cpuSecondsPerReplica", cpuSeconds(since(cpu0)));
    storm.put("connectedAtEnd", sum("connected"));
    storm.put("onlineAtEnd", online());
    storm.put("connectedByReplicaAtEnd", connectedByUrl());
    storm.put("reconnects", sum("reconnects") - reconnects0);
    storm.put("enrollments", sum("enrollments") - enrollments0);
    storm.put("gaveUp", sum("gaveUp"));
    storm.put("lost", devices - sum("connected"));
    result.put("storm", storm);
    log("storm: all connected after %s s, all online after %s s", allConnected, allOnline);
  }

  /** kill -9 of one replica (the last): its devices move to the others. */
  private void killOne() throws Exception {
    ReplicaProcess victim = replicas.getLast();
    Map<String, Object> k = new LinkedHashMap<>();
    long room = ScaleBench.openFilesLimit() - ScaleBench.FD_RESERVE;
    // A device whose replica fails moves to the next URL of the bootstrap (as the agent does), so
    // the killed replica's whole share lands on one other replica: that one may hold two shares.
    long busiest = 2 * busiest(devices, replicaCount);
    if (busiest > room) {
      k.put(
          "skipped",
          String.format(
              Locale.ROOT,
              "the killed replica's devices all move to the next URL: one replica may then hold"
                  + " %,d; the open-files limit allows %,d",
              busiest,
              room));
      result.put("killOne", k);
      log("kill-one: skipped: %s", k.get("skipped"));
      return;
    }
    Map<String, Integer> byUrl = connectedByUrl();
    int held = held(byUrl, victim);
    log("kill-one: kill -9 of replica %d holding %d devices", victim.index, held);
    k.put("heldBefore", held);
    k.put("connectedBefore", sum("connected"));
    long reconnects0 = sum("reconnects");
    long enrollments0 = sum("enrollments");
    List<ReplicaProcess> survivors = replicas.subList(0, replicas.size() - 1);
    Map<ReplicaProcess, Long> cpu0 = cpu();
    long victimPid = victim.pid();
    long killed = System.nanoTime();
    victim.kill();
    Double allBack = null;
    long deadline = System.currentTimeMillis() + phaseTimeoutMillis;
    while (allBack == null && System.currentTimeMillis() < deadline) {
      Map<String, Integer> now = connectedByUrl();
      int onSurvivors = survivors.stream().mapToInt(r -> held(now, r)).sum();
      if (onSurvivors >= devices) {
        allBack = ScaleBench.seconds(killed);
      }
      Thread.sleep(250);
    }
    Double allOnline = untilOnline(killed);
    // The controller's own view: no device still named as held by the killed replica.
    Double noneOnKilled = null;
    long named = -1;
    while (System.currentTimeMillis() < deadline) {
      named = namedHolder(victimPid + "@");
      if (named == 0) {
        noneOnKilled = ScaleBench.seconds(killed);
        break;
      }
      Thread.sleep(1_000);
    }
    k.put("secondsUntilNoDeviceNamesTheKilledReplica", noneOnKilled);
    k.put("devicesNamingTheKilledReplicaAtEnd", named);
    k.put("secondsUntilAllOnOthers", allBack);
    k.put("secondsUntilAllOnline", allOnline);
    Map<ReplicaProcess, Long> cpu = since(cpu0);
    cpu.remove(victim);
    k.put("cpuSecondsPerReplica", cpuSeconds(cpu));
    k.put("connectedByReplicaAtEnd", connectedByUrl());
    k.put("connectedAtEnd", sum("connected"));
    k.put("onlineAtEnd", online());
    k.put("reconnects", sum("reconnects") - reconnects0);
    k.put("enrollments", sum("enrollments") - enrollments0);
    k.put("gaveUp", sum("gaveUp"));
    k.put("lost", devices - sum("connected"));
    result.put("killOne", k);
    log("kill-one: all on the others after %s s, all online after %s s", allBack, allOnline);
  }

  // ---------------------------------------------------------------- observations

  /**
   * Seconds from {@code start} until the summary shows every device online; null if not in 60 s.
   */
  private Double untilOnline(long start) throws InterruptedException {
    long deadline = System.currentTimeMillis() + 60_000;
    while (System.currentTimeMillis() < deadline) {
      if (online() >= devices) {
        return ScaleBench.seconds(start);
      }
      Thread.sleep(250);
    }
    return null;
  }

  /**
   * Devices whose {@code connectedTo} (the replica holding them, {@code pid@host}) starts with
   * {@code prefix}, read page by page from the admin replica; -1 when the list cannot be read.
   */
  private long namedHolder(String prefix) {
    long n = 0;
    String after = null;
    do {
      AdminClient.Answer a =
          admin.get("/api/v1/devices?limit=1000" + (after == null ? "" : "&after=" + after));
      if (a.status() != 200) {
        return -1;
      }
      for (JsonNode d : a.body().path("items")) {
        if (d.path("connectedTo").asText("").startsWith(prefix)) {
          n++;
        }
      }
      after = a.body().path("next").isTextual() ? a.body().path("next").asText() : null;
    } while (after != null);
    return n;
  }

  private Map<ReplicaProcess, Long> cpu() {
    Map<ReplicaProcess, Long> m = new LinkedHashMap<>();
    for (ReplicaProcess r : replicas) {
      m.put(r, r.cpuTicks());
    }
    return m;
  }

  private Map<ReplicaProcess, Long> since(Map<ReplicaProcess, Long> before) {
    Map<ReplicaProcess, Long> m = new LinkedHashMap<>();
    for (ReplicaProcess r : replicas) {
      m.put(r, r.cpuTicks() - before.get(r));
    }
    return m;
  }

  private Map<String, Double> cpuSeconds(Map<ReplicaProcess, Long> ticks) {
    Map<String, Double> m = new LinkedHashMap<>();
    ticks.forEach((r, t) -> m.put(Integer.toString(r.index), t / (double) clockTicks));
    return m;
  }

  /** Connected devices by replica URL, summed over the simulators. */
  private Map<String, Integer> connectedByUrl() {
    Map<String, Integer> m = new TreeMap<>();
    for (SimProcess s : sims) {
      s.stats()
          .path("connectedByUrl")
          .fields()
          .forEachRemaining(e -> m.merge(e.getKey(), e.getValue().asInt(), Integer::sum));
    }
    return m;
  }

  /**
   * Devices {@code byUrl} puts on replica {@code r}: the bootstrap may name it by another host than
   * 127.0.0.1, so the port decides.
   */
  private static int held(Map<String, Integer> byUrl, ReplicaProcess r) {
    int n = 0;
    for (var e : byUrl.entrySet()) {
      if (java.net.URI.create(e.getKey()).getPort() == r.port) {
        n += e.getValue();
      }
    }
    return n;
  }

  /** A counter of the simulators' stats, summed. */
  private int sum(String key) {
    long n = 0;
    for (SimProcess s : sims) {
      n += s.stats().path(key).asLong();
    }
    return (int) n;
  }

  private List<String> lastErrors() {
    List<String> errors = new ArrayList<>();
    for (SimProcess s : sims) {
      errors.add(s.stats().path("lastError").asText(null));
    }
    return errors;
  }

  private int online() {
    try {
      AdminClient.Answer a = admin.get("/api/v1/fleet/summary");
      return a.status() == 200 ? a.body().path("online").asInt() : -1;
    } catch (RuntimeException e) {
      return -1;
    }
  }

  private long deviceRecords() {
    try {
      AdminClient.Answer a = admin.get("/api/v1/fleet/summary");
      return a.status() == 200 ? a.body().path("total").asLong() : -1;
    } catch (RuntimeException e) {
      return -1;
    }
  }

  private void push(String version) {
    String yaml =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: replicas\n  namespace: bench\ndata:\n"
            + "  version: \""
            + version
            + "\"\n";
    byte[] tgz =
        TarGz.write(Map.of("replicas/configmap.yaml", yaml.getBytes(StandardCharsets.UTF_8)));
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

  private static JsonNode checked(AdminClient.Answer a) {
    return ScaleBench.checked(a);
  }

  void close() {
    if (admin != null) {
      admin.close();
    }
    for (SimProcess s : sims) {
      s.stop();
    }
    for (ReplicaProcess r : replicas) {
      r.stop();
    }
  }

  private static void log(String format, Object... args) {
    System.out.printf(Locale.ROOT, "[replicas] " + format + "%n", args);
  }
}
