package io.edgefleet.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.IdentityStore;
import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.agent.runtime.kubernetes.KubernetesRuntime;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.CountingProxy;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import io.edgefleet.testkit.kube.KubeCluster;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.LongAdder;
import java.util.random.RandomGenerator;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import javax.net.ssl.SSLContext;
import org.eclipse.jgit.api.Git;

/**
 * GitOps figures: how long a commit takes to be applied on every device, and how many bytes a
 * device exchanges for an unchanged poll, a heartbeat and a one-line change.
 *
 * <p>One controller in this JVM ({@link TestController}, SQLite), N agents in this JVM, each with
 * its own key, TLS client, single scheduler thread (as the agent process has) and {@link
 * KubernetesRuntime} against the test cluster ({@link KubeCluster#shared()}) with its own inventory
 * namespace {@code inv-<n>}, one local Git repository (JGit, {@code file://}) holding one
 * plain-YAML app of 20 objects (17 ConfigMaps, a Deployment, 2 Services) that targets every device.
 * The controller puts the app's objects in a namespace named after the app; by default the bench's
 * runtime wrapper moves them to {@code dev-<n>} per device, as if each device had a cluster of its
 * own ({@code --shared-namespace}: all devices apply the same objects, which makes them conflict).
 *
 * <p>Latency: for each round a one-line change to one ConfigMap is committed, the webhook is called
 * (HMAC-signed like GitHub), and the controller's {@code GET /api/v1/apps/<app>/status} is polled
 * every 50 ms until every device's {@code runningRevision} is the app's revision at the new commit
 * (its {@code desiredCommit}), i.e. the device reported it (also recorded: when its state was READY
 * or APPLIED as well; a device whose runtime put the apply off reports the new revision as
 * PROGRESSING). Then the same without the webhook: the source polls every 5 s and the clock starts
 * at the commit (after a random pause, so commits do not fall at a fixed phase of the poll).
 *
 * <p>Bytes: device 0 talks to the controller through a {@link CountingProxy}; figures are TCP
 * payload (TLS records included; IP and TCP headers, about 52 B per segment, are not).
 *
 * <p>Usage: {@code GitOpsBench [--devices N] [--rounds R] [--poll-rounds P] [--heartbeat SECONDS]
 * [--shared-scheduler] [--out FILE]}. Reports figures; asserts nothing.
 */
public final class GitOpsBench {
  private static final String SOURCE = "fleet";
  private static final String TAG_KEY = "bench";
  private static final String TAG_VALUE = "gitops";
  private static final int CONFIG_MAPS = 17;
  private static final int SERVICES = 2;
  private static final Duration STATUS_POLL = Duration.ofMillis(50);
  private static final Duration ROUND_TIMEOUT = Duration.ofMinutes(3);
  private static final Duration POLL_INTERVAL = Duration.ofSeconds(5);
  private static final int SMALL = 100;

  /** Command-line options. */
  record Args(
      int devices,
      int rounds,
      int pollRounds,
      int heartbeatSeconds,
      boolean sharedScheduler,
      boolean sharedNamespace,
      Path out) {
    static Args parse(String[] argv) {
      int devices = 50;
      int rounds = 5;
      Integer pollRounds = null;
      int heartbeat = 30;
      boolean shared = false;
      boolean sharedNamespace = false;
      Path out = null;
      for (int i = 0; i < argv.length; i++) {
        String a = argv[i];
        switch (a) {
          case "--devices" -> devices = Integer.parseInt(value(argv, ++i, a));
          case "--rounds" -> rounds = Integer.parseInt(value(argv, ++i, a));
          case "--poll-rounds" -> pollRounds = Integer.parseInt(value(argv, ++i, a));
          case "--heartbeat" -> heartbeat = Integer.parseInt(value(argv, ++i, a));
          case "--shared-scheduler" -> shared = true;
          case "--shared-namespace" -> sharedNamespace = true;
          case "--out" -> out = Path.of(value(argv, ++i, a));
          case "-h", "--help" -> {
            System.out.println(
                "usage: GitOpsBench [--devices N=50] [--rounds R=5] [--poll-rounds P=R]"
                    + " [--heartbeat SECONDS=30] [--shared-scheduler] [--shared-namespace]"
                    + " [--out FILE]");
            System.exit(0);
          }
          default -> throw new IllegalArgumentException("unknown argument " + a);
        }
      }
      if (devices < 1 || rounds < 1 || heartbeat < 1 || (pollRounds != null && pollRounds < 0)) {
        throw new IllegalArgumentException(
            "--devices, --rounds and --heartbeat must be >= 1, --poll-rounds >= 0");
      }
      if (out == null) {
        String date = LocalDate.now(ZoneOffset.UTC).format(DateTimeFormatter.BASIC_ISO_DATE);
        out = Path.of("bench", "results", "gitops-" + date + ".json");
      }
      return new Args(
          devices,
          rounds,
          pollRounds == null ? rounds : pollRounds,
          heartbeat,
          shared,
          sharedNamespace,
          out);
    }

    private static String value(String[] argv, int i, String name) {
      if (i >= argv.length) {
        throw new IllegalArgumentException(name + " needs a value");
      }
      return argv[i];
    }
  }

  /** Per-device times of all rounds of one kind (webhook or polling), in ms. */
  static final class Phase {
    final List<Double> applied = new ArrayList<>();
    final List<Double> confirmed = new ArrayList<>();
    final List<Double> desired = new ArrayList<>();
    final List<Double> applyStart = new ArrayList<>();
    final List<Double> applyDuration = new ArrayList<>();
    final List<Double> afterApply = new ArrayList<>();
    final List<Window> bytes = new ArrayList<>();
    final List<Map<String, Object>> rounds = new ArrayList<>();

