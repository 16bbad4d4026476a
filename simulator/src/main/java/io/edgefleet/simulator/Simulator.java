package io.edgefleet.simulator;

import io.edgefleet.device.BootstrapFile;
import io.edgefleet.device.desiredstate.TrustedKeys;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.Signatures;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;

/**
 * Many virtual agents in one JVM against one controller. Devices share a few selector threads
 * ({@link TlsNet}), one timer scheduler and one TLS context; each keeps only its identity and a
 * handful of fields. Identities persist under the state directory so a restarted simulator
 * reconnects as the same devices without enrolling again.
 */
public final class Simulator implements AutoCloseable {

  /**
   * What to simulate.
   *
   * @param sourceAddresses local addresses to spread connections over (empty: the OS chooses)
   * @param enrollConcurrency enrollments in flight at most
   * @param handshakeConcurrency WebSocket connects (TCP, TLS, upgrade) in flight at most
   * @param tpmCaDir with {@code --attestation}: the directory of the software TPM manufacturer's CA
   *     that certifies the devices' endorsement keys (created when missing; a controller trusts its
   *     {@code ek-ca.pem}); null: devices have no TPM
   */
  public record Options(
      Path bootstrapFile,
      int devices,
      LinkProfile link,
      List<OutageSpec> outages,
      double applyFailRate,
      double churnPerMinute,
      Path statsFile,
      Path stateDir,
      List<InetAddress> sourceAddresses,
      int threads,
      int enrollConcurrency,
      int handshakeConcurrency,
      Duration maxBackoff,
      Duration rampUp,
      List<String> kubernetesVersions,
      Path tpmCaDir,
      K3sBehaviour k3s,
      double agentUpdateFailRate,
      double loseEnrollmentAnswers) {
    /** What simulated clusters run unless told otherwise. */
    public static final String DEFAULT_KUBERNETES_VERSION = "v1.30.6";

    public Options {
      if (devices < 1) {
        throw new IllegalArgumentException("--devices must be at least 1");
      }
      if (applyFailRate < 0 || applyFailRate > 1) {
        throw new IllegalArgumentException("--apply-fail-rate must be between 0 and 1");
      }
      if (loseEnrollmentAnswers < 0 || loseEnrollmentAnswers > 1) {
        throw new IllegalArgumentException("--lose-enrollment-answers must be between 0 and 1");
      }
      if (agentUpdateFailRate < 0 || agentUpdateFailRate > 1) {
        throw new IllegalArgumentException("--agent-update-fail-rate must be between 0 and 1");
      }
      if (churnPerMinute < 0) {
        throw new IllegalArgumentException("--churn must not be negative");
      }
      outages = List.copyOf(outages);
      sourceAddresses = List.copyOf(sourceAddresses);
      kubernetesVersions = List.copyOf(kubernetesVersions);
      k3s = k3s == null ? K3sBehaviour.DEFAULT : k3s;
      for (String v : kubernetesVersions) {
        if (!v.equals(NO_KUBERNETES) && !DeviceFacts.KUBERNETES_VERSION.matcher(v).matches()) {
          throw new IllegalArgumentException(
              "--kubernetes-version: '"
                  + v
                  + "' is not a Kubernetes version such as v1.30.6 (or 'none' for devices that"
                  + " report no cluster)");
        }
      }
    }

    /** Written for a device that reports no cluster, as if it ran no Kubernetes. */
    public static final String NO_KUBERNETES = "none";

    /**
     * The Kubernetes version device {@code index} reports, the versions given in turn; null for
     * none.
     */
    String kubernetesVersion(int index) {
      if (kubernetesVersions.isEmpty()) {
        return null;
      }
      String v = kubernetesVersions.get(Math.floorMod(index, kubernetesVersions.size()));
      return v.equals(NO_KUBERNETES) ? null : v;
    }

    /**
     * The share of devices (0..1) whose first enrollment answer is lost on the way back, as on a
     * link that drops: the controller has enrolled them, they never hear it and ask again.
     */
    public Options withLostEnrollmentAnswers(double share) {
      return with(b -> b.loseEnrollmentAnswers = share);
    }

    /** Devices report these Kubernetes versions in turn ({@link #NO_KUBERNETES}: none). */
    public Options withKubernetesVersions(List<String> versions) {
      return with(b -> b.kubernetesVersions = versions);
    }

    public static Options of(Path bootstrapFile, int devices, Path stateDir) {
      return new Options(
          bootstrapFile,
          devices,
          LinkProfile.LAN,
          List.of(),
          0,
          0,
          null,
          stateDir,
          List.of(),
          Math.max(1, Runtime.getRuntime().availableProcessors()),
          64,
          256,
          Duration.ofSeconds(60),
          Duration.ZERO,
          List.of(DEFAULT_KUBERNETES_VERSION),
          null,
          K3sBehaviour.DEFAULT,
          0,
          0);
    }

    /** Devices present a software TPM whose EK CA lives in {@code caDir}. */
    public Options withAttestation(Path caDir) {
      return with(b -> b.tpmCaDir = caDir);
    }

    /** How the devices behave as K3s nodes when their desired state makes them cluster members. */
    public Options withK3s(K3sBehaviour behaviour) {
      return with(b -> b.k3s = behaviour);
    }

    /** Whether devices present a (software) TPM. */
    public boolean attestation() {
      return tpmCaDir != null;
    }

    public Options withApplyFailRate(double p) {
      return with(b -> b.applyFailRate = p);
    }

    /**
     * A share of the devices rolls back each agent update they are told (the new agent "fails" its
     * trial) and reports it with a reason.
     */
    public Options withAgentUpdateFailRate(double p) {
      return with(b -> b.agentUpdateFailRate = p);
    }

    public Options withMaxBackoff(Duration d) {
      return with(b -> b.maxBackoff = d);
    }

    public Options withSourceAddresses(List<InetAddress> addresses) {
      return with(b -> b.sourceAddresses = addresses);
    }

    /** A copy of these options with one change. */
    private Options with(java.util.function.Consumer<Builder> change) {
      Builder b = new Builder(this);
      change.accept(b);
      return b.build();
    }

    /** The options' fields, changeable, for {@link #with}. */
    private static final class Builder {
      Path bootstrapFile;
      int devices;
      LinkProfile link;
      List<OutageSpec> outages;
      double applyFailRate;
      double churnPerMinute;
      Path statsFile;
      Path stateDir;
      List<InetAddress> sourceAddresses;
      int threads;
      int enrollConcurrency;
      int handshakeConcurrency;
      Duration maxBackoff;
      Duration rampUp;
      List<String> kubernetesVersions;
      Path tpmCaDir;
      K3sBehaviour k3s;
      double agentUpdateFailRate;
      double loseEnrollmentAnswers;

      Builder(Options o) {
        bootstrapFile = o.bootstrapFile;
        devices = o.devices;
        link = o.link;
        outages = o.outages;
        applyFailRate = o.applyFailRate;
        churnPerMinute = o.churnPerMinute;
        statsFile = o.statsFile;
        stateDir = o.stateDir;
        sourceAddresses = o.sourceAddresses;
        threads = o.threads;
        enrollConcurrency = o.enrollConcurrency;
        handshakeConcurrency = o.handshakeConcurrency;
        maxBackoff = o.maxBackoff;
        rampUp = o.rampUp;
        kubernetesVersions = o.kubernetesVersions;
        tpmCaDir = o.tpmCaDir;
        k3s = o.k3s;
        agentUpdateFailRate = o.agentUpdateFailRate;
        loseEnrollmentAnswers = o.loseEnrollmentAnswers;
      }

      Options build() {
        return new Options(
            bootstrapFile,
            devices,
            link,
            outages,
            applyFailRate,
            churnPerMinute,
            statsFile,
            stateDir,
            sourceAddresses,
            threads,
            enrollConcurrency,
            handshakeConcurrency,
            maxBackoff,
            rampUp,
            kubernetesVersions,
            tpmCaDir,
            k3s,
            agentUpdateFailRate,
            loseEnrollmentAnswers);
      }
    }
  }

