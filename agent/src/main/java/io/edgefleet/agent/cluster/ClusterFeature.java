package io.edgefleet.agent.cluster;

import com.fasterxml.jackson.core.type.TypeReference;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentFeature;
import io.edgefleet.agent.ControllerAccess;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ClusterSpec;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceSecret;
import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.json.JsonCodec;
import io.edgefleet.protocol.tls.DeviceKeyAgreement;
import io.edgefleet.protocol.tls.SealedBox;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Makes this device the K3s node its desired state's {@link ClusterSpec} says: fetches the K3s
 * binary (a content-addressed artifact, verified before use) and the cluster's join token (sealed
 * to this device), writes K3s's {@code config.yaml}, starts {@code k3s server|agent --config} and
 * supervises it; restarts it when the binary, the configuration or the token changes; stops it and
 * removes its data directory when the section goes away or the role changes. Servers carry out the
 * {@link ClusterSpec#removals} they are given. Reports {@link AgentMessage.ClusterNode} after each
 * (re)connect, on every change, and every {@link Options#reportEvery}.
 *
 * <p>All work runs on the feature's own thread: neither the connection nor the reconcile loop ever
 * waits for K3s, a download or the cluster's API. Thread-safe.
 */
public final class ClusterFeature implements AgentFeature {

  /**
   * Where K3s lives on this device.
   *
   * @param stateDir the agent's state directory (artifacts, the K3s configuration, the marker of
   *     the node the agent runs)
   * @param dataDir K3s's {@code data-dir}; removed when the device leaves its cluster
   * @param kubeconfig where K3s servers write the admin kubeconfig ({@code write-kubeconfig})
   * @param nodeIp the address to advertise; empty: the local address of the controller connection
   * @param reportEvery the longest time between two reports while a section exists
   * @param policy how K3s is restarted when it exits
   * @param lookEvery how often the node looks at K3s, its API server and etcd while a section
   *     exists; what changed (a member joined or left, a node became ready) is reported at once, so
   *     that the controller can take the next membership step without waiting for the period
   */
  public record Options(
      Path stateDir,
      Path dataDir,
      Path kubeconfig,
      Optional<String> nodeIp,
      Duration reportEvery,
      Supervisor.Policy policy,
      Duration lookEvery) {
    /** Looks every {@link #DEFAULT_LOOK_EVERY} (or every {@code reportEvery} if shorter). */
    public Options(
        Path stateDir,
        Path dataDir,
        Path kubeconfig,
        Optional<String> nodeIp,
        Duration reportEvery,
        Supervisor.Policy policy) {
      this(stateDir, dataDir, kubeconfig, nodeIp, reportEvery, policy, DEFAULT_LOOK_EVERY);
    }

    public Options(
        Path stateDir,
        Path dataDir,
        Path kubeconfig,
        Optional<String> nodeIp,
        Duration reportEvery) {
      this(stateDir, dataDir, kubeconfig, nodeIp, reportEvery, Supervisor.Policy.defaults());
    }

    public Options {
      if (reportEvery.isNegative()
          || reportEvery.isZero()
          || lookEvery.isNegative()
          || lookEvery.isZero()) {
        throw new IllegalArgumentException("the report and look periods must be positive");
      }
    }
  }

  /** How often a member looks at its node unless told otherwise. */
  public static final Duration DEFAULT_LOOK_EVERY = Duration.ofSeconds(3);

  /** Where the feature's events go. */
  @FunctionalInterface
  public interface Sink {
    void event(String kind, String severity, String message);
  }

  /** The node the agent set up, remembered across restarts: what a teardown may remove. */
  record Marker(String cluster, String role, String dataDir, boolean joined) {}

  private static final TypeReference<Map<String, String>> VALUES = new TypeReference<>() {};
  private static final Duration RETRY = Duration.ofSeconds(10);
  private static final Duration AGENT_SETTLE = Duration.ofSeconds(3);

  private final Options options;
  private final ControllerAccess controller;
  private final Supplier<String> deviceId;
  private final Supplier<DeviceKeyAgreement> keys;
  private final ScheduledExecutorService timer;
  private final Clock clock;
  private final PrintStream out;
  private final Sink sink;
  private final ExecutorService worker;
  private final Artifacts artifacts;
  private final Supervisor supervisor;
  private final NodeProbe probe;
  private final Path dir;
  private final Map<String, String> versions = new ConcurrentHashMap<>();

  /** The section of the document in effect (its spec null if none); null: no document yet. */
  private volatile Wanted wanted;

  // Guarded by this.
  private Channel channel;
  private AgentMessage.ClusterNode last;
  private AgentMessage.ClusterNode sent;
  private Instant sentAt;
  private boolean queued;
  private boolean closed;
  private ScheduledFuture<?> periodic;
  private ScheduledFuture<?> retry;

  // Worker only.
  private boolean strayChecked;
  private Marker marker;
  private String token;
  private long tokenVersion = -1;
  private String tokenCluster;
  private String restartKey;
  private String writtenConfig;
  private String joinedThrough;
  private String restartJoinedKey;
  private String problem;
  private boolean downloading;

  /** The version of the binary K3s was last started from; null when none is supervised. */
  private String runningVersion;

  private String nodeIp;
  private List<String> removalErrors = List.of();

  private record Wanted(ClusterSpec spec, long generation) {}

  public ClusterFeature(
      Options options,
      ControllerAccess controller,
      Supplier<String> deviceId,
      Supplier<DeviceKeyAgreement> keys,
      ScheduledExecutorService timer,
      Clock clock,
      PrintStream out,
      Sink sink) {
    this.options = options;
    this.controller = controller;
    this.deviceId = deviceId;
    this.keys = keys;
    this.timer = timer;
    this.clock = clock;
    this.out = out;
    this.sink = sink;
    this.dir = options.stateDir().resolve("cluster");
    this.worker =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "cluster");
              t.setDaemon(true);
              return t;
            });
    this.artifacts = new Artifacts(options.stateDir(), controller::download);
    this.supervisor = new Supervisor(timer, options.policy(), clock, () -> request());
    this.probe = new NodeProbe(options.kubeconfig(), options.dataDir(), Duration.ofSeconds(5));
  }

  /** The K3s configuration file the agent writes. */
  public Path configFile() {
    return dir.resolve("config.yaml");
  }

  /** The last report built (null before the first). */
  public synchronized AgentMessage.ClusterNode status() {
    return last;
  }

  /** The feature for {@code agent}, started when the agent applies its first desired state. */
  public static ClusterFeature forAgent(
      Agent agent, Options options, ScheduledExecutorService timer, Clock clock, PrintStream out) {
    return new ClusterFeature(
        options,
        agent.controllerAccess(),
        () -> agent.status().deviceId().orElse(null),
        () -> agent.keyAgreement().orElse(null),
        timer,
        clock,
        out,
        (kind, severity, message) -> agent.event(kind, severity, null, message));
  }

  @Override
  public void applied(DesiredState state) {
    want(state);
  }

  /** A verified desired state is in effect: its cluster section (or its absence) is acted on. */
  public void want(DesiredState state) {
    wanted = new Wanted(state.cluster(), state.generation());
    synchronized (this) {
      if (periodic == null && !closed) {
        // A pass looks at the node; report() sends only what changed, or when the period is due.
        long every = Math.min(options.reportEvery().toMillis(), options.lookEvery().toMillis());
        periodic =
            timer.scheduleWithFixedDelay(() -> request(), every, every, TimeUnit.MILLISECONDS);
      }
    }
    request();
  }

  /** Asks for a pass soon; requests while one is queued are one pass. Returns at once. */
  public void request() {
    synchronized (this) {
      if (closed || queued) {
        return;
      }
      queued = true;
    }
    try {
      worker.execute(
          () -> {
            synchronized (this) {
              queued = false;
            }
            try {
              pass();
            } catch (RuntimeException e) {
              out.println("cluster: unexpected error: " + e);
              e.printStackTrace(out);
              Wanted w = wanted;
              if (w != null && w.spec() != null) {
                problem = "unexpected error: " + e;
                report(build(w));
              }
              scheduleRetry();
            }
          });
    } catch (RejectedExecutionException e) {
      synchronized (this) {
        queued = false;
      }
    }
  }

  // ------------------------------------------------------------------ the pass

  private void pass() {
    Wanted w = wanted;
    if (w == null) {
      return;
    }
    if (marker == null) {
      marker = readMarker().orElse(null);
    }
    if (!strayChecked) {
      strayChecked = true;
      stopStray();
    }
    ClusterSpec spec = w.spec();
    if (spec == null) {
      if (marker != null) {
        teardown("the device is no member of cluster " + marker.cluster() + " any more");
        report(stopped(w));
      } else if (supervisor.active()) {
        supervisor.stop();
        runningVersion = null;
      }
      return;
    }
    if (marker != null
        && (!marker.cluster().equals(spec.name()) || !marker.role().equals(spec.role()))) {
      teardown(
          "the device moves from "
              + marker.role()
              + " of "
              + marker.cluster()
              + " to "
              + spec.role()
              + " of "
              + spec.name());
    }
    // Every report of this pass describes w, the section acted on: a newer document that arrives
    // meanwhile is acted on (and reported) by the next pass, never claimed before K3s restarted.
    if (!prepareAndStart(w)) {
      report(build(w));
      scheduleRetry();
      return;
    }
    AgentMessage.ClusterNode r = build(w);
    if (AgentMessage.ClusterNode.PHASE_RUNNING.equals(r.phase())
        && ClusterSpec.ROLE_SERVER.equals(spec.role())
        && !spec.removals().isEmpty()) {
      removalErrors = Removals.apply(probe, spec.nodeName(), spec.removals());
      r = build(w);
    } else if (spec.removals().isEmpty()) {
      removalErrors = List.of();
    }
    report(r);
  }

  /** Fetches what is missing, writes the configuration, (re)starts K3s; false on a problem. */
  private boolean prepareAndStart(Wanted w) {
    ClusterSpec spec = w.spec();
    problem = null;
    Path bin;
    try {
      downloading = !artifacts.present(spec.k3s());
      if (downloading) {
        report(build(w));
      }
      bin = artifacts.ensure(spec.k3s());
      artifacts.keepOnly(Set.of(spec.k3s().digest()));
    } catch (IOException e) {
      problem =
          "the K3s binary " + spec.kubernetesVersion() + " could not be fetched: " + e.getMessage();
      return false;
    } finally {
      downloading = false;
    }
    if (token == null || tokenVersion != spec.tokenVersion() || !spec.name().equals(tokenCluster)) {
      try {
        token = fetchToken(spec);
        tokenVersion = spec.tokenVersion();
        tokenCluster = spec.name();
      } catch (IOException e) {
        problem =
            "the join token of cluster " + spec.name() + " could not be fetched: " + e.getMessage();
        return false;
      }
    }
    try {
      nodeIp = options.nodeIp().isPresent() ? options.nodeIp().get() : controller.localAddress();
    } catch (IOException e) {
      problem = "this device's address could not be found (use --node-ip): " + e.getMessage();
      return false;
    }
    Map<String, Object> values;
    try {
      values =
          K3sConfig.values(joinable(spec), token, options.dataDir(), nodeIp, options.kubeconfig());
    } catch (IllegalArgumentException e) {
      problem = e.getMessage();
      return false;
    }
    Map<String, Object> keyed = new LinkedHashMap<>(values);
    // A node that has joined keeps its cluster: where it joined through no longer matters.
    keyed.remove("server");
    keyed.remove("cluster-init");
    if (values.get("server") instanceof String url) {
      joinedThrough = url;
    }
    String full = bin + "\n" + K3sConfig.yaml(values);
    String joinedKey = bin + "\n" + K3sConfig.yaml(keyed);
    try {
      SecureFiles.createPrivateDirectories(dir);
      String yaml = K3sConfig.yaml(values);
      if (!yaml.equals(writtenConfig) || !Files.exists(configFile())) {
        SecureFiles.writeSecret(configFile(), yaml);
        writtenConfig = yaml;
      }
      if (marker == null) {
        marker = new Marker(spec.name(), spec.role(), options.dataDir().toString(), false);
        writeMarker(marker);
      }
    } catch (IOException | RuntimeException e) {
      problem = "the K3s configuration could not be written: " + e.getMessage();
      return false;
    }
    boolean joined = marker != null && marker.joined();
    boolean same = joined ? joinedKey.equals(restartJoinedKey) : full.equals(restartKey);
    if (!same || !supervisor.active()) {
      boolean restart = supervisor.active();
      restartKey = full;
      restartJoinedKey = joinedKey;
      probe.reset();
      runningVersion = version(spec, bin);
      supervisor.start(
          List.of(bin.toString(), spec.role(), "--config", configFile().toString()),
          dir.resolve("k3s.log"));
      String what =
          (restart ? "restarted" : "started")
              + " K3s "
              + runningVersion
              + " as "
              + spec.role()
              + " of cluster "
              + spec.name()
              + " (node "
              + spec.nodeName()
              + ", "
              + nodeIp
              + ")";
      out.println(what);
      sink.event("cluster-node-started", "info", what);
      long pid = supervisor.pid();
      if (pid > 0) {
        try {
          SecureFiles.writeSecret(dir.resolve("k3s.pid"), Long.toString(pid));
        } catch (RuntimeException e) {
          out.println("cluster: cannot record the K3s process id: " + e.getMessage());
        }
      }
    }
    return true;
  }

  /**
   * The section, or for a node that has joined its cluster and whose section lists no running
   * server right now (they may all be briefly busy, e.g. while etcd elects a new leader after a
   * member died), the section with the server it joined through: a joined node keeps running
   * instead of failing, which would in turn keep every server from being listed as running.
   */
  private ClusterSpec joinable(ClusterSpec spec) {
    if (spec.init()
        || !spec.servers().isEmpty()
        || joinedThrough == null
        || marker == null
        || !marker.joined()
        || !marker.cluster().equals(spec.name())
        || !marker.role().equals(spec.role())) {
      return spec;
    }
    return new ClusterSpec(
        spec.name(),
        spec.role(),
        spec.init(),
        List.of(joinedThrough),
        spec.tokenVersion(),
        spec.nodeName(),
        spec.nodeLabels(),
        spec.nodeTaints(),
        spec.kubernetesVersion(),
        spec.k3s(),
        spec.config(),
        spec.removals());
  }

  private String fetchToken(ClusterSpec spec) throws IOException {
    DeviceSecret sealed = controller.token(spec.name(), spec.tokenVersion());
    if (sealed == null || sealed.version() != spec.tokenVersion() || sealed.sealed() == null) {
      throw new IOException("the controller answered with another token version");
    }
    DeviceKeyAgreement k = keys.get();
    if (k == null) {
      throw new IOException("the device has no key yet");
    }
    byte[] plain = null;
    try {
      plain =
          SealedBox.open(
              k,
              Base64.getDecoder().decode(sealed.sealed()),
              SealedBox.secretAad(deviceId.get(), sealed.name(), sealed.version()));
      Map<String, String> m = JsonCodec.read(plain, VALUES);
      String t = m.get("token");
      if (t == null) {
        throw new IOException("the sealed token holds no key 'token'");
      }
      String value = new String(Base64.getDecoder().decode(t), StandardCharsets.UTF_8);
      if (value.isBlank() || value.length() > 1024 || value.contains("\n")) {
        throw new IOException("the token is not a single line of text");
      }
      return value;
    } catch (java.security.GeneralSecurityException e) {
      throw new IOException(
          "it could not be opened with this device's key (" + e.getMessage() + ")");
    } catch (IllegalArgumentException | com.fasterxml.jackson.core.JacksonException e) {
      throw new IOException("it arrived malformed");
    } finally {
      if (plain != null) {
        Arrays.fill(plain, (byte) 0);
      }
    }
  }

  /** The version the binary says it is ({@code k3s --version}), else the section's. */
  private String version(ClusterSpec spec, Path bin) {
    return versions.computeIfAbsent(
        spec.k3s().digest(),
        d -> {
          try {
            Process p =
                new ProcessBuilder(bin.toString(), "--version").redirectErrorStream(true).start();
            byte[] text = p.getInputStream().readNBytes(4096);
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
              p.destroyForcibly();
            }
            String first = new String(text, StandardCharsets.UTF_8).lines().findFirst().orElse("");
            String[] words = first.trim().split("\\s+");
            if (words.length >= 3 && words[0].equals("k3s") && words[1].equals("version")) {
              return words[2];
            }
          } catch (IOException e) {
            // Reported as the section's version.
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return spec.kubernetesVersion();
        });
  }

  private void scheduleRetry() {
    synchronized (this) {
      if (closed || (retry != null && !retry.isDone())) {
        return;
      }
      retry = timer.schedule(() -> request(), RETRY.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  // ------------------------------------------------------------------ teardown

  /** Stops K3s and removes what the agent created for it: its data directory and configuration. */
  private void teardown(String why) {
    supervisor.stop();
    runningVersion = null;
    joinedThrough = null;
    Marker m = marker;
    String wipeError = null;
    if (m != null) {
      Path data = Path.of(m.dataDir());
      try {
        wipe(data);
      } catch (IOException | IllegalStateException e) {
        wipeError = e.getMessage();
      }
    }
    try {
      Files.deleteIfExists(configFile());
      if (m != null && ClusterSpec.ROLE_SERVER.equals(m.role())) {
        Files.deleteIfExists(options.kubeconfig());
      }
      Files.deleteIfExists(dir.resolve("node.json"));
      artifacts.keepOnly(Set.of());
    } catch (IOException e) {
      wipeError = wipeError == null ? e.getMessage() : wipeError;
    }
    marker = null;
    token = null;
    tokenVersion = -1;
    restartKey = null;
    restartJoinedKey = null;
    removalErrors = List.of();
    String what = "stopped K3s and removed its data: " + why;
    out.println(what + (wipeError == null ? "" : " (" + wipeError + ")"));
    sink.event(
        "cluster-node-stopped",
        wipeError == null ? "info" : "error",
        what + (wipeError == null ? "" : "; removing the data failed: " + wipeError));
  }

  /**
   * Removes K3s's data directory, refusing anything that is not plainly one: a relative path, a
   * top-level directory, or one holding the agent's own state. Symbolic links are removed, never
   * followed.
   */
  void wipe(Path data) throws IOException {
    Path d = data.toAbsolutePath().normalize();
    Path state = options.stateDir().toAbsolutePath().normalize();
    if (!data.isAbsolute() || d.getNameCount() < 2 || state.startsWith(d)) {
      throw new IllegalStateException("refused to remove " + data + ": not a K3s data directory");
    }
    io.edgefleet.protocol.SecureFiles.deleteTree(d);
  }

  /**
   * Stops a K3s an earlier agent process started and left running (it was killed): the process in
   * the pid file, if it still runs with this agent's K3s configuration.
   */
  private void stopStray() {
    Path f = dir.resolve("k3s.pid");
    try {
      if (!Files.exists(f)) {
        return;
      }
      long pid = Long.parseLong(Files.readString(f).trim());
      Files.delete(f);
      Optional<ProcessHandle> h = ProcessHandle.of(pid);
      if (h.isEmpty() || !h.get().isAlive()) {
        return;
      }
      boolean ours =
          h.get()
              .info()
              .arguments()
              .map(a -> Arrays.asList(a).contains(configFile().toString()))
              .orElse(false);
      if (!ours) {
        return;
      }
      List<ProcessHandle> children = h.get().descendants().toList();
      h.get().destroy();
      try {
        h.get().onExit().get(15, TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
        h.get().destroyForcibly();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      children.forEach(ProcessHandle::destroyForcibly);
      out.println("cluster: stopped the K3s (pid " + pid + ") an earlier agent left running");
    } catch (IOException | NumberFormatException e) {
      out.println("cluster: ignoring " + f + ": " + e.getMessage());
    }
  }

  private Optional<Marker> readMarker() {
    Path f = dir.resolve("node.json");
    try {
      return Files.exists(f)
          ? Optional.of(JsonCodec.read(Files.readAllBytes(f), Marker.class))
          : Optional.empty();
    } catch (IOException e) {
      out.println("cluster: ignoring the unreadable " + f + ": " + e.getMessage());
      return Optional.empty();
    }
  }

  private void writeMarker(Marker m) throws IOException {
    SecureFiles.createPrivateDirectories(dir);
    SecureFiles.writeSecret(dir.resolve("node.json"), JsonCodec.write(m));
  }

  // ------------------------------------------------------------------ reports

  private AgentMessage.ClusterNode stopped(Wanted w) {
    Marker m = marker;
    return new AgentMessage.ClusterNode(
        m == null ? null : m.cluster(),
        m == null ? null : m.role(),
        AgentMessage.ClusterNode.PHASE_STOPPED,
        null,
        nodeIp,
        null,
        null,
        List.of(),
        List.of(),
        "K3s was stopped and its data removed",
        w.generation());
  }

  /**
   * The report of the node as it is now for the section {@code w} the caller acted on; asks the API
   * server and etcd on a server. Its version is the one of the binary K3s runs from (a section
   * asking for another one is not in effect until K3s restarted), else the section's.
   */
  private AgentMessage.ClusterNode build(Wanted w) {
    ClusterSpec spec = w.spec();
    Supervisor.Snapshot s = supervisor.snapshot();
    String phase;
    String message = null;
    Boolean ready = null;
    List<AgentMessage.EtcdMember> etcd = List.of();
    List<AgentMessage.KubeNode> nodes = List.of();
    if (downloading) {
      phase = AgentMessage.ClusterNode.PHASE_DOWNLOADING;
      message = "fetching K3s " + spec.kubernetesVersion();
    } else if (problem != null) {
      phase = AgentMessage.ClusterNode.PHASE_FAILED;
      message = problem;
    } else if (s.failing(supervisor.policy())) {
      phase = AgentMessage.ClusterNode.PHASE_FAILED;
      message = exits(s);
    } else if (!s.running()) {
      phase = AgentMessage.ClusterNode.PHASE_STARTING;
      message = s.lastExit() == null ? "starting K3s" : exits(s);
    } else if (ClusterSpec.ROLE_SERVER.equals(spec.role())) {
      List<String> problems = new ArrayList<>();
      try {
        Optional<Boolean> r = probe.ready(spec.nodeName());
        ready = r.orElse(false);
        phase =
            r.isPresent()
                ? AgentMessage.ClusterNode.PHASE_RUNNING
                : AgentMessage.ClusterNode.PHASE_STARTING;
        if (r.isEmpty()) {
          problems.add("the node has not registered with the API server yet");
        }
        nodes = probe.nodes();
      } catch (IOException e) {
        phase = AgentMessage.ClusterNode.PHASE_STARTING;
        problems.add(e.getMessage());
      }
      try {
        etcd = probe.members();
      } catch (IOException e) {
        problems.add(e.getMessage());
      }
      problems.addAll(removalErrors);
      message = problems.isEmpty() ? null : String.join("; ", problems);
    } else {
      boolean settled =
          s.startedAt() != null
              && Duration.between(s.startedAt(), clock.instant()).compareTo(AGENT_SETTLE) >= 0;
      phase =
          settled
              ? AgentMessage.ClusterNode.PHASE_RUNNING
              : AgentMessage.ClusterNode.PHASE_STARTING;
      if (!settled) {
        message = "K3s agent started";
        request(AGENT_SETTLE);
      }
    }
    if (AgentMessage.ClusterNode.PHASE_RUNNING.equals(phase)
        && marker != null
        && !marker.joined()) {
      marker = new Marker(marker.cluster(), marker.role(), marker.dataDir(), true);
      try {
        writeMarker(marker);
      } catch (IOException e) {
        out.println("cluster: cannot record the joined node: " + e.getMessage());
      }
    }
    return new AgentMessage.ClusterNode(
        spec.name(),
        spec.role(),
        phase,
        spec.nodeName(),
        nodeIp,
        ready,
        runningVersion != null
            ? runningVersion
            : versions.getOrDefault(spec.k3s().digest(), spec.kubernetesVersion()),
        etcd,
        nodes,
        message == null ? null : bounded(message),
        w.generation());
  }

  private void request(Duration after) {
    synchronized (this) {
      if (closed) {
        return;
      }
    }
    timer.schedule(() -> request(), after.toMillis(), TimeUnit.MILLISECONDS);
  }

  private String exits(Supervisor.Snapshot s) {
    String why = supervisor.startError();
    StringBuilder b = new StringBuilder();
    b.append("K3s exited ")
        .append(s.exitsInRow())
        .append(" time(s) in a row, last with code ")
        .append(s.lastExit());
    if (why != null) {
      b.append(" (").append(why).append(")");
    }
    List<String> tail = s.stderrTail();
    if (!tail.isEmpty()) {
      b.append("; its last output: ")
          .append(String.join(" | ", tail.subList(Math.max(0, tail.size() - 5), tail.size())));
    }
    return b.toString();
  }

  static String bounded(String s) {
    return s.length() <= 2000 ? s : s.substring(0, 2000) + "...";
  }

  /** Sends the report if it differs from the last one sent or that is older than the period. */
  private void report(AgentMessage.ClusterNode r) {
    boolean changed;
    synchronized (this) {
      changed = last == null || !same(last, r);
      last = r;
      Instant now = clock.instant();
      boolean due =
          sent == null
              || !same(sent, r)
              || sentAt == null
              || Duration.between(sentAt, now)
                      .compareTo(options.reportEvery().multipliedBy(9).dividedBy(10))
                  >= 0;
      if (channel != null && due && channel.send(r)) {
        sent = r;
        sentAt = now;
      }
    }
    if (changed && AgentMessage.ClusterNode.PHASE_FAILED.equals(r.phase())) {
      out.println("cluster: " + r.message());
      sink.event("cluster-node-failed", "error", r.message());
    }
  }

  private static boolean same(AgentMessage.ClusterNode a, AgentMessage.ClusterNode b) {
    return a.equals(b);
  }

  // ------------------------------------------------------------------ AgentFeature

  @Override
  public void connected(Channel channel, ControllerMessage.Welcome welcome) {
    synchronized (this) {
      this.channel = channel;
      sent = null;
      if (last != null && channel.send(last)) {
        sent = last;
        sentAt = clock.instant();
      }
    }
    request();
  }

  @Override
  public synchronized void disconnected() {
    channel = null;
    sent = null;
  }

  @Override
  public boolean handle(ControllerMessage message) {
    return false;
  }

  /** Stops K3s (a child of the agent) and the feature's work. */
  @Override
  public void close() {
    synchronized (this) {
      closed = true;
      channel = null;
      if (periodic != null) {
        periodic.cancel(false);
      }
      if (retry != null) {
        retry.cancel(false);
      }
    }
    worker.shutdownNow();
    supervisor.stop();
  }
}
