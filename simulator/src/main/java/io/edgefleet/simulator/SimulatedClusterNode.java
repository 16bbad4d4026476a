package io.edgefleet.simulator;

import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ClusterSpec;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.DeviceSecret;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.DoubleSupplier;

/**
 * A virtual device acting as a K3s node while its verified desired state has a {@link ClusterSpec}:
 * {@code DOWNLOADING} (a one-byte ranged GET of the K3s artifact over the device route, so the
 * artifact is checked to exist without moving it), the join token fetched over the device route and
 * opened with the device's key, {@code STARTING}, then {@code RUNNING} after the configured delays,
 * or {@code FAILED} for the configured share of starts. A running server joins the cluster's
 * simulated etcd; every node registers in the simulated API server. It reports {@link
 * AgentMessage.ClusterNode} as the agent does: on connect, on every change (its own or its
 * cluster's) and every 30 seconds, once {@code STOPPED} when the section goes. A new K3s version,
 * configuration, labels or taints restart it ({@code STARTING} then {@code RUNNING} at the new
 * version); a running server carries out the removals it is given. Every method is called holding
 * {@code lock} (the device's monitor), and completions take it again.
 */
final class SimulatedClusterNode {

  /** Runs a task after a delay; the returned action cancels it. */
  interface Timers {
    Runnable after(Duration delay, Runnable task);
  }

  /** Opens a sealed secret with the device's own key (as the agent does): its plaintext. */
  interface Unsealer {
    byte[] open(DeviceSecret sealed) throws java.security.GeneralSecurityException;
  }

  /** One GET over the device's mutual-TLS link with extra header lines. */
  interface Http {
    CompletableFuture<Wire.Response> get(String path, String headers);
  }

  private final Object lock;
  private final K3sBehaviour behaviour;
  private final SimulatedClusters clusters;
  private final Timers timers;
  private final Http http;
  private final Unsealer unsealer;
  private final Consumer<AgentMessage.ClusterNode> out;
  private final String address;
  private final DoubleSupplier random;
  private final Simulator.Stats stats;

  /** The section followed, null when none. */
  private ClusterSpec spec;

  private long generation;
  private volatile String phase;
  private String message;

  /** The version K3s runs (RUNNING) or starts at. */
  private volatile String running;

  /** What the running K3s was started with; a change restarts it. */
  private List<Object> started;

  private SimulatedClusters.Cluster cluster;
  private final Set<String> heldArtifacts = new HashSet<>();
  private long heldToken = -1;

  /** Increases with every (re)start, so the completions of an earlier one do nothing. */
  private long attempt;

  private Runnable pending = () -> {};
  private Runnable periodic = () -> {};
  private final AtomicBoolean reportQueued = new AtomicBoolean();
  private boolean stoppedReported = true;

  SimulatedClusterNode(
      Object lock,
      K3sBehaviour behaviour,
      SimulatedClusters clusters,
      Timers timers,
      Http http,
      Unsealer unsealer,
      Consumer<AgentMessage.ClusterNode> out,
      String address,
      DoubleSupplier random,
      Simulator.Stats stats) {
    this.lock = lock;
    this.behaviour = behaviour;
    this.clusters = clusters;
    this.timers = timers;
    this.http = http;
    this.unsealer = unsealer;
    this.out = out;
    this.address = address;
    this.random = random;
    this.stats = stats;
  }

  /** The simulated address of device {@code index}: 10.0.0.0/8 in index order. */
  static String address(int index) {
    int i = index + 1;
    return "10." + ((i >> 16) & 0xff) + "." + ((i >> 8) & 0xff) + "." + (i & 0xff);
  }

  String phase() {
    return phase;
  }

  String runningVersion() {
    return running;
  }

  /** A verified desired state's section (null: no member) at {@code gen}. */
  void desired(long gen, ClusterSpec next) {
    generation = gen;
    if (next == null) {
      if (spec != null) {
        stop("the device is no member of a cluster any more");
      }
      return;
    }
    ClusterSpec before = spec;
    spec = next;
    if (before != null
        && (!before.name().equals(next.name())
            || !before.role().equals(next.role())
            || !before.nodeName().equals(next.nodeName()))) {
      // Another cluster, role or name: K3s stops and its data goes; it joins afresh.
      leaveCluster(true);
      started = null;
    }
    if (cluster == null) {
      cluster = clusters.cluster(next.name());
      cluster.join(this);
      stoppedReported = false;
    }
    if (!Objects.equals(started, startKey(next))) {
      begin();
    } else if (next.tokenVersion() != heldToken) {
      fetchToken(attempt);
    }
    if (ClusterNodePhase.RUNNING.equals(phase)) {
      carryOutRemovals();
    }
    report();
  }