  /** Counters, updated lock-free by devices. */
  static final class Stats {
    final AtomicInteger enrolled = new AtomicInteger();
    final AtomicInteger connected = new AtomicInteger();
    final LongAdder enrollments = new LongAdder();
    final LongAdder lostEnrollmentAnswers = new LongAdder();
    final LongAdder reconnects = new LongAdder();
    final LongAdder disconnects = new LongAdder();
    final LongAdder desiredFetches = new LongAdder();
    final LongAdder bundleFetches = new LongAdder();
    final LongAdder pushedDocuments = new LongAdder();
    final LongAdder inlineBundles = new LongAdder();
    final LongAdder bundleBytes = new LongAdder();
    final LongAdder fetchFailures = new LongAdder();
    final LongAdder failedApplies = new LongAdder();
    final LongAdder refusedDocuments = new LongAdder();
    final LongAdder refused = new LongAdder();
    final LongAdder telemetryRecords = new LongAdder();
    final LongAdder telemetryBatches = new LongAdder();
    final LongAdder telemetryCompactBatches = new LongAdder();
    final LongAdder telemetryPayloadBytes = new LongAdder();
    final LongAdder messagesIn = new LongAdder();
    final LongAdder messagesOut = new LongAdder();
    final LongAdder churned = new LongAdder();
    final LongAdder cuts = new LongAdder();
    final LongAdder gaveUp = new LongAdder();
    final LongAdder activations = new LongAdder();
    final LongAdder attestations = new LongAdder();
    final AtomicInteger quarantined = new AtomicInteger();
    final LongAdder artifactChecks = new LongAdder();
    final LongAdder tokenFetches = new LongAdder();
    final LongAdder clusterReports = new LongAdder();
    final LongAdder clusterFailures = new LongAdder();
    final LongAdder clusterRemovals = new LongAdder();
    final LongAdder agentUpdates = new LongAdder();
    final LongAdder agentRollbacks = new LongAdder();
    final LongAdder agentRefusals = new LongAdder();
    final LongAdder agentBytes = new LongAdder();
    volatile String lastError;
  }

