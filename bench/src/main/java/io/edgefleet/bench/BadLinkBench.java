package io.edgefleet.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.DelayProxy;
import io.edgefleet.testkit.GitRepo;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import java.util.zip.GZIPOutputStream;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The bad-link benchmark (run by {@code bench/badlink.sh}, which creates the network namespace, the
 * shaped veth pair, the loss rules and the device's Kubernetes, and removes them afterwards): a
 * controller process on the host, a {@link DelayProxy} on the host end of the veth adding the
 * latency, and inside the device's namespace the agent process ({@code ./edgefleet agent}) and
 * {@link BadLinkSite} (the kubelet stand-in and an inventory watch) next to the namespace's own
 * kube-apiserver.
 *
 * <p>Measures: enrollment; a small app's and a ~200 KB app's commit → READY; the bytes of an idle
 * window on the veth; READY after a long cut with a commit made during it; READY after a cut that
 * black-holes a large transfer in its middle. Reports figures, asserts nothing.
 */
public final class BadLinkBench {
  static final List<String> CONTROLLER_OPTS =
      List.of("-XX:+UseG1GC", "-XX:MaxRAMPercentage=50", "-XX:+ExitOnOutOfMemoryError");
  private static final String SOURCE = "site";
  private static final String SMALL = "small";
  private static final String LARGE = "large";
  private static final Duration STATUS_POLL = Duration.ofMillis(100);
  private static final Duration ROUND_TIMEOUT = Duration.ofMinutes(10);
  private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss");

  /** Goals the figures are compared with. */
  static final double GOAL_SMALL_P50_S = 2;

  static final double GOAL_LARGE_S = 15;
  static final double GOAL_IDLE_MB_PER_DAY = 0.5;
  static final double GOAL_AFTER_RESTORE_S = 10;

  private final Path root;
  private final Path dist;
  private final Path work;
  private final String ns;
  private final String hostVeth;
  private final String hostIp;
  private final String chain;
  private final Path kubeconfig;
  private final String classpath;
  private final boolean quick;
  private final int rounds;
  private final int idleSeconds;
  private final int cutSeconds;
  private final int stallSeconds;
  private final int delayMs;
  private final int largeKb;
  private final Path out;
  private final Map<String, Object> result = new LinkedHashMap<>();
  private final List<Process> processes = new CopyOnWriteArrayList<>();
  private final long baseNanos = System.nanoTime();
  private final long baseEpochMs = System.currentTimeMillis();

  private int controllerPort;
  private Process controller;
  private DelayProxy proxy;
  private AdminClient admin;
  private HttpClient hookClient;
  private String webhookSecret;
  private GitRepo repo;
  private Lines agentOut;
  private Lines siteOut;
  private Lines controllerOut;
  private String deviceId;
  private final Random random = new Random(20261205);
  private int largeChange;

  private BadLinkBench(Map<String, String> a) {
    this.root = Path.of(a.getOrDefault("root", ".")).toAbsolutePath().normalize();
    this.dist = Path.of(a.getOrDefault("dist", root.resolve("launcher/target/dist").toString()));
    this.work = Path.of(required(a, "work"));
    this.ns = required(a, "ns");
    this.hostVeth = required(a, "host-veth");
    this.hostIp = required(a, "host-ip");
    this.chain = required(a, "chain");
    this.kubeconfig = Path.of(required(a, "kubeconfig"));
    this.classpath = required(a, "classpath");
    this.quick = a.containsKey("quick");
    this.rounds = Integer.parseInt(a.getOrDefault("rounds", quick ? "3" : "5"));
    this.idleSeconds = Integer.parseInt(a.getOrDefault("idle", quick ? "120" : "600"));
    this.cutSeconds = Integer.parseInt(a.getOrDefault("cut", quick ? "60" : "600"));
    this.stallSeconds = Integer.parseInt(a.getOrDefault("stall", quick ? "60" : "200"));
    this.delayMs = Integer.parseInt(a.getOrDefault("delay-ms", "300"));
    this.largeKb = Integer.parseInt(a.getOrDefault("large-kb", "200"));
    String date = LocalDate.now(ZoneOffset.UTC).toString().replace("-", "");
    this.out =
        Path.of(
            a.getOrDefault(
                "out",
                root.resolve("bench/results/badlink-" + date + (quick ? "-quick" : "") + ".json")
                    .toString()));
  }

  private static String required(Map<String, String> a, String key) {
    String v = a.get(key);
    if (v == null) {
      throw new IllegalArgumentException("--" + key + " is required");
    }
    return v;
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> a = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--")) {
        throw new IllegalArgumentException("unexpected " + args[i]);
      }
      String key = args[i].substring(2);
      if (key.equals("quick")) {
        a.put(key, "true");
      } else {
        a.put(key, args[++i]);
      }
    }
    BadLinkBench bench = new BadLinkBench(a);
    Runtime.getRuntime().addShutdownHook(new Thread(bench::stopProcesses, "badlink-stop"));
    int code = 0;
    try {
      bench.run();
    } catch (Exception | Error e) {
      e.printStackTrace();
      code = 1;
    } finally {
      bench.stopProcesses();
    }
    System.exit(code);
  }

  // ------------------------------------------------------------------------------------- run

  private void run() throws Exception {
    Files.createDirectories(work.resolve("pids"));
    setup();
    startEverything();
    enrollment();
    commitRounds(SMALL, "small", this::changeSmall);
    commitRounds(LARGE, "large", this::changeLarge);
    idle();
    longCut();
    midTransferCut();
    stopProcesses();
    Files.createDirectories(out.getParent());
    Files.writeString(out, Json.pretty(result) + "\n");
    report();
    say("written: " + out);
  }

  private void setup() {
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("mode", quick ? "quick" : "full");
    s.put("startedAt", Instant.now().toString());
    s.put("machine", machine());
    s.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
    s.put(
        "link",
        Map.of(
            "rate",
            "250 kbit/s each way (tc tbf on both veth ends)",
            "loss",
            "5 % each way (iptables statistic random, on receive at each end)",
            "addedLatencyMsEachWay",
            delayMs,
            "latencyBy",
            "user-space TCP proxy on the host end (DelayProxy); splits TCP"));
    s.put("rounds", rounds);
    s.put("idleSeconds", idleSeconds);
    s.put("cutSeconds", cutSeconds);
    s.put("stallSeconds", stallSeconds);
    s.put("controllerJvm", String.join(" ", CONTROLLER_OPTS));
    s.put("agent", "./edgefleet agent (launcher's agent JVM flags) inside the namespace");
    result.put("setup", s);
  }

  private void startEverything() throws Exception {
    controllerPort = freePort();
    proxy =
        DelayProxy.to("127.0.0.1", controllerPort)
            .listen(InetAddress.getByName(hostIp), 0)
            .delay(Duration.ofMillis(delayMs))
            .start();
    say(
        "delay proxy on "
            + proxy.url()
            + " -> 127.0.0.1:"
            + controllerPort
            + ", +"
            + delayMs
            + " ms each way");
    Path data = work.resolve("controller");
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.add("--enable-native-access=ALL-UNNAMED");
    cmd.addAll(CONTROLLER_OPTS);
    cmd.addAll(List.of("-cp", dist.resolve("lib") + "/*", "io.edgefleet.launcher.Main"));
    cmd.addAll(
        List.of(
            "controller",
            "--data",
            data.toString(),
            "--listen",
            "127.0.0.1:" + controllerPort,
            "--advertise-url",
            proxy.url(),
            "--tls-san",
            hostIp));
    controllerOut = new Lines(work.resolve("controller.log"));
    controller = start("controller", cmd, controllerOut);
    waitFor(
        "the controller to serve",
        Duration.ofSeconds(120),
        () -> {
          if (!controller.isAlive()) {
            throw new IllegalStateException("the controller exited; see " + controllerOut.file);
          }
          return controllerOut.find(" serving https://", 0) >= 0;
        });
    String token = Files.readString(data.resolve("admin-token")).trim();
    String ca = Fingerprints.of(Pem.certificateOf(Files.readString(data.resolve("pki/ca.crt"))));
    String url = "https://127.0.0.1:" + controllerPort;
    admin = new AdminClient(url, token, ca);
    hookClient =
        HttpClient.newBuilder()
            .sslContext(TlsContexts.pinned(new PinnedCaTrustManager(ca)))
            .connectTimeout(Duration.ofSeconds(10))
            .build();
    say("controller serving on " + url + " (pid " + controller.pid() + ")");

    // The Git repository: a small app and a large one, both for the device.
    repo = GitRepo.init(work.resolve("repo"));
    writeSmall("initial");
    writeLarge();
    String first = repo.commit("two apps");
    checked(
        admin.post(
            "/api/v1/repos",
            Map.of(
                "name", SOURCE, "url", repo.url(), "target", "bench=badlink", "interval", "15s")));
    waitFor(
        "the controller to record the first commit",
        Duration.ofSeconds(120),
        () -> first.equals(source().path("lastCommit").path("sha").asText()));
    webhookSecret = source().path("webhookSecret").asText();
    Map<String, Object> apps = new LinkedHashMap<>();
    apps.put(SMALL, appFacts("apps/small"));
    apps.put(LARGE, appFacts("apps/large"));
    result.put("apps", apps);

    JsonNode onboarding =
        checked(
            admin.post(
                "/api/v1/onboarding-tokens",
                Map.of("name", "badlink", "tags", Map.of("bench", "badlink"))));
    JsonNode bootstrap =
        checked(
            admin.post(
                "/api/v1/onboarding-tokens/bootstrap",
                Map.of("token", onboarding.path("token").asText())));
    Files.writeString(work.resolve("bootstrap.json"), Json.pretty(bootstrap));
    say("bootstrap file points at " + bootstrap.path("controllerUrl").asText());

    siteOut = new Lines(work.resolve("site.log"));
    List<String> site = new ArrayList<>(List.of("ip", "netns", "exec", ns));
    site.add(ProcessHandle.current().info().command().orElse("java"));
    site.addAll(
        List.of(
            "-XX:+UseSerialGC",
            "-Xmx256m",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-cp",
            classpath,
            BadLinkSite.class.getName(),
            kubeconfig.toString()));
    Process siteProcess = start("site", site, siteOut);
    waitFor(
        "the kubelet stand-in in the namespace",
        Duration.ofSeconds(120),
        () -> {
          if (!siteProcess.isAlive()) {
            throw new IllegalStateException("the site helper exited; see " + siteOut.file);
          }
          return siteOut.find("site ready", 0) >= 0;
        });
    say("kubelet stand-in and inventory watch running in namespace " + ns);
  }

  // ------------------------------------------------------------------------------ enrollment

  private void enrollment() throws Exception {
    agentOut = new Lines(work.resolve("agent.log"));
    List<String> cmd =
        List.of(
            "ip",
            "netns",
            "exec",
            ns,
            root.resolve("edgefleet").toString(),
            "agent",
            "--bootstrap",
            work.resolve("bootstrap.json").toString(),
            "--state",
            work.resolve("agent").toString(),
            "--serial",
            "badlink-1",
            "--runtime",
            "kubernetes",
            "--kubeconfig",
            kubeconfig.toString(),
            "--no-qr");
    say("starting the agent in namespace " + ns + ": ./edgefleet agent ...");
    long t0 = System.nanoTime();
    Process agent = start("agent", cmd, agentOut);
    waitFor(
        "the agent to connect",
        Duration.ofMinutes(5),
        () -> {
          if (!agent.isAlive()) {
            throw new IllegalStateException("the agent exited; see " + agentOut.file);
          }
          return agentOut.find("connected to ", 0) >= 0;
        });
    Lines.Line enrolled = agentOut.line(agentOut.find("enrolled as ", 0));
    Lines.Line connected = agentOut.line(agentOut.find("connected to ", 0));
    deviceId = enrolled.text().replaceAll(".*enrolled as (\\S+).*", "$1");
    waitFor(
        "the controller to show the device ONLINE",
        Duration.ofMinutes(2),
        () -> "ONLINE".equals(deviceStatus()));
    long online = System.nanoTime();
    long firstContact =
        proxy.connections().isEmpty() ? -1 : proxy.connections().getFirst().openedNanos();
    Map<String, Object> e = new LinkedHashMap<>();
    e.put("deviceId", deviceId);
    e.put("firstConnectionAtProxyMs", firstContact < 0 ? null : ms(firstContact - t0));
    e.put("enrolledMs", ms(enrolled.nanos() - t0));
    e.put("connectedMs", ms(connected.nanos() - t0));
    e.put("onlineAtControllerMs", ms(online - t0));
    e.put("enrollmentExchangeMs", firstContact < 0 ? null : ms(enrolled.nanos() - firstContact));
    e.put("enrolledToConnectedMs", ms(connected.nanos() - enrolled.nanos()));
    say(
        String.format(
            Locale.ROOT,
            "enrollment: first contact %.1f s, enrolled %.1f s, connected %.1f s, ONLINE at the"
                + " controller %.1f s after the process started",
            sec(e.get("firstConnectionAtProxyMs")),
            sec(e.get("enrolledMs")),
            sec(e.get("connectedMs")),
            sec(e.get("onlineAtControllerMs"))));
    String head = repo.head();
    waitFor(
        "both apps READY at the first commit",
        ROUND_TIMEOUT,
        () -> ready(SMALL, head) && ready(LARGE, head));
    long synced = System.nanoTime();
    e.put("firstSyncReadyMs", ms(synced - t0));
    e.put("connectedToFirstSyncReadyMs", ms(synced - connected.nanos()));
    say(
        String.format(
            Locale.ROOT,
            "first desired state (both apps) READY %.1f s after connecting",
            ms(synced - connected.nanos()) / 1000));
    result.put("enrollment", e);
    recordBundleSizes();
  }

  // -------------------------------------------------------------------------------- commits

  private void commitRounds(String app, String label, Runnable change) throws Exception {
    List<Map<String, Object>> list = new ArrayList<>();
    for (int r = 1; r <= rounds; r++) {
      // A random pause: commits do not fall at a fixed phase of heartbeats and reconciles.
      Thread.sleep(2_000 + random.nextInt(3_000));
      Map<String, Object> m = commitAndWait(app, label + " round " + r, change, null);
      list.add(m);
      say(
          String.format(
              Locale.ROOT,
              "%s round %d/%d: READY after %s s (device applied after %s s; %s B down, %s B up on"
                  + " the veth)",
              label,
              r,
              rounds,
              fmtS(m.get("readyMs")),
              fmtS(m.get("deviceAppliedMs")),
              m.get("wireDownBytes"),
              m.get("wireUpBytes")));
    }
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("readyMs", summary(list, "readyMs"));
    s.put("deviceAppliedMs", summary(list, "deviceAppliedMs"));
    s.put("rounds", list);
    result.put(label, s);
  }

  /**
   * One commit: change, commit, webhook; then polls the controller's app status until the device
   * reports the new revision READY. With a {@code plan} (run after the webhook) the cut scenarios
   * do their part.
   */
  private Map<String, Object> commitAndWait(
      String app, String message, Runnable change, CutPlan plan) throws Exception {
    change.run();
    long rx0 = veth("rx_bytes");
    long tx0 = veth("tx_bytes");
    long up0 = proxy.bytesUp();
    long down0 = proxy.bytesDown();
    long t0 = System.nanoTime();
    String sha = repo.commit(message);
    HttpResponse<String> hook = callWebhook(sha);
    long hookDone = System.nanoTime();
    if (hook.statusCode() != 200) {
      throw new IllegalStateException("webhook refused: " + hook.statusCode() + " " + hook.body());
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("sha", sha);
    m.put("app", app);
    m.put("loadavgAtCommit", loadavg());
    m.put("webhookMs", ms(hookDone - t0));
    long from = t0;
    if (plan != null) {
      from = plan.run(m, t0, tx0);
    }
    Map<String, Long> states = new TreeMap<>();
    long desiredSeen = -1;
    String revision = null;
    long runningSeen = -1;
    long readyAt = -1;
    long firstDown = -1;
    long firstUp = -1;
    long txFrom = veth("tx_bytes");
    long rxFrom = veth("rx_bytes");
    long deadline = System.nanoTime() + ROUND_TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      long tick = System.nanoTime();
      if (firstDown < 0 && veth("tx_bytes") > txFrom) {
        firstDown = tick;
      }
      if (firstUp < 0 && veth("rx_bytes") > rxFrom) {
        firstUp = tick;
      }
      JsonNode d = deviceAppStatus(app);
      // An app's revision is its content digest; the commit that brought it is its provenance.
      if (d != null && desiredSeen < 0 && sha.equals(d.path("desiredCommit").asText())) {
        desiredSeen = tick;
        revision = d.path("desiredRevision").asText();
      }
      if (d != null && revision != null && revision.equals(d.path("runningRevision").asText())) {
        if (runningSeen < 0) {
          runningSeen = tick;
        }
        String state = d.path("state").asText();
        if (state.equals("READY")) {
          readyAt = tick;
          break;
        }
        String key = state + ": " + d.path("reason").asText("").replaceAll("[0-9]+", "N");
        states.merge(key, 1L, Long::sum);
      }
      pace(tick, STATUS_POLL);
    }
    // Milestones, each from the clock's start (the commit; the restore in the cut scenarios),
    // polled every 100 ms unless the device said when.
    m.put("readyMs", readyAt < 0 ? null : ms(readyAt - from));
    m.put("desiredRecordedMs", desiredSeen < 0 ? null : ms(desiredSeen - from));
    m.put("firstBytesDownMs", firstDown < 0 ? null : ms(firstDown - from));
    m.put("firstBytesUpMs", firstUp < 0 ? null : ms(firstUp - from));
    int accepted = agentOut.findAfter("desired state generation ", t0);
    m.put("deviceAcceptedMs", accepted < 0 ? null : ms(agentOut.line(accepted).nanos() - from));
    Long applyStart = siteOut.applyStartNanos(app, t0);
    Long applied = revision == null ? null : siteOut.inventoryNanos(app, revision);
    m.put("revision", revision);
    m.put("deviceApplyStartMs", applyStart == null ? null : ms(applyStart - from));
    m.put("deviceAppliedMs", applied == null ? null : ms(applied - from));
    m.put("runningRevisionSeenMs", runningSeen < 0 ? null : ms(runningSeen - from));
    m.put("interimStatesPolled", states);
    m.put("loadavgAtEnd", loadavg());
    m.put("wireDownBytes", veth("tx_bytes") - tx0);
    m.put("wireUpBytes", veth("rx_bytes") - rx0);
    m.put("tlsDownBytes", proxy.bytesDown() - down0);
    m.put("tlsUpBytes", proxy.bytesUp() - up0);
    m.put("agentLines", agentOut.since(t0, t0));
    if (plan != null) {
      // After a cut: when the agent had its socket again (a "connected to" line after the restore).
      int i = agentOut.findAfter("connected to ", from);
      m.put("agentConnectedAgainMs", i < 0 ? null : ms(agentOut.line(i).nanos() - from));
    }
    if (readyAt < 0) {
      say("  " + app + " " + sha.substring(0, 8) + " not READY within " + ROUND_TIMEOUT);
    }
    return m;
  }

  /** A cut scenario's part of a round, run right after the webhook; returns the clock's start. */
  interface CutPlan {
    long run(Map<String, Object> m, long commitNanos, long txAtCommit) throws Exception;
  }

  private void changeSmall() {
    writeSmall("change-" + System.nanoTime());
  }

  private void changeLarge() {
    largeChange++;
    repo.write("apps/large/change.yaml", configMap("large-change", "round", "c" + largeChange));
  }

  private void writeSmall(String value) {
    repo.write("apps/small/config.yaml", configMap("small-config", "value", value));
    repo.write(
        "apps/small/deployment.yaml",
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
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
                  image: example.test/web:1.0
        """);
  }

  /**
   * About {@code largeKb} KB of YAML: four ConfigMaps whose data is base64 of seeded random bytes
   * (so it compresses like real binary payloads do, to about three quarters), and one small
   * ConfigMap each commit changes.
   */
  private void writeLarge() {
    Random r = new Random(42);
    int parts = 4;
    int perPart = largeKb * 1000 / parts;
    for (int i = 0; i < parts; i++) {
      byte[] raw = new byte[perPart * 3 / 4];
      r.nextBytes(raw);
      String b64 =
          Base64.getMimeEncoder(76, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(raw);
      StringBuilder y = new StringBuilder();
      y.append("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: blob-")
          .append(i)
          .append("\ndata:\n  payload: |\n");
      for (String line : b64.split("\n")) {
        y.append("    ").append(line).append('\n');
      }
      repo.write("apps/large/blob-" + i + ".yaml", y.toString());
    }
    repo.write("apps/large/change.yaml", configMap("large-change", "round", "c0"));
  }

  private static String configMap(String name, String key, String value) {
    return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "
        + name
        + "\ndata:\n  "
        + key
        + ": \""
        + value
        + "\"\n";
  }

  private Map<String, Object> appFacts(String dir) throws IOException {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    try (var files = Files.list(repo.work().resolve(dir))) {
      for (Path f : files.sorted().toList()) {
        all.write(Files.readAllBytes(f));
        all.write("---\n".getBytes(StandardCharsets.US_ASCII));
      }
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("yamlBytes", all.size());
    m.put("yamlGzipBytes", gzip(all.toByteArray()).length);
    return m;
  }

  /** The bundles as the device stored them (sizes from the signed document it holds). */
  @SuppressWarnings("unchecked")
  private void recordBundleSizes() {
    try {
      JsonNode current =
          Json.mapper().readTree(work.resolve("agent/desired/current.json").toFile());
      JsonNode doc =
          Json.mapper().readTree(Base64.getDecoder().decode(current.path("payload").asText()));
      Map<String, Object> apps = (Map<String, Object>) result.get("apps");
      for (JsonNode app : doc.path("apps")) {
        String name = app.path("name").asText();
        String digest = app.path("bundle").asText();
        Path file =
            work.resolve("agent/desired/bundles")
                .resolve(digest.substring("sha256:".length()) + ".yaml");
        if (apps.get(name) instanceof Map<?, ?> facts && Files.exists(file)) {
          byte[] bundle = Files.readAllBytes(file);
          ((Map<String, Object>) facts).put("bundleBytes", bundle.length);
          ((Map<String, Object>) facts).put("bundleGzipBytes", gzip(bundle).length);
        }
      }
    } catch (IOException | RuntimeException e) {
      say("cannot read the device's bundles: " + e);
    }
  }

  // ------------------------------------------------------------------------------------ idle

  private void idle() throws Exception {
    say("idle: settling 30 s, then a " + idleSeconds + " s window");
    Thread.sleep(30_000);
    Map<String, Double> metrics0 = metrics();
    long rx0 = veth("rx_bytes");
    long tx0 = veth("tx_bytes");
    long rxp0 = veth("rx_packets");
    long txp0 = veth("tx_packets");
    long up0 = proxy.bytesUp();
    long down0 = proxy.bytesDown();
    long t0 = System.nanoTime();
    long end = t0 + Duration.ofSeconds(idleSeconds).toNanos();
    long nextSay = t0 + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < end) {
      Thread.sleep(Math.min(1_000, Math.max(1, (end - System.nanoTime()) / 1_000_000)));
      if (System.nanoTime() >= nextSay && System.nanoTime() < end) {
        nextSay += Duration.ofSeconds(60).toNanos();
        say(
            String.format(
                Locale.ROOT,
                "  idle %d/%d s: %d B so far on the veth",
                (System.nanoTime() - t0) / 1_000_000_000L,
                idleSeconds,
                veth("rx_bytes") - rx0 + veth("tx_bytes") - tx0));
      }
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    long up = veth("rx_bytes") - rx0;
    long down = veth("tx_bytes") - tx0;
    long tlsUp = proxy.bytesUp() - up0;
    long tlsDown = proxy.bytesDown() - down0;
    double perDay = 86_400 / seconds;
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("windowSeconds", round1(seconds));
    m.put("wireUpBytes", up);
    m.put("wireDownBytes", down);
    m.put("wireUpPackets", veth("rx_packets") - rxp0);
    m.put("wireDownPackets", veth("tx_packets") - txp0);
    m.put("wireBytesPerDay", Math.round((up + down) * perDay));
    m.put("tlsUpBytes", tlsUp);
    m.put("tlsDownBytes", tlsDown);
    m.put("tlsBytesPerDay", Math.round((tlsUp + tlsDown) * perDay));
    Map<String, Double> metrics1 = metrics();
    Map<String, Object> counted = new TreeMap<>();
    for (Map.Entry<String, Double> e : metrics1.entrySet()) {
      double before = metrics0.getOrDefault(e.getKey(), 0.0);
      if (e.getValue() - before > 0) {
        counted.put(e.getKey(), e.getValue() - before);
      }
    }
    m.put("controllerCountersInWindow", counted);
    m.put("loadavgAtEnd", loadavg());
    m.put("agentLines", agentOut.since(t0, t0));
    result.put("idle", m);
    say(
        String.format(
            Locale.ROOT,
            "idle: %d B up + %d B down on the veth in %.0f s = %.2f MB per day (TLS payload %.2f"
                + " MB per day)",
            up,
            down,
            seconds,
            (up + down) * perDay / 1e6,
            (tlsUp + tlsDown) * perDay / 1e6));
  }

  // ------------------------------------------------------------------------------------ cuts

  private void longCut() throws Exception {
    say("cut: the link goes down for " + cutSeconds + " s; a small-app commit is made during it");
    Thread.sleep(5_000);
    DeviceWatch watch = new DeviceWatch();
    watch.start();
    long cutAt = System.nanoTime();
    cut();
    long lead = Math.max(5, cutSeconds / 4);
    Thread.sleep(lead * 1_000);
    Map<String, Object> m =
        commitAndWait(
            SMALL,
            "during the cut",
            this::changeSmall,
            (r, commitNanos, tx0) -> {
              long restoreAt = cutAt + Duration.ofSeconds(cutSeconds).toNanos();
              while (System.nanoTime() < restoreAt) {
                Thread.sleep(
                    Math.max(1, Math.min(1_000, (restoreAt - System.nanoTime()) / 1_000_000)));
              }
              restore();
              long restored = System.nanoTime();
              r.put("cutSeconds", cutSeconds);
              r.put("commitAfterCutStartMs", ms(commitNanos - cutAt));
              r.put("restoredAfterCommitMs", ms(restored - commitNanos));
              say("  link restored after " + cutSeconds + " s; waiting for READY");
              return restored;
            });
    watch.stop();
    m.put("deviceStatusAtController", watch.transitions(cutAt));
    m.put("proxyConnectionsAroundTheCut", connectionsAround(cutAt));
    m.put("agentLines", agentOut.since(cutAt, cutAt));
    result.put("cut", m);
    say("cut: READY " + fmtS(m.get("readyMs")) + " s after the link returned");
  }

  private void midTransferCut() throws Exception {
    Map<String, Object> apps = castMap(result.get("apps"));
    Map<String, Object> large = castMap(apps.get(LARGE));
    long expected =
        ((Number) large.getOrDefault("bundleGzipBytes", large.get("yamlGzipBytes"))).longValue();
    long threshold = expected * 2 / 5;
    say(
        "mid-transfer cut: a large-app commit; the link is black-holed once "
            + threshold
            + " B went down the veth, for "
            + stallSeconds
            + " s");
    Thread.sleep(5_000);
    DeviceWatch watch = new DeviceWatch();
    watch.start();
    long[] cutAt = {-1};
    Map<String, Object> m =
        commitAndWait(
            LARGE,
            "mid-transfer",
            this::changeLarge,
            (r, commitNanos, tx0) -> {
              long limit = commitNanos + Duration.ofSeconds(120).toNanos();
              while (veth("tx_bytes") - tx0 < threshold && System.nanoTime() < limit) {
                Thread.sleep(10);
              }
              cut();
              cutAt[0] = System.nanoTime();
              long sent = veth("tx_bytes") - tx0;
              r.put("thresholdBytes", threshold);
              r.put("cutAfterWireDownBytes", sent);
              r.put("cutAfterCommitMs", ms(cutAt[0] - commitNanos));
              say(
                  String.format(
                      Locale.ROOT,
                      "  black-holed %.1f s after the commit, %d B down the veth so far",
                      ms(cutAt[0] - commitNanos) / 1000,
                      sent));
              Thread.sleep(stallSeconds * 1_000L);
              restore();
              long restored = System.nanoTime();
              r.put("stallSeconds", stallSeconds);
              say("  link restored after " + stallSeconds + " s; waiting for READY");
              return restored;
            });
    watch.stop();
    m.put("deviceStatusAtController", watch.transitions(cutAt[0]));
    m.put("proxyConnectionsAroundTheCut", connectionsAround(cutAt[0]));
    result.put("midTransferCut", m);
    say("mid-transfer cut: READY " + fmtS(m.get("readyMs")) + " s after the link returned");
  }

  /**
   * The proxy's connections open at the cut or opened since (a connection appears there only once
   * its TCP handshake crossed the link), with times relative to the cut.
   */
  private List<Map<String, Object>> connectionsAround(long cutAt) {
    List<Map<String, Object>> conns = new ArrayList<>();
    for (DelayProxy.Connection c : proxy.connections()) {
      if (c.closedNanos() < 0 || c.closedNanos() > cutAt - Duration.ofSeconds(30).toNanos()) {
        Map<String, Object> cm = new LinkedHashMap<>();
        cm.put("id", c.id());
        cm.put("openedMsRelativeToCut", ms(c.openedNanos() - cutAt));
        cm.put("closedMsRelativeToCut", c.open() ? null : ms(c.closedNanos() - cutAt));
        cm.put("tlsUpBytes", c.up());
        cm.put("tlsDownBytes", c.down());
        conns.add(cm);
      }
    }
    return conns;
  }

  private void cut() throws IOException, InterruptedException {
    // Black hole both ways: uplink dropped where it reaches the host, downlink where it reaches
    // the device; nothing is closed, nothing answers.
    exec(List.of("iptables", "-w", "-I", chain, "1", "-j", "DROP"));
    exec(List.of("ip", "netns", "exec", ns, "iptables", "-w", "-I", chain, "1", "-j", "DROP"));
  }

  private void restore() throws IOException, InterruptedException {
    exec(List.of("iptables", "-w", "-D", chain, "-j", "DROP"));
    exec(List.of("ip", "netns", "exec", ns, "iptables", "-w", "-D", chain, "-j", "DROP"));
  }

  /** The device's status at the controller, polled every second while a cut scenario runs. */
  private final class DeviceWatch {
    private final List<long[]> at = new CopyOnWriteArrayList<>();
    private final List<String> status = new CopyOnWriteArrayList<>();
    private volatile boolean running = true;
    private Thread thread;

    void start() {
      thread =
          Thread.ofPlatform()
              .daemon()
              .start(
                  () -> {
                    String last = null;
                    while (running) {
                      long tick = System.nanoTime();
                      String s;
                      try {
                        s = deviceStatus();
                      } catch (RuntimeException e) {
                        s = "?";
                      }
                      if (!s.equals(last)) {
                        at.add(new long[] {tick});
                        status.add(s);
                        last = s;
                      }
                      try {
                        pace(tick, Duration.ofSeconds(1));
                      } catch (InterruptedException e) {
                        return;
                      }
                    }
                  });
    }

    void stop() throws InterruptedException {
      running = false;
      thread.join();
    }

    List<Map<String, Object>> transitions(long base) {
      List<Map<String, Object>> list = new ArrayList<>();
      for (int i = 0; i < status.size(); i++) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("msAfterCut", ms(at.get(i)[0] - base));
        m.put("status", status.get(i));
        list.add(m);
      }
      return list;
    }
  }

  // ---------------------------------------------------------------------------------- report

  private void report() {
    Map<String, Object> e = castMap(result.get("enrollment"));
    Map<String, Object> small = castMap(castMap(result.get("small")).get("readyMs"));
    Map<String, Object> large = castMap(castMap(result.get("large")).get("readyMs"));
    Map<String, Object> idle = castMap(result.get("idle"));
    Map<String, Object> cut = castMap(result.get("cut"));
    Map<String, Object> mid = castMap(result.get("midTransferCut"));
    double idleMb = ((Number) idle.get("wireBytesPerDay")).doubleValue() / 1e6;
    double tlsMb = ((Number) idle.get("tlsBytesPerDay")).doubleValue() / 1e6;
    PrintWriter p = new PrintWriter(System.out, true);
    p.println();
    p.printf(
        Locale.ROOT,
        "Bad link (%s): 250 kbit/s, 5 %% loss, +%d ms each way%n",
        quick ? "quick" : "full",
        delayMs);
    p.println("| figure | value | goal | |");
    p.println("|---|---|---|---|");
    p.printf(
        Locale.ROOT,
        "| enrollment: agent start -> enrolled / connected / ONLINE | %s / %s / %s s | | |%n",
        fmtS(e.get("enrolledMs")),
        fmtS(e.get("connectedMs")),
        fmtS(e.get("onlineAtControllerMs")));
    p.printf(
        Locale.ROOT,
        "| small app commit -> READY, p50 / max (%s) | %s / %s s | p50 <= %.0f s | %s |%n",
        small.get("n"),
        fmtS(small.get("p50")),
        fmtS(small.get("max")),
        GOAL_SMALL_P50_S,
        met(small.get("p50"), GOAL_SMALL_P50_S * 1000));
    p.printf(
        Locale.ROOT,
        "| large app (%s B bundle) commit -> READY, p50 / max (%s) | %s / %s s | <= %.0f s | %s |%n",
        castMap(castMap(result.get("apps")).get(LARGE)).get("bundleBytes"),
        large.get("n"),
        fmtS(large.get("p50")),
        fmtS(large.get("max")),
        GOAL_LARGE_S,
        met(large.get("max"), GOAL_LARGE_S * 1000));
    p.printf(
        Locale.ROOT,
        "| idle, on the veth (TLS payload) | %.2f (%.2f) MB/day | <= %.1f MB/day | %s |%n",
        idleMb,
        tlsMb,
        GOAL_IDLE_MB_PER_DAY,
        idleMb <= GOAL_IDLE_MB_PER_DAY ? "met" : "NOT met");
    p.printf(
        Locale.ROOT,
        "| %d s cut, commit during it: restore -> READY | %s s | <= %.0f s | %s |%n",
        cutSeconds,
        fmtS(cut.get("readyMs")),
        GOAL_AFTER_RESTORE_S,
        met(cut.get("readyMs"), GOAL_AFTER_RESTORE_S * 1000));
    p.printf(
        Locale.ROOT,
        "| large transfer black-holed at %s B for %d s: restore -> READY | %s s | <= %.0f s | %s |%n",
        mid.get("cutAfterWireDownBytes"),
        stallSeconds,
        fmtS(mid.get("readyMs")),
        GOAL_AFTER_RESTORE_S,
        met(mid.get("readyMs"), GOAL_AFTER_RESTORE_S * 1000));
  }

  private static String met(Object ms, double goalMs) {
    if (ms == null) {
      return "NOT met (never READY)";
    }
    return ((Number) ms).doubleValue() <= goalMs ? "met" : "NOT met";
  }

  // --------------------------------------------------------------------------------- helpers

  private JsonNode source() {
    return admin.get("/api/v1/repos/" + SOURCE).body();
  }

  private String deviceStatus() {
    AdminClient.Answer a = admin.get("/api/v1/devices/" + deviceId);
    return a.status() == 200 ? a.body().path("status").asText() : "HTTP " + a.status();
  }

  private JsonNode deviceAppStatus(String app) {
    for (JsonNode d : admin.get("/api/v1/apps/" + app + "/status").body().path("devices")) {
      if (deviceId.equals(d.path("deviceId").asText())) {
        return d;
      }
    }
    return null;
  }

  private boolean ready(String app, String sha) {
    JsonNode d = deviceAppStatus(app);
    return d != null
        && sha.equals(d.path("desiredCommit").asText())
        && d.path("desiredRevision").asText().equals(d.path("runningRevision").asText())
        && d.path("state").asText().equals("READY");
  }

  private Map<String, Double> metrics() {
    String text = admin.raw("GET", "/metrics", null, adminToken(), null).body().asText();
    Map<String, Double> m = new TreeMap<>();
    for (String line : text.split("\n")) {
      if (line.startsWith("edgefleet_websocket_messages_total")
          || (line.startsWith("edgefleet_http_requests_total") && line.contains("/device/v1"))) {
        int sp = line.lastIndexOf(' ');
        m.put(line.substring(0, sp), Double.parseDouble(line.substring(sp + 1)));
      }
    }
    return m;
  }

  private String adminToken() {
    try {
      return Files.readString(work.resolve("controller/admin-token")).trim();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
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
    Mac mac;
    try {
      mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(webhookSecret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
    String signature = "sha256=" + HexFormat.of().formatHex(mac.doFinal(body));
    return hookClient.send(
        HttpRequest.newBuilder(
                URI.create("https://127.0.0.1:" + controllerPort + "/api/v1/hooks/git/" + SOURCE))
            .timeout(Duration.ofSeconds(30))
            .header("Content-Type", "application/json")
            .header("X-GitHub-Event", "push")
            .header("X-Hub-Signature-256", signature)
            .POST(HttpRequest.BodyPublishers.ofByteArray(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private long veth(String counter) {
    try {
      return Long.parseLong(
          Files.readString(Path.of("/sys/class/net", hostVeth, "statistics", counter)).trim());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private Process start(String name, List<String> cmd, Lines lines) throws IOException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    processes.add(p);
    Files.writeString(work.resolve("pids").resolve(name + ".pid"), Long.toString(p.pid()));
    lines.follow(p);
    return p;
  }

  private synchronized void stopProcesses() {
    for (Process p : List.copyOf(processes).reversed()) {
      p.destroy();
    }
    for (Process p : List.copyOf(processes)) {
      try {
        if (!p.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
      }
    }
    processes.clear();
    if (proxy != null) {
      proxy.close();
    }
  }

  private static void exec(List<String> cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException(String.join(" ", cmd) + " failed: " + output);
    }
  }

  private static Map<String, Object> summary(List<Map<String, Object>> rounds, String key) {
    List<Double> values = new ArrayList<>();
    int missing = 0;
    for (Map<String, Object> r : rounds) {
      Object v = r.get(key);
      if (v == null) {
        missing++;
      } else {
        values.add(((Number) v).doubleValue());
      }
    }
    values.sort(Double::compare);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("n", rounds.size());
    m.put("missing", missing);
    m.put("p50", values.isEmpty() ? null : values.get((int) Math.ceil(values.size() * 0.5) - 1));
    m.put("max", missing > 0 || values.isEmpty() ? null : values.getLast());
    m.put("min", values.isEmpty() ? null : values.getFirst());
    m.put("sorted", values);
    return m;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> castMap(Object o) {
    return o == null ? Map.of() : (Map<String, Object>) o;
  }

  private static byte[] gzip(byte[] b) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream z = new GZIPOutputStream(out)) {
      z.write(b);
    }
    return out.toByteArray();
  }

  private static Map<String, Object> machine() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("cpus", Runtime.getRuntime().availableProcessors());
    try {
      m.put("kernel", Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim());
      m.put("loadavgAtStart", Files.readString(Path.of("/proc/loadavg")).trim());
    } catch (IOException e) {
      // Not Linux enough; leave it out.
    }
    return m;
  }

  /** The 1, 5 and 15 minute load averages: the machine is shared with other work. */
  private static String loadavg() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split(" ");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException e) {
      return null;
    }
  }

  private static void pace(long tick, Duration every) throws InterruptedException {
    long left = every.toNanos() - (System.nanoTime() - tick);
    if (left > 0) {
      Thread.sleep(Duration.ofNanos(left));
    }
  }

  private static void waitFor(String what, Duration limit, BooleanSupplier check)
      throws InterruptedException {
    long end = System.nanoTime() + limit.toNanos();
    while (System.nanoTime() < end) {
      if (check.getAsBoolean()) {
        return;
      }
      Thread.sleep(100);
    }
    if (!check.getAsBoolean()) {
      throw new IllegalStateException("gave up waiting for " + what + " after " + limit);
    }
  }

  private static JsonNode checked(AdminClient.Answer a) {
    if (a.status() / 100 != 2) {
      throw new IllegalStateException("the admin API answered " + a.status() + ": " + a.body());
    }
    return a.body();
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private static double ms(long nanos) {
    return round1(nanos / 1e6);
  }

  private static double round1(double v) {
    return Math.round(v * 10) / 10.0;
  }

  private static double sec(Object ms) {
    return ms == null ? Double.NaN : ((Number) ms).doubleValue() / 1000;
  }

  private static String fmtS(Object ms) {
    return ms == null
        ? "-"
        : String.format(Locale.ROOT, "%.1f", ((Number) ms).doubleValue() / 1000);
  }

  private static void say(String s) {
    System.out.println("[badlink " + LocalTime.now().format(CLOCK) + "] " + s);
    System.out.flush();
  }

  /** A process's output lines, each with the time it was read, also written to a file. */
  private final class Lines {
    record Line(long nanos, String text) {}

    final Path file;
    final List<Line> lines = new CopyOnWriteArrayList<>();

    Lines(Path file) {
      this.file = file;
    }

    void follow(Process p) {
      Thread.ofPlatform()
          .daemon()
          .start(
              () -> {
                try (BufferedReader r =
                        new BufferedReader(
                            new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
                    var w = Files.newBufferedWriter(file)) {
                  String line;
                  while ((line = r.readLine()) != null) {
                    long now = System.nanoTime();
                    lines.add(new Line(now, line));
                    w.write(
                        Instant.ofEpochMilli(baseEpochMs + (now - baseNanos) / 1_000_000)
                            + " "
                            + line
                            + "\n");
                    w.flush();
                  }
                } catch (IOException e) {
                  // The process ended.
                }
              });
    }

    int find(String part, int from) {
      for (int i = from; i < lines.size(); i++) {
        if (lines.get(i).text().contains(part)) {
          return i;
        }
      }
      return -1;
    }

    /** The first line containing {@code part} read after {@code nanos}, or -1. */
    int findAfter(String part, long nanos) {
      for (int i = 0; i < lines.size(); i++) {
        if (lines.get(i).nanos() >= nanos && lines.get(i).text().contains(part)) {
          return i;
        }
      }
      return -1;
    }

    Line line(int i) {
      return lines.get(i);
    }

    /** Lines read after {@code nanos}, with their offset from {@code base} in ms. */
    List<Map<String, Object>> since(long nanos, long base) {
      List<Map<String, Object>> list = new ArrayList<>();
      for (Line l : lines) {
        if (l.nanos() >= nanos) {
          Map<String, Object> m = new LinkedHashMap<>();
          m.put("ms", ms(l.nanos() - base));
          m.put("line", l.text());
          list.add(m);
        }
      }
      return list;
    }

    /**
     * When the site helper saw the inventory of {@code app} complete at {@code revision} (the apply
     * finished), as {@link System#nanoTime()}; null if never.
     */
    Long inventoryNanos(String app, String revision) {
      String prefix = "inventory " + app + " " + revision + " complete ";
      for (Line l : lines) {
        if (l.text().startsWith(prefix)) {
          return nanosOf(l.text());
        }
      }
      return null;
    }

    /**
     * When an apply of {@code app} started after {@code after}: its inventory was rewritten
     * incomplete (naming old and new objects, still with the old revision) before anything else.
     */
    Long applyStartNanos(String app, long after) {
      String prefix = "inventory " + app + " ";
      for (Line l : lines) {
        if (l.text().startsWith(prefix) && l.text().contains(" incomplete ")) {
          long at = nanosOf(l.text());
          if (at >= after) {
            return at;
          }
        }
      }
      return null;
    }

    private long nanosOf(String line) {
      long epoch = Long.parseLong(line.substring(line.lastIndexOf(' ') + 1));
      return baseNanos + (epoch - baseEpochMs) * 1_000_000;
    }
  }
}