  /** The link is up again: the controller hears where this node is. */
  void connected() {
    if (spec != null || !stoppedReported) {
      report();
    }
  }

  /**
   * Something in the cluster changed: report it soon (coalesced). Called by another member holding
   * its own device's monitor, so it takes no monitor itself: the report runs on a timer.
   */
  void clusterChanged() {
    if (!reportQueued.compareAndSet(false, true)) {
      return;
    }
    timers.after(
        Duration.ZERO,
        () -> {
          synchronized (lock) {
            reportQueued.set(false);
            if (spec != null) {
              report();
            }
          }
        });
  }

  /** The device stops for good (the simulator closes). */
  void close() {
    pending.run();
    periodic.run();
  }

  // ------------------------------------------------------------------ life cycle

  private static List<Object> startKey(ClusterSpec s) {
    return List.of(
        s.kubernetesVersion() == null ? "" : s.kubernetesVersion(),
        s.k3s() == null ? "" : s.k3s().digest(),
        s.config(),
        s.nodeLabels(),
        s.nodeTaints());
  }

  /** (Re)starts K3s for the current section: download when needed, token, start. */
  private void begin() {
    long a = ++attempt;
    pending.run();
    started = startKey(spec);
    markNode(false);
    if (spec.k3s() == null) {
      fail("no K3s binary for version " + spec.kubernetesVersion() + " was given");
      return;
    }
    if (!heldArtifacts.contains(spec.k3s().digest())) {
      phase = ClusterNodePhase.DOWNLOADING;
      message = "fetching K3s " + spec.kubernetesVersion();
      checkArtifact(a);
    } else {
      starting(a);
    }
  }

  private void checkArtifact(long a) {
    String digest = spec.k3s().digest();
    long size = spec.k3s().size();
    stats.artifactChecks.increment();
    http.get(DeviceApi.ARTIFACTS + digest, "Range: bytes=0-0\r\n")
        .whenComplete(
            (resp, err) -> {
              synchronized (lock) {
                if (a != attempt || spec == null) {
                  return;
                }
                String problem = err != null ? rootMessage(err) : artifactProblem(resp, size);
                if (problem != null) {
                  failAndRetry("K3s " + digest + ": " + problem);
                  return;
                }
                pending =
                    timers.after(
                        behaviour.download(),
                        () -> {
                          synchronized (lock) {
                            if (a == attempt && spec != null) {
                              heldArtifacts.add(digest);
                              starting(a);
                            }
                          }
                        });
              }
            });
  }

  /** What is wrong with the answer to a one-byte ranged GET; null when the artifact is there. */
  static String artifactProblem(Wire.Response resp, long size) {
    if (resp.status() != 206 && resp.status() != 200) {
      return "HTTP " + resp.status();
    }
    if (resp.status() == 206) {
      String range = resp.header("content-range");
      int slash = range.lastIndexOf('/');
      if (slash >= 0) {
        String total = range.substring(slash + 1).trim();
        if (!total.equals("*") && !total.equals(Long.toString(size))) {
          return "the controller holds " + total + " bytes, the desired state says " + size;
        }
      }
      if (resp.body().length != 1 && size > 0) {
        return "asked for one byte, got " + resp.body().length;
      }
    }
    return null;
  }

  private void starting(long a) {
    phase = ClusterNodePhase.STARTING;
    message = null;
    running = spec.kubernetesVersion();
    report();
    if (spec.tokenVersion() != heldToken) {
      fetchToken(a);
    } else {
      scheduleReady(a);
    }
  }