  /** Runs at most {@code limit} tasks at once; a task calls its release when done. */
  static final class Gate {
    private final int limit;
    private final AtomicInteger running = new AtomicInteger();
    private final ConcurrentLinkedQueue<Consumer<Runnable>> queue = new ConcurrentLinkedQueue<>();
    private final java.util.concurrent.Executor executor;

    Gate(int limit, java.util.concurrent.Executor executor) {
      this.limit = limit;
      this.executor = executor;
    }

    void submit(Consumer<Runnable> task) {
      queue.add(task);
      drain();
    }

    private void drain() {
      while (true) {
        int r = running.get();
        if (r >= limit || queue.isEmpty()) {
          return;
        }
        if (!running.compareAndSet(r, r + 1)) {
          continue;
        }
        Consumer<Runnable> task = queue.poll();
        if (task == null) {
          running.decrementAndGet();
          continue;
        }
        AtomicInteger once = new AtomicInteger();
        Runnable release =
            () -> {
              if (once.getAndIncrement() == 0) {
                running.decrementAndGet();
                drain();
              }
            };
        executor.execute(
            () -> {
              try {
                task.accept(release);
              } catch (RuntimeException e) {
                release.run();
              }
            });
      }
    }
  }

  final Options options;
  final Bootstrap bootstrap;
  final Stats stats = new Stats();
  final DeviceKeys keys = new DeviceKeys();
  final TlsNet net;
  final ScheduledThreadPoolExecutor scheduler;
  final Gate enrollments;
  final Gate handshakes;

  /** Devices downloading an agent release at once (each holds one range of it in memory). */
  static final int DOWNLOADS = 64;

  final Gate downloads;

  /** Every URL of the controller (its replicas); each device picks one at random. */
  final List<Endpoint> endpoints;

  final Identities identities;
  final SimulatedClusters clusters = new SimulatedClusters();

  /** The software TPMs' shared parts with {@code --attestation}; null otherwise. */
  final SimulatedTpm.Fleet tpms;

  private final List<VirtualDevice> devices = new ArrayList<>();

  /**
   * The signing keys a device trusts before it took a document: the key handed out at enrollment,
   * and after a restart every key a device had learned (saved, as the simulator keeps no state per
   * device).
   */
  private volatile TrustedKeys initialTrust;

  /** Trust sets by their key ids, so devices that trust the same keys share one object. */
  private final java.util.concurrent.ConcurrentHashMap<TrustedKeys, TrustedKeys> trustSets =
      new java.util.concurrent.ConcurrentHashMap<>();

  private final long startedNanos = System.nanoTime();
  private final PrintStream out;
  private long lastBytesIn;
  private long lastBytesOut;
  private long lastProgress;
  private volatile long heapPerDevice;