    Map<String, Object> latency() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("toApplied", distribution(applied));
      m.put("toAppliedAndReadyOrApplied", distribution(confirmed));
      m.put("toDesiredRecorded", distribution(desired));
      m.put("toApplyStart", distribution(applyStart));
      m.put("applyDuration", distribution(applyDuration));
      m.put("applyEndToStatusShown", distribution(afterApply));
      return m;
    }
  }

  /**
   * The device's runtime with its applies timed: per revision the first call and the first call
   * that was not put off ({@link ApplyOutcome.RetryAfter}); counts of the periodic re-applies.
   */
  static final class TimedRuntime implements WorkloadRuntime {
    record Call(long start, long end, String outcome) {}

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private final WorkloadRuntime inner;
    private final String namespace;
    final Map<String, Call> first = new ConcurrentHashMap<>();
    final Map<String, Call> done = new ConcurrentHashMap<>();
    final LongAdder inSync = new LongAdder();
    final LongAdder inSyncNanos = new LongAdder();
    final LongAdder reapplied = new LongAdder();
    final LongAdder retries = new LongAdder();
    final Map<String, LongAdder> retryReasons = new ConcurrentHashMap<>();
    final List<String> reapplies = java.util.Collections.synchronizedList(new ArrayList<>());

    /**
     * @param namespace if not null, the app's objects go to this namespace instead of the one the
     *     controller gave them (the app's name), as if the device had a cluster of its own
     */
    TimedRuntime(WorkloadRuntime inner, String namespace) {
      this.inner = inner;
      this.namespace = namespace;
    }

    @Override
    public ApplyOutcome apply(String app, String revision, String manifestsYaml) {
      String yaml = namespace == null ? manifestsYaml : moveNamespace(manifestsYaml, app);
      long start = System.nanoTime();
      ApplyOutcome o = inner.apply(app, revision, yaml);
      long end = System.nanoTime();
      Call c = new Call(start, end, o.getClass().getSimpleName());
      boolean firstCall = first.putIfAbsent(revision, c) == null;
      switch (o) {
        case ApplyOutcome.RetryAfter r -> {
          retries.increment();
          String why = r.reason().replaceAll("[0-9]+", "N");
          retryReasons.computeIfAbsent(why, k -> new LongAdder()).increment();
        }
        case ApplyOutcome.InSync i -> {
          inSync.increment();
          inSyncNanos.add(end - start);
          done.putIfAbsent(revision, c);
        }
        case ApplyOutcome.Applied a -> {
          if (!firstCall && done.containsKey(revision)) {
            reapplied.increment(); // Drift repaired: someone else changed our objects.
            if (reapplies.size() < 20) {
              reapplies.add(revision + ": " + a + " in " + Math.round(ms(end - start)) + " ms");
            }
          }
          done.putIfAbsent(revision, c);
        }
        case ApplyOutcome.Failed f -> done.putIfAbsent(revision, c);
      }
      return o;
    }

    /** Renames namespace {@code app} (its Namespace object and every reference) to ours. */
    private String moveNamespace(String yaml, String app) {
      try {
        StringBuilder out = new StringBuilder();
        try (var docs = YAML.readerFor(JsonNode.class).<JsonNode>readValues(yaml)) {
          while (docs.hasNext()) {
            JsonNode doc = docs.next();
            if (doc == null || doc.isNull() || doc.isMissingNode()) {
              continue;
            }
            if (doc.get("metadata") instanceof ObjectNode md) {
              if (doc.path("kind").asText().equals("Namespace")
                  && md.path("name").asText().equals(app)) {
                md.put("name", namespace);
              } else if (md.path("namespace").asText().equals(app)) {
                md.put("namespace", namespace);
              }
            }
            out.append(YAML.writeValueAsString(doc));
          }
        }
        return out.toString();
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }

    @Override
    public ApplyOutcome remove(String app) {
      return inner.remove(app);
    }

    @Override
    public AppHealth health(String app) {
      return inner.health(app);
    }

    @Override
    public Set<String> ownedApps() {
      return inner.ownedApps();
    }

    @Override
    public void close() {
      inner.close();
    }
  }

  /** Bytes in a window: device 0's WebSocket (without heartbeats) and its HTTP connections. */
  record Window(
      long wsUp,
      long wsDown,
      long httpUp,
      long httpDown,
      int newConnections,
      int heartbeatsExcluded) {
    long total() {
      return wsUp + wsDown + httpUp + httpDown;
    }

    Map<String, Object> json() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("webSocketUp", wsUp);
      m.put("webSocketDown", wsDown);
      m.put("httpUp", httpUp);
      m.put("httpDown", httpDown);
      m.put("up", wsUp + httpUp);
      m.put("down", wsDown + httpDown);
      m.put("total", total());
      m.put("newConnections", newConnections);
      m.put("heartbeatsExcluded", heartbeatsExcluded);
      return m;
    }
  }

  private final Args args;
  private final PrintStream log = System.out;
  private final long started = System.nanoTime();
  private final HexFormat hex = HexFormat.of();
  private Path dir;
  private KubeCluster kube;
  private String app;
  private Path work;
  private Git git;
  private int change;
  private TestController controller;
  private AdminClient admin;
  private HttpClient hookClient;
  private String webhookSecret;
  private CountingProxy proxy;
  private TestAgents helper;
  private final List<Agent> agents = new ArrayList<>();
  private final List<ScheduledExecutorService> schedulers = new ArrayList<>();
  private final List<TimedRuntime> runtimes = new ArrayList<>();
  private final Map<String, TimedRuntime> runtimeByDevice = new HashMap<>();
  private Agent agent0;
  private String device0;
  private int wsConnection = -1;

  private GitOpsBench(Args args) {
    this.args = args;
  }

  public static void main(String[] argv) throws Exception {
    Args args = Args.parse(argv);
    GitOpsBench bench = new GitOpsBench(args);
    int status = 0;
    try {
      Map<String, Object> result = bench.run();
      Files.createDirectories(args.out().toAbsolutePath().getParent());
      Files.writeString(args.out(), Json.pretty(result) + "\n");
      bench.printTable(result);
      System.out.println("wrote " + args.out());
    } catch (Exception | Error e) {
      e.printStackTrace();
      status = 1;
    } finally {
      bench.close();
    }
    // Agent, controller and Kubernetes client threads; the cluster stops in a shutdown hook.
    System.exit(status);
  }

  // ------------------------------------------------------------------------------- the run

  private Map<String, Object> run() throws Exception {
    dir = Files.createTempDirectory("edgefleet-bench-gitops-");
    say("Kubernetes test cluster ...");
    kube = KubeCluster.shared();
    app = "bench-" + Long.toString(ThreadLocalRandom.current().nextLong(1L << 30, 1L << 35), 36);

    work = dir.resolve("repo");
    git = Git.init().setDirectory(work.toFile()).setInitialBranch("main").call();
    commitChange("add " + app);
    String first = head();
    long bundleBytes = appBytes();

    controller =
        TestController.start(
            TestController.config(dir.resolve("controller"))
                .withHeartbeat(Duration.ofSeconds(args.heartbeatSeconds())));
    admin = controller.admin();
    hookClient =
        HttpClient.newBuilder()
            .sslContext(TlsContexts.pinned(new PinnedCaTrustManager(controller.caFingerprint())))
            .connectTimeout(Duration.ofSeconds(10))
            .build();
    AdminClient.Answer added =
        admin.post(
            "/api/v1/repos",
            Map.of(
                "name",
                SOURCE,
                "url",
                work.toUri().toString(),
                "target",
                TAG_KEY + "=" + TAG_VALUE,
                "interval",
                POLL_INTERVAL.toSeconds() + "s"));
    if (added.status() != 201) {
      throw new IllegalStateException("adding the git source failed: " + added.body());
    }
    await(
        "the controller to record " + first,
        Duration.ofSeconds(60),
        () -> first.equals(source().path("lastCommit").path("sha").asText()));
    webhookSecret = source().path("webhookSecret").asText();

    proxy = CountingProxy.forUrl(controller.url());
    say("starting " + args.devices() + " agents (device 0 through the counting proxy) ...");
    long agentsStarted = System.nanoTime();
    startAgents();
    await(
        "every agent to connect",
        Duration.ofMinutes(3),
        () -> agents.stream().allMatch(a -> a.status().state() == Agent.State.CONNECTED));
    double connectedS = seconds(System.nanoTime() - agentsStarted);
    device0 = agent0.status().deviceId().orElseThrow();
    say("all connected after " + fmt(connectedS) + " s; waiting for the first revision ...");
    await(
        "every device to apply " + first,
        Duration.ofMinutes(10),
        () -> countRunning(first) == args.devices());
    double convergedS = seconds(System.nanoTime() - agentsStarted);
    say(
        "all "
            + args.devices()
            + " devices applied the first commit after "
            + fmt(convergedS)
            + " s");
    wsConnection = webSocketConnection();

    for (int i = 0; i < agents.size(); i++) {
      runtimeByDevice.put(agents.get(i).status().deviceId().orElseThrow(), runtimes.get(i));
    }
    long inSyncBefore = sum(r -> r.inSync);
    long inSyncNanosBefore = sum(r -> r.inSyncNanos);
    long reappliedBefore = sum(r -> r.reapplied);
    long retriesBefore = sum(r -> r.retries);
    long rounds0 = System.nanoTime();

    Phase webhook = new Phase();
    for (int r = 1; r <= args.rounds(); r++) {
      Thread.sleep(1_000);
      round("webhook", r, true, webhook);
    }
    Phase polling = new Phase();
    for (int r = 1; r <= args.pollRounds(); r++) {
      // A random phase against the source's poll timer.
      Thread.sleep(1_000 + ThreadLocalRandom.current().nextLong(POLL_INTERVAL.toMillis()));
      round("poll", r, false, polling);
    }
    double roundsSeconds = seconds(System.nanoTime() - rounds0);
    Map<String, Object> reconcile = new LinkedHashMap<>();
    long inSync = sum(r -> r.inSync) - inSyncBefore;
    reconcile.put("periodicInSyncApplies", inSync);
    reconcile.put("periodicInSyncAppliesPerSecond", round1(inSync / roundsSeconds));
    reconcile.put(
        "inSyncApplyMeanMs",
        round1(ms(sum(r -> r.inSyncNanos) - inSyncNanosBefore) / Math.max(1, inSync)));
    reconcile.put("driftRepairs", sum(r -> r.reapplied) - reappliedBefore);
    reconcile.put("applyRetries", sum(r -> r.retries) - retriesBefore);
    Map<String, Long> reasons = new java.util.TreeMap<>();
    for (TimedRuntime rt : runtimes) {
      rt.retryReasons.forEach((k, v) -> reasons.merge(k, v.sum(), Long::sum));
    }
    reconcile.put("applyRetryReasons", reasons);
    reconcile.put(
        "driftRepairSamples",
        runtimes.stream().flatMap(r -> List.copyOf(r.reapplies).stream()).limit(30).toList());

    say("bytes of an unchanged poll ...");
    Map<String, Object> unchanged = unchangedPolls();
    say("bytes of a heartbeat ...");
    Map<String, Object> heartbeat = heartbeat();

    Map<String, Object> result = new LinkedHashMap<>();
    result.put("date", Instant.now().toString());
    result.put("machine", machine());
    result.put("jvm", jvm());
    result.put(
        "command",
        "bench/gitops.sh --devices "
            + args.devices()
            + " --rounds "
            + args.rounds()
            + (args.pollRounds() != args.rounds() ? " --poll-rounds " + args.pollRounds() : "")
            + (args.heartbeatSeconds() != 30 ? " --heartbeat " + args.heartbeatSeconds() : "")
            + (args.sharedScheduler() ? " --shared-scheduler" : "")
            + (args.sharedNamespace() ? " --shared-namespace" : ""));
    Map<String, Object> setup = new LinkedHashMap<>();
    setup.put("devices", args.devices());
    setup.put("webhookRounds", args.rounds());
    setup.put("pollRounds", args.pollRounds());
    setup.put("sourcePollInterval", POLL_INTERVAL.toSeconds() + "s");
    setup.put("heartbeatSeconds", args.heartbeatSeconds());
    setup.put("agentReconcileInterval", "10s");
    setup.put(
        "agentThreads",
        args.sharedScheduler()
            ? "TestAgents: 2 scheduler threads shared by all agents"
            : "one scheduler thread per agent (as the agent process)");
    setup.put("appObjects", CONFIG_MAPS + 1 + SERVICES);
    setup.put(
        "appNamespace",
        args.sharedNamespace()
            ? "the app's namespace (" + app + "), shared by all devices"
            : "dev-<n> per device (the bench's runtime wrapper renames the app's namespace, as if"
                + " each device had its own cluster); inventories in inv-<n>");
    setup.put("appBytes", bundleBytes);
    setup.put("database", "SQLite (controller in the bench JVM)");
    setup.put("kubernetes", kube.local() ? "local kube-apiserver 1.20.2 + etcd" : "external");
    setup.put("statusPoll", STATUS_POLL.toMillis() + "ms");
    result.put("setup", setup);
    result.put("secondsUntilAllConnected", round1(connectedS));
    result.put("secondsUntilFirstCommitApplied", round1(convergedS));
    Map<String, Object> latency = new LinkedHashMap<>();
    latency.put(
        "note",
        "webhook: from the webhook call (right after the commit); polling: from the commit."
            + " toApplied = the controller shows the device's runningRevision (status polled every"
            + " 50 ms); toDesiredRecorded = the controller recorded the new desired revision;"
            + " toApplyStart/applyDuration = the agent's runtime apply of the new revision;"
            + " applyEndToStatusShown = report over the socket, stored, seen by the status poll");
    latency.put("webhook", webhook.latency());
    latency.put("polling", polling.latency());
    result.put("latencyMs", latency);
    result.put("reconcileDuringRounds", reconcile);
    Map<String, Object> bytes = new LinkedHashMap<>();
    bytes.put(
        "note",
        "device 0 through CountingProxy; TCP payload incl. TLS records, without IP/TCP headers;"
            + " up = agent to controller");
    bytes.put("unchangedPoll", unchanged);
    bytes.put("heartbeat", heartbeat);
    bytes.put("oneLineChangeWebhook", windows(webhook.bytes));
    bytes.put("oneLineChangePolling", windows(polling.bytes));
    result.put("bytes", bytes);
    result.put("webhookRounds", webhook.rounds);
    result.put("pollRounds", polling.rounds);
    result.put("agent0Reconnects", agent0.status().connections() - 1);
    result.put("objectsPerNamespace", objectsPerNamespace());
    // Every commit changes the Deployment's revision annotation; Kubernetes counts that as a new
    // generation of a Deployment, so its status lags until the controller-manager catches up.
    var deployment =
        kube.client()
            .apps()
            .deployments()
            .inNamespace(args.sharedNamespace() ? app : "dev-0")
            .withName("web")
            .get();
    result.put("commits", 1 + args.rounds() + args.pollRounds());
    result.put(
        "device0DeploymentGeneration",
        deployment == null ? null : deployment.getMetadata().getGeneration());
    result.put("gitops", controller.controller().gitops().stats());
    result.put("wallSeconds", round1(seconds(System.nanoTime() - started)));
    return result;
  }

  private void startAgents() throws IOException {
    helper = new TestAgents(dir);
    String token = controller.token(Map.of(TAG_KEY, TAG_VALUE), null, false);
    Path direct = helper.bootstrap("direct", controller.url(), controller.caFingerprint(), token);
    Path proxied = helper.bootstrap("proxied", proxy.url(), controller.caFingerprint(), token);
    ExecutorService http = Executors.newVirtualThreadPerTaskExecutor();
    PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
    for (int i = 0; i < args.devices(); i++) {
      String name = String.format(Locale.ROOT, "d%03d", i);
      Agent.Options options = helper.options(name, i == 0 ? proxied : direct);
      TimedRuntime runtime =
          new TimedRuntime(
              new KubernetesRuntime(
                  KubernetesRuntime.Options.of(kube.kubeconfig())
                      .withInventoryNamespace("inv-" + i)),
              args.sharedNamespace() ? null : "dev-" + i);
      runtimes.add(runtime);
      Agent a;
      if (args.sharedScheduler()) {
        a = helper.start(options, Clock.systemUTC(), runtime);
      } else {
        ScheduledExecutorService s =
            Executors.newSingleThreadScheduledExecutor(
                r -> {
                  Thread t = new Thread(r, "agent-" + name);
                  t.setDaemon(true);
                  return t;
                });
        schedulers.add(s);
        a =
            new Agent(
                options, s, http, RandomGenerator.getDefault(), Clock.systemUTC(), quiet, runtime);
        a.start();
      }
      agents.add(a);
    }
    agent0 = agents.getFirst();
  }

  /** One commit and its way to every device. */
  private void round(String kind, int n, boolean webhook, Phase phase) throws Exception {
    commitChange(kind + " round " + n);
    String sha = head();
    long t0 = System.nanoTime();
    double hookMs = -1;
    String hookAnswer = null;
    if (webhook) {
      HttpResponse<String> r = callWebhook(sha);
      hookMs = ms(System.nanoTime() - t0);
      hookAnswer = r.statusCode() + " " + r.body();
      if (r.statusCode() != 200) {
        throw new IllegalStateException("webhook refused: " + hookAnswer);
      }
    }
    Map<String, Double> desired = new HashMap<>();
    Map<String, Double> applied = new HashMap<>();
    Map<String, Double> confirmed = new HashMap<>();
    Map<String, String> interim = new HashMap<>();
    long deadline = t0 + ROUND_TIMEOUT.toNanos();
    long device0Applied = -1;
    // The app's revision at this commit (a digest of its content), once a device is told of it.
    String revision = null;
    while (confirmed.size() < args.devices() && System.nanoTime() < deadline) {
      long tick = System.nanoTime();
      JsonNode status = admin.get("/api/v1/apps/" + app + "/status").body();
      long now = System.nanoTime();
      for (JsonNode d : status.path("devices")) {
        String id = d.path("deviceId").asText();
        if (sha.equals(d.path("desiredCommit").asText())) {
          desired.putIfAbsent(id, ms(now - t0));
          revision = d.path("desiredRevision").asText();
        }
        String state = d.path("state").asText();
        boolean runsNew = revision != null && revision.equals(d.path("runningRevision").asText());
        if (runsNew) {
          if (state.equals("READY") || state.equals("APPLIED")) {
            confirmed.putIfAbsent(id, ms(now - t0));
          } else {
            interim.putIfAbsent(
                id, state + ": " + d.path("reason").asText("").replaceAll("[0-9]+", "N"));
          }
        }
        if (runsNew && !applied.containsKey(id)) {
          applied.put(id, ms(now - t0));
          if (id.equals(device0)) {
            device0Applied = now;
          }
        }
      }
      long sleep = STATUS_POLL.toNanos() - (System.nanoTime() - tick);
      if (sleep > 0) {
        Thread.sleep(Duration.ofNanos(sleep));
      }
    }
    phase.applied.addAll(applied.values());
    phase.confirmed.addAll(confirmed.values());
    phase.desired.addAll(desired.values());
    List<Double> applyStart = new ArrayList<>();
    List<Double> applyDuration = new ArrayList<>();
    List<Double> afterApply = new ArrayList<>();
    for (Map.Entry<String, Double> e : applied.entrySet()) {
      TimedRuntime rt = runtimeByDevice.get(e.getKey());
      TimedRuntime.Call c1 = rt == null || revision == null ? null : rt.first.get(revision);
      TimedRuntime.Call c2 = rt == null || revision == null ? null : rt.done.get(revision);
      if (c1 != null && c2 != null) {
        applyStart.add(ms(c1.start() - t0));
        applyDuration.add(ms(c2.end() - c1.start()));
        afterApply.add(e.getValue() - ms(c2.end() - t0));
      }
    }
    phase.applyStart.addAll(applyStart);
    phase.applyDuration.addAll(applyDuration);
    phase.afterApply.addAll(afterApply);
    Window w = device0Applied < 0 ? null : window(t0, device0Applied);
    if (w != null) {
      phase.bytes.add(w);
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("round", n);
    m.put("sha", sha);
    if (webhook) {
      m.put("webhookAnswerMs", round1(hookMs));
      m.put("webhookAnswer", hookAnswer);
    }
    m.put("devicesApplied", applied.size());
    m.put("appliedMs", distribution(new ArrayList<>(applied.values())));
    m.put("readyOrAppliedMs", distribution(new ArrayList<>(confirmed.values())));
    Map<String, Long> interimStates = new java.util.TreeMap<>();
    interim.values().forEach(v -> interimStates.merge(v, 1L, Long::sum));
    m.put("interimStates", interimStates);
    m.put("desiredRecordedMs", distribution(new ArrayList<>(desired.values())));
    m.put("applyStartMs", distribution(applyStart));
    m.put("applyDurationMs", distribution(applyDuration));
    m.put("applyEndToStatusShownMs", distribution(afterApply));
    m.put("device0Bytes", w == null ? null : w.json());
    m.put("appliedMsSorted", applied.values().stream().sorted().map(GitOpsBench::round1).toList());
    m.put("desiredMsSorted", desired.values().stream().sorted().map(GitOpsBench::round1).toList());
    // Devices well behind the median: what their agent last complained about, if anything.
    double median = percentile(new ArrayList<>(applied.values()), 50);
    List<Map<String, Object>> slow = new ArrayList<>();
    for (Agent a : agents) {
      String id = a.status().deviceId().orElse("?");
      Double t = applied.get(id);
      if (t == null || t > Math.max(2 * median, median + 1_000)) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("deviceId", id);
        d.put("appliedMs", t == null ? null : round1(t));
        d.put("desiredMs", desired.get(id) == null ? null : round1(desired.get(id)));
        d.put("lastError", a.status().lastError().orElse(null));
        slow.add(d);
      }
    }
    m.put("slowDevices", slow);
    phase.rounds.add(m);
    say(
        String.format(
            Locale.ROOT,
            "%s round %d: %d/%d applied, p50 %.0f ms, max %.0f ms (desired recorded for all by %.0f"
                + " ms; applies started %.0f..%.0f ms, took p50 %.0f ms)%s",
            kind,
            n,
            applied.size(),
            args.devices(),
            percentile(new ArrayList<>(applied.values()), 50),
            max(applied.values()),
            max(desired.values()),
            applyStart.stream().mapToDouble(d -> d).min().orElse(Double.NaN),
            max(applyStart),
            percentile(applyDuration, 50),
            w == null ? "" : ", device 0: " + w.total() + " B"));
  }

  private HttpResponse<String> callWebhook(String sha) throws IOException, InterruptedException {
    byte[] body =
        Json.writeBytes(
            Map.of(
                "ref",
                "refs/heads/main",
                "after",
                sha,
                "repository",
                Map.of("full_name", "bench/" + SOURCE)));
    String signature = "sha256=" + hmac(webhookSecret, body);
    HttpRequest req =
        HttpRequest.newBuilder(URI.create(controller.url() + "/api/v1/hooks/git/" + SOURCE))
            .timeout(Duration.ofSeconds(30))
            .header("Content-Type", "application/json")
            .header("X-GitHub-Event", "push")
            .header("X-Hub-Signature-256", signature)
            .POST(HttpRequest.BodyPublishers.ofByteArray(body))
            .build();
    return hookClient.send(req, HttpResponse.BodyHandlers.ofString());
  }

  private String hmac(String secret, byte[] body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      return hex.formatHex(mac.doFinal(body));
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  // ------------------------------------------------------------------------------- bytes

  /**
   * The WebSocket of device 0: its oldest open connection (the agent opens the socket right after
   * enrolling; the enrollment connection is closed by then, HTTP connections come later).
   */
  private int webSocketConnection() {
    return proxy.connections().stream()
        .filter(CountingProxy.Connection::open)
        .min(Comparator.comparingLong(CountingProxy.Connection::openedNanos))
        .orElseThrow()
        .id();
  }

  /** Device 0's bytes between two instants, heartbeats (hb + ack) on the socket left out. */
  private Window window(long from, long to) {
    long wsUp = 0;
    long wsDown = 0;
    long httpUp = 0;
    long httpDown = 0;
    int fresh = 0;
    int beats = 0;
    for (CountingProxy.Connection c : proxy.connections()) {
      if (c.id() == wsConnection) {
        List<CountingProxy.Chunk> chunks = proxy.chunks(c.id());
        boolean[] heartbeat = heartbeatChunks(chunks);
        for (int i = 0; i < chunks.size(); i++) {
          CountingProxy.Chunk k = chunks.get(i);
          if (k.nanos() < from || k.nanos() > to) {
            continue;
          }
          if (heartbeat[i]) {
            beats += k.direction() == CountingProxy.Direction.UP ? 1 : 0;
          } else if (k.direction() == CountingProxy.Direction.UP) {
            wsUp += k.bytes();
          } else {
            wsDown += k.bytes();
          }
        }
        continue;
      }
      if (c.openedNanos() >= from && c.openedNanos() <= to) {
        fresh++;
      }
      for (CountingProxy.Chunk k : proxy.chunks(c.id())) {
        if (k.nanos() >= from && k.nanos() <= to) {
          if (k.direction() == CountingProxy.Direction.UP) {
            httpUp += k.bytes();
          } else {
            httpDown += k.bytes();
          }
        }
      }
    }
    return new Window(wsUp, wsDown, httpUp, httpDown, fresh, beats);
  }

  /**
   * Marks heartbeat exchanges on the socket: a small chunk from the agent answered by a small chunk
   * from the controller within a second, with nothing in between.
   */
  private static boolean[] heartbeatChunks(List<CountingProxy.Chunk> chunks) {
    boolean[] hb = new boolean[chunks.size()];
    for (int i = 0; i + 1 < chunks.size(); i++) {
      CountingProxy.Chunk a = chunks.get(i);
      CountingProxy.Chunk b = chunks.get(i + 1);
      if (a.direction() == CountingProxy.Direction.UP
          && a.bytes() < SMALL
          && b.direction() == CountingProxy.Direction.DOWN
          && b.bytes() < SMALL
          && b.nanos() - a.nanos() < 1_000_000_000L) {
        hb[i] = true;
        hb[i + 1] = true;
        i++;
      }
    }
    return hb;
  }

  /** Nudges device 0 with a generation above its own: it asks, the controller answers 204. */
  private Window nudgeAndMeasure() throws InterruptedException {
    long gen = agent0.generation();
    long t0 = System.nanoTime();
    controller.controller().gateway().nudge(device0, gen + 1);
    long t1 = quiet(t0);
    return window(t0, t1);
  }

  /** Waits until device 0's connections were silent for 500 ms; returns the last activity. */
  private long quiet(long since) throws InterruptedException {
    long deadline = since + Duration.ofSeconds(10).toNanos();
    while (System.nanoTime() < deadline) {
      Thread.sleep(100);
      long last =
          proxy.connections().stream()
              .mapToLong(CountingProxy.Connection::lastActivityNanos)
              .max()
              .orElse(since);
      if (last > since && System.nanoTime() - last > 500_000_000L) {
        return last;
      }
    }
    return System.nanoTime();
  }

  private Map<String, Object> unchangedPolls() throws Exception {
    Map<String, Object> m = new LinkedHashMap<>();
    nudgeAndMeasure(); // Warm-up: makes sure a pooled connection exists.
    Thread.sleep(300);
    List<Window> kept = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      kept.add(nudgeAndMeasure());
      Thread.sleep(300);
    }
    m.put("keptAlive", windows(kept));

    // The agent's own new connection: close its idle HTTP connections first (the JDK client may
    // resume the TLS session it had).
    List<Window> fresh = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      for (CountingProxy.Connection c : proxy.connections()) {
        if (c.open() && c.id() != wsConnection) {
          proxy.closeConnection(c.id());
        }
      }
      Thread.sleep(1_000);
      fresh.add(nudgeAndMeasure());
    }
    m.put("newConnectionAgent", windows(fresh));

    // A new connection with a new TLS context: a full handshake with both certificate chains.
    IdentityStore.Identity id =
        new IdentityStore(dir.resolve("agents").resolve("d000")).load().orElseThrow();
    List<Window> full = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      SSLContext ctx =
          TlsContexts.mutual(
              id.key().getPrivate(),
              new X509Certificate[] {id.certificate(), id.ca()},
              new PinnedCaTrustManager(id.caFingerprint(), id.ca()));
      HttpClient c =
          HttpClient.newBuilder().sslContext(ctx).version(HttpClient.Version.HTTP_1_1).build();
      try {
        long t0 = System.nanoTime();
        HttpResponse<Void> r =
            c.send(
                HttpRequest.newBuilder(
                        URI.create(
                            proxy.url() + DeviceApi.DESIRED + "?known=" + agent0.generation()))
                    .GET()
                    .build(),
                HttpResponse.BodyHandlers.discarding());
        if (r.statusCode() != 204) {
          throw new IllegalStateException("unchanged poll answered " + r.statusCode());
        }
        long t1 = quiet(t0);
        full.add(window(t0, t1));
      } finally {
        c.shutdownNow();
      }
      Thread.sleep(300);
    }
    m.put("newConnectionFullHandshake", windows(full));
    return m;
  }

  /** Heartbeat (hb) and ack sizes seen on device 0's socket, waiting for one if none was seen. */
  private Map<String, Object> heartbeat() throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(args.heartbeatSeconds() + 5).toNanos();
    List<long[]> pairs = heartbeatPairs();
    while (pairs.isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(500);
      pairs = heartbeatPairs();
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("samples", pairs.size());
    if (!pairs.isEmpty()) {
      List<Double> up = pairs.stream().map(p -> (double) p[0]).toList();
      List<Double> down = pairs.stream().map(p -> (double) p[1]).toList();
      m.put("up", (long) percentile(new ArrayList<>(up), 50));
      m.put("down", (long) percentile(new ArrayList<>(down), 50));
      m.put("total", (long) percentile(new ArrayList<>(up), 50) + (long) percentile(down, 50));
      m.put("segments", 2);
      m.put("note", "median over samples; on the wire add ~52 B IP+TCP headers per segment");
    }
    return m;
  }

  private List<long[]> heartbeatPairs() {
    List<CountingProxy.Chunk> chunks = proxy.chunks(wsConnection);
    boolean[] hb = heartbeatChunks(chunks);
    List<long[]> pairs = new ArrayList<>();
    for (int i = 0; i + 1 < chunks.size(); i++) {
      if (hb[i] && chunks.get(i).direction() == CountingProxy.Direction.UP) {
        pairs.add(new long[] {chunks.get(i).bytes(), chunks.get(i + 1).bytes()});
      }
    }
    return pairs;
  }

  private static Map<String, Object> windows(List<Window> ws) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("samples", ws.size());
    if (!ws.isEmpty()) {
      List<Window> sorted = new ArrayList<>(ws);
      sorted.sort(Comparator.comparingLong(Window::total));
      m.put("median", sorted.get((sorted.size() - 1) / 2).json());
      m.put("all", ws.stream().map(Window::json).toList());
    }
    return m;
  }

  // ------------------------------------------------------------------------------- git

  /** Writes the whole app with change counter {@link #change} bumped, and commits it. */
  private void commitChange(String message) throws Exception {
    Path appDir = work.resolve("apps").resolve(app);
    Files.createDirectories(appDir);
    Files.writeString(appDir.resolve("configmaps.yaml"), configMaps(change++));
    Files.writeString(appDir.resolve("deployment.yaml"), deployment());
    Files.writeString(appDir.resolve("services.yaml"), services());
    git.add().addFilepattern(".").call();
    git.commit()
        .setMessage(message)
        .setAuthor("Bench", "bench@example.com")
        .setCommitter("Bench", "bench@example.com")
        .setSign(false)
        .call();
  }

  private long appBytes() throws IOException {
    long n = 0;
    try (var files = Files.walk(work.resolve("apps"))) {
      for (Path p : files.filter(Files::isRegularFile).toList()) {
        n += Files.size(p);
      }
    }
    return n;
  }

  private String head() throws IOException {
    return git.getRepository().resolve("refs/heads/main").getName();
  }

  private String configMaps(int round) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < CONFIG_MAPS; i++) {
      if (i > 0) {
        sb.append("---\n");
      }
      sb.append(
          """
          apiVersion: v1
          kind: ConfigMap
          metadata:
            name: settings-%02d
            labels: {app: web, tier: config}
          data:
            log-level: info
            region: eu-central
            feature-flags: "checkout,loyalty,offline-queue"
            endpoint: "https://api.example.com/v2/stores"
            retry-policy: "exponential, base 1s, cap 60s"
          """
              .formatted(i));
      if (i == 0) {
        // The one line that changes from commit to commit.
        sb.append("  revision: \"").append(round).append("\"\n");
      }
    }
    return sb.toString();
  }

  private static String deployment() {
    return """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          labels: {app: web}
        spec:
          replicas: 1
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
                - name: web
                  image: nginx:1.27
                  ports:
                    - {containerPort: 8080, protocol: TCP}
                  envFrom:
                    - configMapRef: {name: settings-01}
        """;
  }

  private String services() {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < SERVICES; i++) {
      if (i > 0) {
        sb.append("---\n");
      }
      sb.append(
          """
          apiVersion: v1
          kind: Service
          metadata:
            name: web-%d
            labels: {app: web}
          spec:
            selector: {app: web}
            ports:
              - {name: http, port: %d, targetPort: 8080, protocol: TCP}
          """
              .formatted(i, 80 + i));
    }
    return sb.toString();
  }

  // ------------------------------------------------------------------------------- helpers

  private JsonNode source() {
    return admin.get("/api/v1/repos/" + SOURCE).body();
  }

  /** Devices that run the app's revision at commit {@code sha}. */
  private int countRunning(String sha) {
    int n = 0;
    for (JsonNode d : admin.get("/api/v1/apps/" + app + "/status").body().path("devices")) {
      if (sha.equals(d.path("desiredCommit").asText())
          && d.path("runningRevision").asText().equals(d.path("desiredRevision").asText())) {
        n++;
      }
    }
    return n;
  }

  /** Where the app's ConfigMaps ended up: a sanity check of the namespace layout. */
  private Map<String, Integer> objectsPerNamespace() {
    Map<String, Integer> m = new java.util.TreeMap<>();
    for (var cm :
        kube.client()
            .configMaps()
            .inAnyNamespace()
            .withLabel("edgefleet.io/app", app)
            .list()
            .getItems()) {
      m.merge(cm.getMetadata().getNamespace(), 1, Integer::sum);
    }
    return m;
  }

  private long sum(java.util.function.Function<TimedRuntime, LongAdder> f) {
    return runtimes.stream().mapToLong(r -> f.apply(r).sum()).sum();
  }

  private interface Check {
    boolean ok() throws Exception;
  }

  private void await(String what, Duration timeout, Check check) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!check.ok()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("timed out after " + timeout + " waiting for " + what);
      }
      Thread.sleep(200);
    }
  }

  private static Map<String, Object> distribution(List<Double> values) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("n", values.size());
    if (!values.isEmpty()) {
      m.put("min", round1(values.stream().mapToDouble(d -> d).min().orElse(0)));
      m.put("p50", round1(percentile(values, 50)));
      m.put("p90", round1(percentile(values, 90)));
      m.put("p99", round1(percentile(values, 99)));
      m.put("max", round1(max(values)));
      m.put("mean", round1(values.stream().mapToDouble(d -> d).average().orElse(0)));
    }
    return m;
  }

  /** Nearest-rank percentile. */
  static double percentile(List<Double> values, double p) {
    if (values.isEmpty()) {
      return Double.NaN;
    }
    List<Double> sorted = new ArrayList<>(values);
    sorted.sort(Double::compare);
    int rank = (int) Math.ceil(p / 100.0 * sorted.size());
    return sorted.get(Math.clamp(rank - 1, 0, sorted.size() - 1));
  }

  private static double max(java.util.Collection<Double> values) {
    return values.stream().mapToDouble(d -> d).max().orElse(Double.NaN);
  }

  private static double ms(long nanos) {
    return nanos / 1e6;
  }

  private static double seconds(long nanos) {
    return nanos / 1e9;
  }

  private static double round1(double v) {
    return Math.round(v * 10) / 10.0;
  }

  private static String fmt(double v) {
    return String.format(Locale.ROOT, "%.1f", v);
  }

  private void say(String s) {
    log.printf(Locale.ROOT, "[gitops-bench %6.1fs] %s%n", seconds(System.nanoTime() - started), s);
  }

  private static String machine() {
    long mem = 0;
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
        if (line.startsWith("MemTotal:")) {
          mem = Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // Not Linux: leave it out.
    }
    return Runtime.getRuntime().availableProcessors()
        + " cores"
        + (mem > 0 ? String.format(Locale.ROOT, ", %.1f GiB RAM", mem / (double) (1L << 30)) : "")
        + ", "
        + System.getProperty("os.name")
        + " "
        + System.getProperty("os.version");
  }

  private static String jvm() {
    return System.getProperty("java.vm.name")
        + " "
        + System.getProperty("java.runtime.version")
        + " ("
        + System.getProperty("java.vendor")
        + "), "
        + String.join(" ", ManagementFactory.getRuntimeMXBean().getInputArguments());
  }

  // ------------------------------------------------------------------------------- output

  @SuppressWarnings("unchecked")
  private void printTable(Map<String, Object> r) {
    Map<String, Object> lat = (Map<String, Object>) r.get("latencyMs");
    Map<String, Object> setup = (Map<String, Object>) r.get("setup");
    System.out.println();
    System.out.printf(
        Locale.ROOT,
        "GitOps bench: %s devices, app of %s objects (%s B), %s webhook + %s polling rounds;"
            + " %s; %s%n",
        setup.get("devices"),
        setup.get("appObjects"),
        setup.get("appBytes"),
        setup.get("webhookRounds"),
        setup.get("pollRounds"),
        r.get("machine"),
        System.getProperty("java.runtime.version"));
    System.out.printf(
        Locale.ROOT,
        "all connected after %s s, first commit applied everywhere after %s s%n%n",
        r.get("secondsUntilAllConnected"),
        r.get("secondsUntilFirstCommitApplied"));
    System.out.printf(
        Locale.ROOT,
        "%-44s %6s %9s %9s %9s %9s%n",
        "latency (ms)",
        "n",
        "p50",
        "p90",
        "p99",
        "max");
    for (String kind : List.of("webhook", "polling")) {
      Map<String, Object> k = (Map<String, Object>) lat.get(kind);
      String from = kind.equals("webhook") ? "webhook" : "commit (poll 5s)";
      row(from + " -> device applied", (Map<String, Object>) k.get("toApplied"));
      row(
          "  -> ... and state READY/APPLIED",
          (Map<String, Object>) k.get("toAppliedAndReadyOrApplied"));
      row("  -> desired state recorded", (Map<String, Object>) k.get("toDesiredRecorded"));
      row("  -> agent starts applying", (Map<String, Object>) k.get("toApplyStart"));
      row("  apply duration (20 objects)", (Map<String, Object>) k.get("applyDuration"));
      row("  apply end -> status shows it", (Map<String, Object>) k.get("applyEndToStatusShown"));
    }
    System.out.println("reconcile during the rounds: " + r.get("reconcileDuringRounds"));
    Map<String, Object> bytes = (Map<String, Object>) r.get("bytes");
    Map<String, Object> un = (Map<String, Object>) bytes.get("unchangedPoll");
    System.out.printf(
        Locale.ROOT,
        "%n%-44s %9s %9s %9s%n",
        "bytes, device 0 (TCP payload incl. TLS)",
        "up",
        "down",
        "total");
    // The unchanged poll without the nudge that triggered it (shown on its own line).
    httpRow(
        "unchanged poll (204), kept-alive connection", (Map<String, Object>) un.get("keptAlive"));
    httpRow(
        "unchanged poll (204), new connection (agent)",
        (Map<String, Object>) un.get("newConnectionAgent"));
    httpRow(
        "unchanged poll (204), new conn., full TLS",
        (Map<String, Object>) un.get("newConnectionFullHandshake"));
    Map<String, Object> kept =
        (Map<String, Object>) ((Map<String, Object>) un.get("keptAlive")).get("median");
    if (kept != null) {
      System.out.printf(
          Locale.ROOT,
          "%-44s %9s %9s %9s%n",
          "nudge that triggered it (socket)",
          kept.get("webSocketUp"),
          kept.get("webSocketDown"),
          (long) kept.get("webSocketUp") + (long) kept.get("webSocketDown"));
    }
    Map<String, Object> hb = (Map<String, Object>) bytes.get("heartbeat");
    System.out.printf(
        Locale.ROOT,
        "%-44s %9s %9s %9s%n",
        "heartbeat (hb + ack)",
        hb.getOrDefault("up", "-"),
        hb.getOrDefault("down", "-"),
        hb.getOrDefault("total", "-"));
    bytesRow(
        "one-line change, webhook (nudge..report)",
        (Map<String, Object>) bytes.get("oneLineChangeWebhook"));
    bytesRow(
        "one-line change, polling (nudge..report)",
        (Map<String, Object>) bytes.get("oneLineChangePolling"));
    System.out.println();
  }

  private static void row(String name, Map<String, Object> d) {
    System.out.printf(
        Locale.ROOT,
        "%-44s %6s %9s %9s %9s %9s%n",
        name,
        d.get("n"),
        d.getOrDefault("p50", "-"),
        d.getOrDefault("p90", "-"),
        d.getOrDefault("p99", "-"),
        d.getOrDefault("max", "-"));
  }

  @SuppressWarnings("unchecked")
  private static void httpRow(String name, Map<String, Object> w) {
    Map<String, Object> med = (Map<String, Object>) w.get("median");
    System.out.printf(
        Locale.ROOT,
        "%-44s %9s %9s %9s%n",
        name,
        med == null ? "-" : med.get("httpUp"),
        med == null ? "-" : med.get("httpDown"),
        med == null ? "-" : (long) med.get("httpUp") + (long) med.get("httpDown"));
  }

  @SuppressWarnings("unchecked")
  private static void bytesRow(String name, Map<String, Object> w) {
    Map<String, Object> med = (Map<String, Object>) w.get("median");
    System.out.printf(
        Locale.ROOT,
        "%-44s %9s %9s %9s%n",
        name,
        med == null ? "-" : med.get("up"),
        med == null ? "-" : med.get("down"),
        med == null ? "-" : med.get("total"));
  }

  private void close() {
    agents.forEach(
        a -> {
          try {
            a.close();
          } catch (RuntimeException e) {
            // Stopping anyway.
          }
        });
    schedulers.forEach(ScheduledExecutorService::shutdownNow);
    if (helper != null) {
      helper.close();
    }
    if (proxy != null) {
      proxy.close();
    }
    if (hookClient != null) {
      hookClient.shutdownNow();
    }
    if (controller != null) {
      controller.close();
    }
    if (git != null) {
      git.close();
    }
    if (dir != null) {
      try (var paths = Files.walk(dir)) {
        for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      } catch (IOException | RuntimeException e) {
        System.err.println("could not remove " + dir + ": " + e);
      }
    }
    if (kube != null && !kube.local()) {
      // A real cluster keeps what the bench made unless it is deleted; best effort.
      List<String> names = new ArrayList<>();
      for (int i = 0; i < args.devices(); i++) {
        names.add("inv-" + i);
        names.add("dev-" + i);
      }
      if (app != null) {
        names.add(app);
      }
      for (String name : names) {
        try {
          kube.client().namespaces().withName(name).delete();
        } catch (RuntimeException e) {
          // Gone already, or not ours to delete.
        }
      }
    }
  }
}