  private void fetchToken(long a) {
    long version = spec.tokenVersion();
    String path =
        DeviceApi.CLUSTERS
            + URLEncoder.encode(spec.name(), StandardCharsets.UTF_8)
            + "/token?version="
            + version;
    stats.tokenFetches.increment();
    http.get(path, "")
        .whenComplete(
            (resp, err) -> {
              synchronized (lock) {
                if (a != attempt || spec == null) {
                  return;
                }
                String problem =
                    err != null ? rootMessage(err) : tokenProblem(resp, version, unsealer);
                if (problem != null) {
                  failAndRetry("join token version " + version + ": " + problem);
                  return;
                }
                heldToken = version;
                if (ClusterNodePhase.STARTING.equals(phase)) {
                  scheduleReady(a);
                }
              }
            });
  }

  /**
   * What is wrong with a token answer; null when it is a secret of that version sealed to this
   * device holding a token, as the agent checks it.
   */
  static String tokenProblem(Wire.Response resp, long version, Unsealer unsealer) {
    if (resp.status() != 200) {
      String code = errorCode(resp);
      return "HTTP " + resp.status() + (code == null ? "" : " " + code);
    }
    DeviceSecret s;
    try {
      s = Json.mapper().readValue(resp.body(), DeviceSecret.class);
    } catch (IOException e) {
      return "the answer is not a sealed secret";
    }
    if (s.version() != version) {
      return "the controller answered version " + s.version();
    }
    if (s.sealed() == null || s.sealed().isEmpty()) {
      return "the answer holds no sealed token";
    }
    byte[] plain;
    try {
      plain = unsealer.open(s);
    } catch (java.security.GeneralSecurityException | RuntimeException e) {
      // Any failure to open it is this device's problem to report, never a lost completion.
      return "it could not be opened with this device's key (" + e + ")";
    }
    try {
      String token = Json.mapper().readTree(plain).path("token").asText("");
      if (token.isEmpty() || Base64.getDecoder().decode(token).length == 0) {
        return "the sealed token holds no key 'token'";
      }
      return null;
    } catch (IOException | IllegalArgumentException e) {
      return "the sealed token arrived malformed";
    } finally {
      Arrays.fill(plain, (byte) 0);
    }
  }