  private Simulator(Options options, PrintStream out) {
    this.options = options;
    this.out = out;
    this.bootstrap = BootstrapFile.read(options.bootstrapFile());
    this.endpoints = bootstrap.urls().stream().map(Endpoint::of).toList();
    this.identities = new Identities(options.stateDir());
    try {
      this.tpms = options.attestation() ? SimulatedTpm.Fleet.open(options.tpmCaDir()) : null;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the software TPM CA in " + options.tpmCaDir(), e);
    }
    PinnedCaTrustManager trust =
        identities
            .ca()
            .map(ca -> new PinnedCaTrustManager(bootstrap.caFingerprint(), ca))
            .orElseGet(() -> new PinnedCaTrustManager(bootstrap.caFingerprint()));
    SSLContext ssl;
    try {
      ssl = SSLContext.getInstance("TLSv1.3");
      ssl.init(new KeyManager[] {keys}, new TrustManager[] {trust}, new SecureRandom());
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException("cannot build the TLS context", e);
    }
    this.net = new TlsNet(ssl, options.threads());
    this.scheduler =
        new ScheduledThreadPoolExecutor(
            options.threads(),
            r -> {
              Thread t = new Thread(r, "sim-timers");
              t.setDaemon(true);
              return t;
            });
    scheduler.setRemoveOnCancelPolicy(true);
    this.enrollments = new Gate(options.enrollConcurrency(), scheduler);
    this.handshakes = new Gate(options.handshakeConcurrency(), scheduler);
    this.downloads = new Gate(DOWNLOADS, scheduler);
    identities.trustedKeys().ifPresent(k -> initialTrust = trusting(k));
    for (io.edgefleet.protocol.DesiredState.SigningKey k : identities.releaseKeys()) {
      releaseKeys.putIfAbsent(k.id(), Signatures.publicKey(k.publicKeyPem()));
    }
  }

  /** Creates the devices (loading saved identities) and starts them; returns at once. */
  public static Simulator start(Options options, PrintStream out) {
    Simulator sim = new Simulator(options, out);
    sim.begin();
    return sim;
  }

  private void begin() {
    String fleet = identities.fleetId();
    for (int i = 0; i < options.devices(); i++) {
      String serial = "sim-" + fleet + "-" + i;
      VirtualDevice d =
          identities
              .load(serial, i)
              .map(
                  id ->
                      new VirtualDevice(
                          this,
                          devices.size(),
                          serial,
                          id.credential(),
                          id.deviceId(),
                          tpms != null && id.akPublic() != null
                              ? SimulatedTpm.restored(tpms, id.akPublic(), id.akPrivate())
                              : null))
              .orElseGet(() -> new VirtualDevice(this, devices.size(), serial, null, null, null));
      if (d.enrolled()) {
        stats.enrolled.incrementAndGet();
      }
      devices.add(d);
    }
    long ramp = options.rampUp().toNanos();
    for (VirtualDevice d : devices) {
      d.start(Duration.ofNanos(ramp == 0 ? 0 : ThreadLocalRandom.current().nextLong(ramp)));
    }
    for (OutageSpec o : options.outages()) {
      long every = o.every().toNanos();
      scheduler.scheduleAtFixedRate(() -> outage(o), every, every, TimeUnit.NANOSECONDS);
    }
    if (!options.link().cutEvery().isZero()) {
      for (VirtualDevice d : devices) {
        scheduleCut(d);
      }
    }
    if (options.churnPerMinute() > 0) {
      scheduler.scheduleAtFixedRate(new Churn(), 1, 1, TimeUnit.SECONDS);
    }
    scheduler.scheduleAtFixedRate(this::tick, 1, 1, TimeUnit.SECONDS);
  }

  private void scheduleCut(VirtualDevice d) {
    long in = options.link().nextCutNanos(ThreadLocalRandom.current());
    scheduler.schedule(
        () -> {
          d.cut(options.link().cutFor().toNanos());
          scheduleCut(d);
        },
        in,
        TimeUnit.NANOSECONDS);
  }

  private void outage(OutageSpec o) {
    long nanos = o.duration().toNanos();
    for (VirtualDevice d : devices) {
      if (ThreadLocalRandom.current().nextDouble() < o.share()) {
        d.cut(nanos);
      }
    }
  }

  /** Disconnects {@code --churn} devices per minute, spread over each second. */
  private final class Churn implements Runnable {
    private double owed;

    @Override
    public void run() {
      owed += options.churnPerMinute() / 60.0;
      while (owed >= 1) {
        owed -= 1;
        devices.get(ThreadLocalRandom.current().nextInt(devices.size())).churn();
      }
    }
  }

  InetAddress localAddress(int index) {
    List<InetAddress> a = options.sourceAddresses();
    return a.isEmpty() ? null : a.get(index % a.size());
  }

  TrustedKeys initialTrust() {
    TrustedKeys k = initialTrust;
    if (k == null) {
      throw new IllegalStateException("no desired-state signing key yet");
    }
    return k;
  }

  /** The agent release keys devices were handed at enrollment, by key id. */
  private final Map<String, java.security.PublicKey> releaseKeys =
      new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * Trusts the agent release keys of an enrollment answer; keys new to this simulator are saved
   * with the identities, so devices that come back after a restart trust them too.
   */
  void adoptReleaseKeys(List<io.edgefleet.protocol.DesiredState.SigningKey> keys) {
    boolean added = false;
    for (io.edgefleet.protocol.DesiredState.SigningKey k : keys) {
      try {
        added |= releaseKeys.putIfAbsent(k.id(), Signatures.publicKey(k.publicKeyPem())) == null;
      } catch (IllegalArgumentException e) {
        stats.lastError = "release key " + k.id() + " is not an Ed25519 key";
      }
    }
    if (added) {
      synchronized (releaseKeys) {
        java.util.List<io.edgefleet.protocol.DesiredState.SigningKey> all = new ArrayList<>();
        releaseKeys.forEach(
            (id, key) ->
                all.add(
                    new io.edgefleet.protocol.DesiredState.SigningKey(
                        id, Signatures.publicKeyPem(key))));
        all.sort(java.util.Comparator.comparing(io.edgefleet.protocol.DesiredState.SigningKey::id));
        identities.saveReleaseKeys(all);
      }
    }
  }

  /** The trusted agent release key of this id, or null. */
  java.security.PublicKey releaseKey(String keyId) {
    return keyId == null ? null : releaseKeys.get(keyId);
  }

  synchronized void adoptSigningKey(String pem) {
    if (initialTrust == null) {
      initialTrust = trusting(TrustedKeys.of(Signatures.publicKey(pem)));
      identities.saveTrustedKeys(initialTrust);
    }
  }

  /**
   * The shared instance of a trust set a device took from a document; keys no device knew before
   * are added to what devices trust after a restart.
   */
  TrustedKeys trusting(TrustedKeys keys) {
    TrustedKeys shared = trustSets.computeIfAbsent(keys, k -> k);
    if (initialTrust != null && !initialTrust.ids().containsAll(keys.ids())) {
      synchronized (this) {
        TrustedKeys known = initialTrust;
        if (!known.ids().containsAll(keys.ids())) {
          List<PublicKey> union = new ArrayList<>(known.keys());
          union.addAll(keys.keys());
          TrustedKeys all = TrustedKeys.of(union);
          identities.saveTrustedKeys(all);
          initialTrust = trustSets.computeIfAbsent(all, k -> k);
        }
      }
    }
    return shared;
  }

  // ------------------------------------------------------------------ stats