  private static String errorCode(Wire.Response resp) {
    try {
      return Json.mapper().readTree(resp.body()).path("code").asText(null);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  private void scheduleReady(long a) {
    pending.run();
    pending =
        timers.after(
            behaviour.start(),
            () -> {
              synchronized (lock) {
                if (a == attempt && spec != null) {
                  ready(a);
                }
              }
            });
  }

  private void ready(long a) {
    if (!spec.init() && spec.servers().isEmpty()) {
      fail("no server to join through");
      return;
    }
    if (!spec.init() && !cluster.hasEtcd()) {
      // Nothing answers at the servers given: K3s keeps trying, as the real one does.
      message = "waiting for a server of " + spec.name() + " to answer";
      report();
      scheduleReady(a);
      return;
    }
    if (random.getAsDouble() < behaviour.failRate()) {
      stats.clusterFailures.increment();
      fail("simulated K3s failure");
      return;
    }
    phase = ClusterNodePhase.RUNNING;
    message = null;
    failures = 0;
    if (isServer()) {
      cluster.addEtcdMember(spec.nodeName(), address, this);
    }
    markNode(true);
    carryOutRemovals();
    report();
  }

  /**
   * A fetch failed: {@code FAILED} with the reason, and the start is tried again after a backoff (5
   * s, doubling up to 60 s), as the agent's supervision does.
   */
  private void failAndRetry(String why) {
    fail(why);
    failures++;
    long a = attempt;
    Duration wait = RETRY.multipliedBy(1L << Math.min(failures - 1, 4));
    pending =
        timers.after(
            wait.compareTo(MAX_RETRY) > 0 ? MAX_RETRY : wait,
            () -> {
              synchronized (lock) {
                if (a == attempt && spec != null) {
                  started = null;
                  begin();
                }
              }
            });
  }

  static final Duration RETRY = Duration.ofSeconds(5);
  static final Duration MAX_RETRY = Duration.ofSeconds(60);

  /** Failed fetches in a row. */
  private int failures;

  private void fail(String why) {
    pending.run();
    phase = ClusterNodePhase.FAILED;
    message = why;
    stats.lastError = "cluster " + (spec == null ? "" : spec.name()) + ": " + why;
    markNode(false);
    report();
  }

  /** The section went: K3s stops, its data goes; the node stays NotReady until removed. */
  private void stop(String why) {
    leaveCluster(true);
    spec = null;
    started = null;
    running = null;
    heldToken = -1;
    phase = ClusterNodePhase.STOPPED;
    message = why;
    periodic.run();
    periodic = () -> {};
    if (!stoppedReported) {
      report(lastName, lastRole, lastCluster);
    }
  }

  private String lastName;
  private String lastRole;
  private String lastCluster;

  private void leaveCluster(boolean wipe) {
    attempt++;
    pending.run();
    pending = () -> {};
    markNode(false);
    if (cluster != null) {
      cluster.leave(this);
      lastName = spec.nodeName();
      lastRole = spec.role();
      lastCluster = spec.name();
      cluster = null;
    }
    if (wipe) {
      phase = null;
    }
  }

  private void markNode(boolean ready) {
    if (cluster == null || spec == null) {
      return;
    }
    if (!ready && running == null) {
      return;
    }
    cluster.node(
        new AgentMessage.KubeNode(
            spec.nodeName(), ready, running == null ? "" : running, isServer(), false),
        this);
  }

  private boolean isServer() {
    return spec != null && ClusterSpec.ROLE_SERVER.equals(spec.role());
  }

  private void carryOutRemovals() {
    if (!isServer() || spec.removals().isEmpty()) {
      return;
    }
    for (ClusterSpec.Removal r : spec.removals()) {
      if (!r.nodeName().equals(spec.nodeName()) && cluster.remove(r.nodeName(), r.etcd(), this)) {
        stats.clusterRemovals.increment();
      }
    }
  }

  // ------------------------------------------------------------------ reports

  private void armPeriodic() {
    periodic.run();
    periodic =
        timers.after(
            behaviour.reportEvery(),
            () -> {
              synchronized (lock) {
                if (spec != null) {
                  report();
                }
              }
            });
  }

  private void report() {
    if (spec == null) {
      return;
    }
    report(spec.nodeName(), spec.role(), spec.name());
  }

  private void report(String nodeName, String role, String clusterName) {
    if (clusterName == null || phase == null && spec == null) {
      return;
    }
    boolean server = ClusterSpec.ROLE_SERVER.equals(role) && spec != null;
    boolean up = ClusterNodePhase.RUNNING.equals(phase);
    List<AgentMessage.EtcdMember> etcd = server && up ? cluster.etcd() : List.of();
    List<AgentMessage.KubeNode> nodes = server && up ? cluster.nodes() : List.of();
    Boolean ready = server ? Boolean.valueOf(up) : null;
    AgentMessage.ClusterNode r =
        new AgentMessage.ClusterNode(
            clusterName,
            role,
            phase,
            nodeName,
            address,
            ready,
            running,
            etcd.size() > AgentMessage.ClusterNode.MAX_ETCD_MEMBERS
                ? etcd.subList(0, AgentMessage.ClusterNode.MAX_ETCD_MEMBERS)
                : etcd,
            nodes.size() > AgentMessage.ClusterNode.MAX_NODES
                ? nodes.subList(0, AgentMessage.ClusterNode.MAX_NODES)
                : nodes,
            message,
            generation);
    if (ClusterNodePhase.STOPPED.equals(phase)) {
      stoppedReported = true;
    } else {
      // The next report without a change is due 30 s after this one.
      armPeriodic();
    }
    stats.clusterReports.increment();
    out.accept(r);
  }

  private static String rootMessage(Throwable t) {
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getMessage() == null ? t.toString() : t.getMessage();
  }

  /** The phases, as the protocol names them. */
  static final class ClusterNodePhase {
    static final String DOWNLOADING = AgentMessage.ClusterNode.PHASE_DOWNLOADING;
    static final String STARTING = AgentMessage.ClusterNode.PHASE_STARTING;
    static final String RUNNING = AgentMessage.ClusterNode.PHASE_RUNNING;
    static final String FAILED = AgentMessage.ClusterNode.PHASE_FAILED;
    static final String STOPPED = AgentMessage.ClusterNode.PHASE_STOPPED;

    private ClusterNodePhase() {}
  }
}