  /** A snapshot of the counters, as written to {@code --stats}. */
  public Map<String, Object> snapshot() {
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("t", Math.round((System.nanoTime() - startedNanos) / 1e6) / 1000.0);
    s.put("at", Instant.now().toString());
    s.put("devices", devices.size());
    s.put("enrolled", stats.enrolled.get());
    s.put("enrollments", stats.enrollments.sum());
    s.put("lostEnrollmentAnswers", stats.lostEnrollmentAnswers.sum());
    s.put("connected", stats.connected.get());
    Map<String, Integer> byUrl = new TreeMap<>();
    for (Endpoint e : endpoints) {
      byUrl.put(e.url(), 0);
    }
    for (VirtualDevice d : devices) {
      Endpoint at = d.connectedTo();
      if (at != null) {
        byUrl.merge(at.url(), 1, Integer::sum);
      }
    }
    // Which URL (replica) holds how many connected devices.
    s.put("connectedByUrl", byUrl);
    s.put("reconnects", stats.reconnects.sum());
    s.put("disconnects", stats.disconnects.sum());
    s.put("desiredFetches", stats.desiredFetches.sum());
    s.put("pushedDocuments", stats.pushedDocuments.sum());
    s.put("inlineBundles", stats.inlineBundles.sum());
    s.put("bundleFetches", stats.bundleFetches.sum());
    s.put("fetchFailures", stats.fetchFailures.sum());
    s.put("bytesIn", net.bytesIn.sum());
    s.put("bytesOut", net.bytesOut.sum());
    s.put("messagesIn", stats.messagesIn.sum());
    s.put("messagesOut", stats.messagesOut.sum());
    s.put("telemetryRecords", stats.telemetryRecords.sum());
    s.put("telemetryBatches", stats.telemetryBatches.sum());
    s.put("telemetryCompactBatches", stats.telemetryCompactBatches.sum());
    s.put("telemetryPayloadBytes", stats.telemetryPayloadBytes.sum());
    Map<String, Integer> generations = new TreeMap<>();
    Map<String, Integer> ready = new TreeMap<>();
    Map<String, Integer> failed = new TreeMap<>();
    for (VirtualDevice d : devices) {
      generations.merge(Long.toString(d.generation()), 1, Integer::sum);
      for (var a : d.report()) {
        Map<String, Integer> m =
            switch (a.phase()) {
              case READY -> ready;
              case FAILED -> failed;
              default -> null;
            };
        if (m != null) {
          m.merge(a.revision(), 1, Integer::sum);
        }
      }
    }
    s.put("generations", generations);
    s.put("appReady", ready);
    s.put("appFailed", failed);
    s.put("failedApplies", stats.failedApplies.sum());
    s.put("refusedDocuments", stats.refusedDocuments.sum());
    s.put("churned", stats.churned.sum());
    s.put("cuts", stats.cuts.sum());
    s.put("refused", stats.refused.sum());
    s.put("gaveUp", stats.gaveUp.sum());
    s.put("activations", stats.activations.sum());
    s.put("attestations", stats.attestations.sum());
    s.put("quarantined", stats.quarantined.get());
    Map<String, Integer> k3s = new TreeMap<>();
    Map<String, Integer> k3sRunning = new TreeMap<>();
    for (VirtualDevice d : devices) {
      String p = d.k3s().phase();
      if (p != null) {
        k3s.merge(p, 1, Integer::sum);
        String v = d.k3s().runningVersion();
        if (p.equals(io.edgefleet.protocol.AgentMessage.ClusterNode.PHASE_RUNNING) && v != null) {
          k3sRunning.merge(v, 1, Integer::sum);
        }
      }
    }
    s.put("k3sPhases", k3s);
    s.put("k3sRunning", k3sRunning);
    s.put("k3sClusters", clusters.size());
    s.put("artifactChecks", stats.artifactChecks.sum());
    Map<String, Integer> agents = new TreeMap<>();
    for (VirtualDevice d : devices) {
      agents.merge(d.agentVersion(), 1, Integer::sum);
    }
    s.put("agentVersions", agents);
    s.put("agentUpdates", stats.agentUpdates.sum());
    s.put("agentRollbacks", stats.agentRollbacks.sum());
    s.put("agentRefusals", stats.agentRefusals.sum());
    s.put("agentBytes", stats.agentBytes.sum());
    s.put("tokenFetches", stats.tokenFetches.sum());
    s.put("clusterReports", stats.clusterReports.sum());
    s.put("clusterFailures", stats.clusterFailures.sum());
    s.put("clusterRemovals", stats.clusterRemovals.sum());
    Map<String, Integer> states = new java.util.TreeMap<>();
    for (VirtualDevice d : devices) {
      states.merge(d.state.name(), 1, Integer::sum);
    }
    s.put("states", states);
    MemoryMXBean mem = ManagementFactory.getMemoryMXBean();
    s.put("heapUsedBytes", mem.getHeapMemoryUsage().getUsed());
    s.put("heapPerDeviceBytes", heapPerDevice);
    s.put("threads", ManagementFactory.getThreadMXBean().getThreadCount());
    s.put("lastError", stats.lastError);
    return s;
  }

  /**
   * Heap in use after a full GC divided by the number of devices: what one more device costs, with
   * the JVM's fixed baseline included (so it overstates small fleets).
   */
  public long measureHeapPerDevice() {
    System.gc();
    long used = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    heapPerDevice = used / Math.max(1, devices.size());
    return heapPerDevice;
  }

  private void tick() {
    try {
      Map<String, Object> s = snapshot();
      if (options.statsFile() != null) {
        Path f = options.statsFile();
        Path tmp = f.resolveSibling(f.getFileName() + ".tmp");
        Files.writeString(tmp, Json.write(s) + "\n");
        Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      }
      long now = System.nanoTime();
      if (out != null && now - lastProgress >= TimeUnit.SECONDS.toNanos(5)) {
        double secs = lastProgress == 0 ? 1 : (now - lastProgress) / 1e9;
        lastProgress = now;
        long in = (long) s.get("bytesIn");
        long outB = (long) s.get("bytesOut");
        long top = 0;
        long topCount = 0;
        @SuppressWarnings("unchecked")
        Map<String, Integer> gens = (Map<String, Integer>) s.get("generations");
        for (var e : gens.entrySet()) {
          long g = Long.parseLong(e.getKey());
          if (g > top) {
            top = g;
            topCount = e.getValue();
          }
        }
        out.printf(
            "t=%5.0fs enrolled=%d connected=%d/%d reconnects=%d in-sync(gen %d)=%.1f%%"
                + " fetches=%d bundles=%d failedApplies=%d gaveUp=%d in=%.1fkB/s out=%.1fkB/s"
                + " heap=%dMB%n",
            (double) s.get("t"),
            s.get("enrolled"),
            s.get("connected"),
            devices.size(),
            s.get("reconnects"),
            top,
            100.0 * topCount / devices.size(),
            s.get("desiredFetches"),
            s.get("bundleFetches"),
            s.get("failedApplies"),
            s.get("gaveUp"),
            (in - lastBytesIn) / 1024.0 / secs,
            (outB - lastBytesOut) / 1024.0 / secs,
            ((long) s.get("heapUsedBytes")) >> 20);
        if (stats.lastError != null) {
          out.println("  last error: " + stats.lastError);
        }
        lastBytesIn = in;
        lastBytesOut = outB;
      }
    } catch (IOException | RuntimeException e) {
      stats.lastError = "stats: " + e;
    }
  }

  public int connected() {
    return stats.connected.get();
  }

  public int enrolled() {
    return stats.enrolled.get();
  }

  /** How many devices run each agent version (their active slot). */
  public Map<String, Integer> agentVersions() {
    Map<String, Integer> out = new TreeMap<>();
    for (VirtualDevice d : devices) {
      out.merge(d.agentVersion(), 1, Integer::sum);
    }
    return out;
  }

  /** Agent updates devices confirmed, and rolled back, since the start. */
  public long agentUpdatesConfirmed() {
    return stats.agentUpdates.sum();
  }

  public long agentUpdatesRolledBack() {
    return stats.agentRollbacks.sum();
  }

  /** Enrollment answers lost on purpose ({@link Options#withLostEnrollmentAnswers}). */
  public long lostEnrollmentAnswers() {
    return stats.lostEnrollmentAnswers.sum();
  }

  /** Enrollments this simulator performed (not counting identities loaded from the state). */
  public long enrollments() {
    return stats.enrollments.sum();
  }

  public int size() {
    return devices.size();
  }

  @Override
  public void close() {
    for (VirtualDevice d : devices) {
      d.stop();
    }
    try {
      // Let close frames leave before the selector threads stop.
      scheduler.schedule(() -> {}, 300, TimeUnit.MILLISECONDS).get();
    } catch (Exception e) {
      Thread.currentThread().interrupt();
    }
    tick();
    scheduler.shutdownNow();
    net.close();
  }

  // ------------------------------------------------------------------ identities

  /**
   * Device identities under the state directory: {@code devices/<serial>.json} (device id, key and
   * certificate; mode 0600), the controller CA and signing key, and a fleet id that keeps serials
   * unique between state directories.
   */
  static final class Identities {
    private final Path dir;

    /**
     * @param akKeyPem the software TPM's attestation key (PKCS#8), with {@code --attestation}
     * @param akPublic base64 of its TPMT_PUBLIC
     */
    record Stored(
        String deviceId,
        String keyPem,
        String certificatePem,
        @com.fasterxml.jackson.annotation.JsonInclude(
                com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
            String akKeyPem,
        @com.fasterxml.jackson.annotation.JsonInclude(
                com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
            String akPublic) {}

    record Loaded(
        String deviceId, DeviceKeys.Credential credential, String akPublic, PrivateKey akPrivate) {}

    Identities(Path dir) {
      this.dir = dir;
      try {
        Files.createDirectories(dir.resolve("devices"));
      } catch (IOException e) {
        throw new UncheckedIOException("cannot create the state directory " + dir, e);
      }
    }

    synchronized String fleetId() {
      Path f = dir.resolve("fleet.id");
      try {
        if (Files.exists(f)) {
          return Files.readString(f).trim();
        }
        byte[] b = new byte[4];
        new SecureRandom().nextBytes(b);
        String id = HexFormat.of().formatHex(b);
        SecureFiles.writePublic(f, id + "\n");
        return id;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    java.util.Optional<X509Certificate> ca() {
      Path f = dir.resolve("ca.crt");
      try {
        return Files.exists(f)
            ? java.util.Optional.of(Pem.certificateOf(Files.readString(f)))
            : java.util.Optional.empty();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    /** The keys saved in {@code signing-keys.json}, or the one key an older simulator saved. */
    java.util.Optional<TrustedKeys> trustedKeys() {
      Path f = dir.resolve("signing-keys.json");
      Path legacy = dir.resolve("signing.pub");
      try {
        if (Files.exists(f)) {
          java.util.List<io.edgefleet.protocol.DesiredState.SigningKey> keys = new ArrayList<>();
          Json.mapper()
              .readTree(Files.readString(f))
              .path("keys")
              .forEach(
                  k ->
                      keys.add(
                          new io.edgefleet.protocol.DesiredState.SigningKey(
                              k.path("id").asText(), k.path("publicKeyPem").asText())));
          return java.util.Optional.of(TrustedKeys.parse(keys));
        }
        return Files.exists(legacy)
            ? java.util.Optional.of(TrustedKeys.of(Signatures.publicKey(Files.readString(legacy))))
            : java.util.Optional.empty();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    /** The agent release keys saved in {@code release-keys.json} (none when missing). */
    java.util.List<io.edgefleet.protocol.DesiredState.SigningKey> releaseKeys() {
      Path f = dir.resolve("release-keys.json");
      java.util.List<io.edgefleet.protocol.DesiredState.SigningKey> keys = new ArrayList<>();
      try {
        if (Files.exists(f)) {
          Json.mapper()
              .readTree(Files.readString(f))
              .path("keys")
              .forEach(
                  k ->
                      keys.add(
                          new io.edgefleet.protocol.DesiredState.SigningKey(
                              k.path("id").asText(), k.path("publicKeyPem").asText())));
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return keys;
    }

    void saveReleaseKeys(java.util.Collection<io.edgefleet.protocol.DesiredState.SigningKey> keys) {
      SecureFiles.writePublic(
          dir.resolve("release-keys.json"), Json.pretty(java.util.Map.of("keys", keys)) + "\n");
    }

    void saveTrustedKeys(TrustedKeys keys) {
      SecureFiles.writePublic(
          dir.resolve("signing-keys.json"),
          Json.pretty(java.util.Map.of("keys", keys.announced())) + "\n");
    }

    java.util.Optional<Loaded> load(String serial, int index) {
      Path f = dir.resolve("devices").resolve(serial + ".json");
      if (!Files.exists(f)) {
        return java.util.Optional.empty();
      }
      try {
        Stored s = Json.mapper().readValue(Files.readString(f), Stored.class);
        X509Certificate ca = ca().orElseThrow();
        return java.util.Optional.of(
            new Loaded(
                s.deviceId(),
                new DeviceKeys.Credential(
                    "d" + index,
                    Pem.privateKey(s.keyPem(), "EC"),
                    new X509Certificate[] {Pem.certificateOf(s.certificatePem()), ca}),
                s.akPublic(),
                s.akKeyPem() == null ? null : Pem.privateKey(s.akKeyPem(), "EC")));
      } catch (IOException | RuntimeException e) {
        // An unreadable identity is enrolled again rather than stopping the whole simulation.
        return java.util.Optional.empty();
      }
    }

    void save(
        String serial,
        String deviceId,
        PrivateKey key,
        X509Certificate cert,
        X509Certificate ca,
        SimulatedTpm tpm) {
      Path caFile = dir.resolve("ca.crt");
      if (!Files.exists(caFile)) {
        synchronized (this) {
          if (!Files.exists(caFile)) {
            SecureFiles.writePublic(caFile, Pem.certificate(ca));
          }
        }
      }
      SecureFiles.writeSecret(
          dir.resolve("devices").resolve(serial + ".json"),
          Json.write(
              new Stored(
                  deviceId,
                  Pem.privateKey(key),
                  Pem.certificate(cert),
                  tpm == null ? null : Pem.privateKey(tpm.attestationKey().getPrivate()),
                  tpm == null ? null : tpm.attestationPublic())));
    }
  }
}
