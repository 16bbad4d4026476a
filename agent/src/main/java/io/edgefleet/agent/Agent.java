package io.edgefleet.agent;

import io.edgefleet.agent.reconcile.DriftEvents;
import io.edgefleet.agent.reconcile.Reconciler;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.agent.runtime.kubernetes.TlsAccess;
import io.edgefleet.agent.secrets.SecretSync;
import io.edgefleet.agent.shell.FileHandler;
import io.edgefleet.agent.shell.ShellHandler;
import io.edgefleet.agent.tunnel.KubeHandler;
import io.edgefleet.agent.tunnel.StreamHandler;
import io.edgefleet.agent.tunnel.TcpHandler;
import io.edgefleet.agent.tunnel.TunnelService;
import io.edgefleet.device.BootstrapFile;
import io.edgefleet.device.Timeouts;
import io.edgefleet.device.desiredstate.Refused;
import io.edgefleet.device.desiredstate.TrustedKeys;
import io.edgefleet.device.desiredstate.Verified;
import io.edgefleet.device.link.ControllerLink;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.tls.DeviceKeyAgreement;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.random.RandomGenerator;
import javax.net.ssl.SSLContext;

/**
 * The edge agent: enrolls once with its own key, then keeps one outbound mutual-TLS WebSocket to
 * the controller, heartbeating at the cadence the controller sets and reconnecting whenever the
 * link or the controller goes away. It keeps running its last verified desired state without the
 * controller.
 *
 * <p>The parts: {@link Enroller} (the first contact), {@link ControllerLink} from the device core
 * over a {@link WebSocketTransport} (the socket, its heartbeats and dead-link detection), {@link
 * DesiredStateSync} (documents and bundles, on a thread of its own, resuming cut downloads), {@link
 * ReconcileLoop} (the runtime kept at the desired state), {@link Renewer} (the certificate), {@link
 * Outages} (the waits after a failure and what the log says), {@link Refusal} (what an error answer
 * of the controller means for the device) and {@link Features} (telemetry, logs and whatever else
 * shares the connection). This class is their life cycle and the control loop that decides what
 * happens next.
 *
 * <p>Threading: the control loop's steps run as tasks on the given scheduler, one at a time per
 * agent, and never wait on the network: requests are sent asynchronously and their answers come
 * back as further steps. Several agents may share one scheduler. Reconcile passes and downloads run
 * on the worker executor.
 *
 * <p>Reconnecting: a failure of the link itself (no route, a timeout, a stalled transfer) is
 * retried within a few seconds, since probing a dead link costs the controller nothing and the
 * device should be back as soon as the link is; a controller that refuses the connection or answers
 * with an error is backed off from exponentially with full jitter (up to {@link
 * AgentOptions#maxBackoff()}); a refused device (revoked, rejected, bad token) waits long.
 */
public final class Agent implements AutoCloseable {

  /** Where the agent is in its life. */
  public enum State {
    STARTING,
    ENROLLING,
    PENDING_APPROVAL,
    CONNECTING,
    CONNECTED,
    BACKING_OFF,
    ENROLLMENT_REFUSED,
    REJECTED,
    REVOKED,
    STOPPED
  }

  /**
   * A snapshot for people and tests.
   *
   * @param stalledTransfers downloads given up for lack of progress (and resumed later)
   */
  public record Status(
      State state,
      Optional<String> deviceId,
      Optional<String> enrollmentCode,
      Optional<String> lastError,
      Optional<Instant> certificateNotAfter,
      long connections,
      long refusals,
      long stalledTransfers) {}

  private static final Duration RENEWAL_CHECK = Duration.ofHours(12);
  private static final Duration RENEWAL_RETRY = Duration.ofHours(1);

  /** The pause before trying another URL of the controller when one could not be reached. */
  private static final Duration FAILOVER_DELAY = Duration.ofMillis(200);

  private final AgentOptions options;
  private final ScheduledExecutorService scheduler;
  private final Executor httpExecutor;
  private final RandomGenerator random;
  private final ControllerUrls urls;
  private final Clock clock;
  private final PrintStream out;
  private final TpmAccess tpm;
  private final IdentityStore identities;
  private final Facts facts;
  private final Outages outages;
  private final long bootId;
  private final AtomicLong connections = new AtomicLong();
  private final AtomicLong refusals = new AtomicLong();
  private final Enroller enroller;
  private final Renewer renewer;
  private final DesiredStateSync sync;
  private final ReconcileLoop reconcile;
  private final SecretSync secrets;
  private final TrustGuard trust;
  private final Features features;
  private final KubernetesVersionReporter kubernetesVersion;
  private final TunnelService tunnels;

  private volatile State state = State.STARTING;
  private volatile String deviceId;
  private volatile String enrollmentCode;
  private volatile String lastError;
  private volatile boolean closed;
  private volatile Instant certificateNotAfter;
  private volatile ControllerLink link;
  private volatile IdentityStore.Identity adopted;

  // Touched only in the control loop.
  private IdentityStore.Identity identity;
  private volatile Transfers transfers;
  private Transfers retired;
  private long stalledBefore;
  private ScheduledFuture<?> pending;
  private ScheduledFuture<?> renewal;
  private String shownCode;

  public Agent(
      AgentOptions options,
      ScheduledExecutorService scheduler,
      Executor httpExecutor,
      RandomGenerator random,
      Clock clock,
      PrintStream out,
      WorkloadRuntime runtime) {
    this(options, scheduler, httpExecutor, random, clock, out, runtime, java.util.Map.of());
  }

  /**
   * @param tunnelHandlers tunnel kinds this device offers besides {@code tcp} (port-forward to
   *     itself and the hosts of {@link AgentOptions#tunnelHosts}) and {@code kube} (its Kubernetes
   *     API server, as the kubeconfig of {@link AgentOptions#k3sKubeconfig} reaches it)
   */
  public Agent(
      AgentOptions options,
      ScheduledExecutorService scheduler,
      Executor httpExecutor,
      RandomGenerator random,
      Clock clock,
      PrintStream out,
      WorkloadRuntime runtime,
      java.util.Map<String, StreamHandler> tunnelHandlers) {
    java.util.Map<String, StreamHandler> kinds = new java.util.HashMap<>();
    kinds.put("tcp", new TcpHandler(options.tunnelHosts(), Timeouts.CONNECT));
    kinds.put(
        "kube",
        new KubeHandler(
            () -> {
              TlsAccess.Api a = TlsAccess.kubeconfig(options.k3sKubeconfig());
              return new KubeHandler.Api(a.server(), a.ssl(), a.token());
            },
            Timeouts.CONNECT));
    // Shells and file copies: always offered, refused unless the device's configuration allows
    // them, so the refusal names the option that turns them on.
    kinds.put(
        DeviceFacts.ALLOW_SHELL,
        new ShellHandler(
            options.remoteAccess().contains(DeviceFacts.ALLOW_SHELL),
            ShellHandler.defaultShell(null)));
    kinds.put(
        DeviceFacts.ALLOW_FILE,
        new FileHandler(options.remoteAccess().contains(DeviceFacts.ALLOW_FILE)));
    kinds.putAll(tunnelHandlers);
    this.tunnels = new TunnelService(kinds, out);
    this.options = options;
    this.scheduler = scheduler;
    this.httpExecutor = httpExecutor;
    this.random = random;
    this.urls = new ControllerUrls(random);
    this.clock = clock;
    this.out = out;
    this.tpm = new TpmAccess(options.tpm());
    this.identities = new IdentityStore(options.stateDir(), tpm);
    TpmEventLog eventLog = new TpmEventLog(options.tpmEventLog());
    this.facts = new Facts(java.nio.file.Path.of("/"), runtime::workloadKinds);
    this.outages = new Outages(options.maxBackoff(), random, clock, out);
    this.features = new Features(out);
    this.kubernetesVersion =
        new KubernetesVersionReporter(
            runtime, scheduler, httpExecutor, options.clusterCheckInterval(), out);
    features.add(kubernetesVersion);
    features.add(new AttestationFeature(tpm, eventLog, httpExecutor));
    this.bootId = random.nextLong();
    this.enroller = new Enroller(identities, this::transfers, httpExecutor, eventLog);
    this.renewer = new Renewer(identities, clock, httpExecutor);
    this.sync =
        new DesiredStateSync(
            options.stateDir(),
            identities,
            httpExecutor,
            scheduler,
            random,
            out,
            new DesiredStateSync.Listener() {
              @Override
              public void applied(Verified v) {
                out.printf(
                    "desired state generation %d: %d app(s)%n",
                    v.state().generation(), v.state().apps().size());
                trust.applied(v);
                features.applied(v.state());
                // The controller learns which generation and signing keys this device holds.
                reconcile.reportNext();
                reconcile.start();
                reconcile.request();
              }

              @Override
              public void refused(String kind, String message) {
                lastError = message;
                out.println(message);
                event(kind, "error", null, message);
              }

              @Override
              public void problem(String message) {
                if (message != null) {
                  lastError = message;
                }
              }

              @Override
              public void linkFailed() {
                // The socket may hold data the kernel will only resend a minute after the link
                // returns: ask it to prove it carries, so a stuck one is replaced in seconds.
                ControllerLink l = link;
                if (l != null) {
                  l.verify();
                }
              }
            });
    this.secrets =
        new SecretSync(
            runtime.secrets(),
            () -> deviceId,
            () -> keyAgreement().orElse(null),
            new SecretFetcher(() -> transfers, this::controllerUrl),
            httpExecutor,
            scheduler,
            options.reconcileInterval(),
            (kind, severity, message) -> event(kind, severity, null, message));
    this.trust =
        new TrustGuard(
            options.stateDir(),
            sync::current,
            secrets,
            new TrustGuard.Effects() {
              @Override
              public void reconcile() {
                reconcile.start();
                reconcile.request();
              }

              @Override
              public void event(String kind, String severity, String message) {
                out.println(message);
                Agent.this.event(kind, severity, null, message);
              }
            });
    this.reconcile =
        new ReconcileLoop(
            new Reconciler(
                runtime, new DriftEvents(clock, DriftEvents.DEFAULT_INTERVAL, this::event)),
            trust::effective,
            digest -> sync.store().bundle(digest),
            () -> sync.trusted().map(TrustedKeys::ids).orElse(List.of()),
            httpExecutor,
            scheduler,
            options.reconcileInterval(),
            new ReconcileLoop.Sink() {
              @Override
              public void event(String kind, String severity, String app, String message) {
                Agent.this.event(kind, severity, app, message);
              }

              @Override
              public void reconciled(long generation) {
                features.reconciled(generation);
              }

              @Override
              public boolean report(AgentMessage.AppReport report) {
                ControllerLink l = link;
                return l != null && state == State.CONNECTED && l.send(report);
              }

              @Override
              public void problem(String message) {
                lastError = message;
              }
            });
  }

  /**
   * Adds a feature (telemetry, logs) that uses the agent's connection; call before {@link #start}.
   */
  public void add(AgentFeature feature) {
    features.add(feature);
  }

  /**
   * Begins enrolling or connecting; returns at once. The state directory is first restricted to
   * this user (directories 0700, files 0600), whatever an older version left behind.
   *
   * @throws AgentException if the bootstrap file, the state or the TPM is unusable
   */
  public void start() {
    // Fail fast on a malformed bootstrap file or state: nothing would ever succeed.
    bootstrap();
    restrictStateDirectory();
    if (tpm.configured() && !identities.softwareKey()) {
      // A TPM that will hold the key but is unusable stops the agent here, with what to do; a
      // device that keeps its software key does not need it.
      tpm.device();
    }
    identities
        .load()
        .ifPresent(
            id -> {
              deviceId = id.deviceId();
              // Autonomy: run the last verified desired state before any contact with the
              // controller.
              sync.load(id.deviceId());
              if (sync.current().isPresent()) {
                reconcile.start();
                trust.applied(sync.current().get());
                features.applied(sync.current().get().state());
              }
            });
    kubernetesVersion.start();
    run(this::step, Duration.ZERO);
  }

  /**
   * The state holds the device key, certificates and the deployed bundles (which carry the apps'
   * secrets): nobody but the agent's user may read it. Older versions wrote it 0644 in 0755
   * directories.
   */
  private void restrictStateDirectory() {
    Path dir = options.stateDir();
    try {
      SecureFiles.createPrivateDirectories(dir);
      int changed = SecureFiles.restrictToOwner(dir);
      if (changed > 0) {
        out.printf(
            "restricted %d path(s) in %s to this user (directories 0700, files 0600)%n",
            changed, dir);
      }
    } catch (UncheckedIOException e) {
      throw new AgentException(
          AgentException.Code.STATE_PERMISSIONS,
          "the state directory "
              + dir
              + " cannot be restricted to this user ("
              + e.getMessage()
              + "); it and everything in it must belong to the user the agent runs as",
          e);
    }
  }

  /**
   * The round trips of the recent heartbeats on the current connection (queued to answered), empty
   * when it has none.
   */
  public List<Duration> heartbeatRoundTrips() {
    ControllerLink l = link;
    return l == null ? List.of() : l.heartbeatRoundTrips();
  }

  /** The generation of the desired state this device holds (0 if none). */
  public long generation() {
    return sync.generation();
  }

  /** The secrets of the desired state as the last pass left them, by name. */
  public java.util.Map<String, SecretSync.Status> secrets() {
    return secrets.status();
  }

  /** Whether the controller quarantined this device (it then holds no secrets). */
  public boolean quarantined() {
    return trust.quarantined();
  }

  /**
   * The controller's device routes for the cluster feature: artifacts, cluster tokens, and the
   * local address of the connection.
   */
  public ControllerAccess controllerAccess() {
    return new ClusterAccess(() -> transfers, this::controllerUrl);
  }

  /**
   * Asks for a reconcile pass soon, e.g. because what an app waited for (its artifacts) arrived;
   * requests while one is queued are one pass. Returns at once; thread-safe. Nothing happens before
   * a desired state is in effect.
   */
  public void reconcileSoon() {
    if (sync.current().isPresent()) {
      reconcile.start();
      reconcile.request();
    }
  }

  /** What the last reconcile found, per app. */
  public List<AppState> apps() {
    return reconcile.apps();
  }

  /**
   * ECDH with the current device key (in the TPM or in software), to open secrets sealed to the
   * device's certificate; empty before enrollment. After a renewal it is the new key's.
   */
  public Optional<DeviceKeyAgreement> keyAgreement() {
    return Optional.ofNullable(adopted).map(IdentityStore.Identity::keyAgreement);
  }

  /**
   * {@code tpm} or {@code software}: where the current device key lives; empty before enrollment.
   */
  public Optional<String> identityKind() {
    return Optional.ofNullable(adopted).map(IdentityStore.Identity::kind);
  }

  /** The current identity (key, certificate, CA); empty before enrollment. */
  public Optional<IdentityStore.Identity> identity() {
    return Optional.ofNullable(adopted);
  }

  public Status status() {
    return new Status(
        state,
        Optional.ofNullable(deviceId),
        Optional.ofNullable(enrollmentCode),
        Optional.ofNullable(lastError),
        Optional.ofNullable(certificateNotAfter),
        connections.get(),
        refusals.get(),
        stalledBefore + (transfers == null ? 0 : transfers.stalls()));
  }

  @Override
  public void close() {
    features.close();
    reconcile.close();
    secrets.close();
    sync.close();
    synchronized (this) {
      closed = true;
      if (pending != null) {
        pending.cancel(false);
      }
      if (renewal != null) {
        renewal.cancel(false);
      }
      ControllerLink l = link;
      if (l != null) {
        l.close(WebSocket.NORMAL_CLOSURE, "agent stopping");
        link = null;
      }
      for (Transfers t : new Transfers[] {transfers, retired}) {
        if (t != null) {
          t.client().shutdownNow();
        }
      }
      state = State.STOPPED;
    }
    tpm.close();
  }

  /**
   * Reads and verifies a desired-state document that came another way than the controller link (an
   * imported export bundle), against what the device holds: its id, the signing keys it trusts and
   * the generation a new document must be above. It stores the document's bundles and blobs before
   * it returns.
   */
  @FunctionalInterface
  public interface DocumentSource {
    Verified read(String deviceId, TrustedKeys trusted, long held)
        throws Refused, java.io.IOException;
  }

  /**
   * Takes a document from {@code source} (an imported export bundle) on the same path as a document
   * from the controller: the replay floor is raised, newly announced keys are trusted, the document
   * is stored and the reconcile loop runs it. Serialised with documents from the link.
   *
   * @throws Refused if the device is not enrolled or the document is refused; nothing changed
   */
  public Verified importDocument(DocumentSource source) throws Refused, java.io.IOException {
    return sync.take(source);
  }

  /**
   * {@link #importDocument} for a stopped agent: writes into {@code stateDir} what the agent reads
   * when it starts. The caller makes sure no agent runs on {@code stateDir} meanwhile.
   */
  public static Verified importStopped(Path stateDir, DocumentSource source, PrintStream out)
      throws Refused, java.io.IOException {
    IdentityStore identities = new IdentityStore(stateDir);
    String id =
        identities
            .deviceId()
            .orElseThrow(
                () ->
                    new Refused(
                        "import-not-enrolled",
                        "the state directory "
                            + stateDir
                            + " holds no enrolled device: enroll the device once, then import"));
    java.util.concurrent.ScheduledExecutorService timer =
        java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
    try {
      DesiredStateSync sync =
          new DesiredStateSync(
              stateDir,
              identities,
              Runnable::run,
              timer,
              RandomGenerator.getDefault(),
              out,
              new DesiredStateSync.Listener() {
                @Override
                public void applied(Verified v) {}

                @Override
                public void refused(String kind, String message) {}

                @Override
                public void problem(String message) {}
              });
      sync.load(id);
      return sync.take(source);
    } finally {
      timer.shutdownNow();
    }
  }

  /** The directory the agent keeps its state in. */
  public Path stateDir() {
    return options.stateDir();
  }

  /**
   * Records something that happened on the device: through a feature that keeps events (the
   * outbox), else sent at once if connected.
   */
  public void event(String kind, String severity, String app, String message) {
    Instant at = clock.instant();
    if (features.event(kind, severity, app, message, at)) {
      return;
    }
    ControllerLink l = link;
    if (l != null) {
      l.send(new AgentMessage.Event(kind, message, at));
    }
  }

  private void step() {
    if (closed) {
      return;
    }
    try {
      if (identity == null) {
        Optional<IdentityStore.Identity> stored = identities.load();
        if (stored.isPresent()) {
          adopt(stored.get());
        } else {
          enroll();
          return;
        }
      }
      connect();
    } catch (AgentException e) {
      fail(
          e.getMessage(),
          e.code() == AgentException.Code.STATE_CORRUPT ? options.refusedBackoff() : null);
    }
  }

  // ---------------------------------------------------------------- enrollment

  private void enroll() {
    state = State.ENROLLING;
    Bootstrap bootstrap = bootstrap();
    String url = controllerUrl();
    enroller
        .enroll(
            bootstrap,
            url,
            facts.collect(options.serial(), options.stateDir()),
            options.name().orElse(null))
        .whenComplete((result, error) -> run(() -> enrolled(url, result, error), null));
  }

  private void enrolled(String url, Enroller.Result result, Throwable error) {
    if (error != null) {
      Throwable cause = error instanceof CompletionException c ? c.getCause() : error;
      fail(
          cause instanceof AgentException a ? a.getMessage() : "enrollment failed: " + cause, null);
      return;
    }
    switch (result) {
      case Enroller.Result.Approved a -> {
        a.keys().ifPresent(sync::trust);
        sync.load(a.identity().deviceId());
        urls.worked();
        out.printf("enrolled as %s with %s%n", a.identity().deviceId(), url);
        adopt(a.identity());
        outages.answered();
        connect();
      }
      case Enroller.Result.Pending p -> {
        state = State.PENDING_APPROVAL;
        deviceId = p.answer().deviceId();
        enrollmentCode = p.answer().enrollmentCode();
        if (!p.answer().enrollmentCode().equals(shownCode)) {
          shownCode = p.answer().enrollmentCode();
          out.printf(
              "waiting for approval. Enrollment code: %s%n"
                  + "  an operator approves it with: edgefleet devices approve %s%n"
                  + "  or by opening: %s%n",
              shownCode, shownCode, p.answer().approvalUrl());
          if (options.showQr() && p.answer().approvalUrl() != null) {
            out.print(QrTerminal.render(p.answer().approvalUrl()));
          }
        }
        run(this::step, Timeouts.enrollmentRetry(p.answer().retryAfterSeconds()));
      }
      case Enroller.Result.Rejected r ->
          refusedFor(State.REJECTED, "an operator rejected this device");
      case Enroller.Result.Refused r -> refused(r.status(), r.body(), "enrollment");
      case Enroller.Result.Unreachable u -> unreachable(url, u.problem());
    }
  }

  private void adopt(IdentityStore.Identity id) {
    identity = id;
    adopted = id;
    deviceId = id.deviceId();
    certificateNotAfter = id.certificate().getNotAfter().toInstant();
    enrollmentCode = null;
    if (transfers != null) {
      // The live socket (if any) belongs to the old client: retire it at the next connect.
      if (retired != null) {
        retired.client().shutdownNow();
      }
      retired = transfers;
      stalledBefore += transfers.stalls();
    }
    PinnedCaTrustManager trust = new PinnedCaTrustManager(id.caFingerprint(), id.ca());
    transfers =
        transfers(
            TlsContexts.mutual(
                id.key().getPrivate(), new X509Certificate[] {id.certificate(), id.ca()}, trust));
    sync.connect(id.deviceId(), transfers, this::controllerUrl);
  }

  // ---------------------------------------------------------------- connection

  private void connect() {
    state = State.CONNECTING;
    if (retired != null) {
      retired.client().shutdownNow();
      retired = null;
    }
    String base = controllerUrl();
    URI uri = URI.create(base.replaceFirst("^https", "wss") + DeviceApi.CONNECT);
    ControllerLink l =
        new ControllerLink(
            new ControllerLink.Handler() {
              @Override
              public void welcomed(ControllerLink link, ControllerMessage.Welcome welcome) {
                run(() -> connected(link, welcome), null);
              }

              @Override
              public void received(ControllerLink link, ControllerMessage message) {
                Agent.this.received(link, message);
              }

              @Override
              public void closed(ControllerLink link, int code, String reason) {
                run(() -> disconnected(link, code, reason), null);
              }
            },
            scheduler,
            clock,
            random,
            new AgentMessage.Hello(
                Facts.AGENT_VERSION,
                bootId,
                sync.held(),
                options.remoteAccess().stream().sorted().toList(),
                facts.runtimes()),
            tunnels);
    link = l;
    transfers
        .client()
        .newWebSocketBuilder()
        .connectTimeout(Timeouts.CONNECT)
        .buildAsync(uri, new WebSocketTransport(l))
        .whenComplete(
            (ws, err) -> {
              if (err != null) {
                run(() -> connectFailed(l, err, base), null);
              }
            });
  }

  /**
   * The bootstrap file, read afresh (it may have been replaced).
   *
   * @throws AgentException if it is unusable
   */
  private Bootstrap bootstrap() {
    try {
      return BootstrapFile.read(options.bootstrapFile());
    } catch (BootstrapFile.Invalid e) {
      throw new AgentException(AgentException.Code.BOOTSTRAP_INVALID, e.getMessage(), e);
    }
  }

  /** The controller URL in use: one of its replicas' (see {@link ControllerUrls}). */
  private String controllerUrl() {
    return urls.current(controllerUrls());
  }

  private List<String> controllerUrls() {
    // The bootstrap file may have been replaced to point at a moved controller, or name more of
    // its replicas; the signed desired state names the controller's URLs as it knows them now.
    List<String> urls;
    try {
      Bootstrap b = bootstrap();
      if (identity == null || b.caFingerprint().equals(identity.caFingerprint())) {
        urls = b.urls();
      } else {
        urls = List.of(identity.controllerUrl());
      }
    } catch (AgentException e) {
      if (identity == null) {
        throw e;
      }
      // Keep using the URL we enrolled with.
      urls = List.of(identity.controllerUrl());
    }
    List<String> announced = sync.current().map(v -> v.state().controllerUrls()).orElse(List.of());
    return Bootstrap.union(urls, announced);
  }

  /**
   * The controller at {@code base} could not be reached: another of its URLs is tried at once while
   * one of this round is left, else the device backs off.
   */
  private void unreachable(String base, LinkProblem problem) {
    if (urls.failed(base)) {
      retry(problem.message() + "; trying " + controllerUrl(), FAILOVER_DELAY);
    } else {
      failed(problem);
    }
  }

  private void connectFailed(ControllerLink l, Throwable err, String base) {
    if (link != l || closed) {
      return;
    }
    link = null;
    Throwable cause =
        err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
    if (cause instanceof WebSocketHandshakeException hs) {
      HttpResponse<?> r = hs.getResponse();
      Object body = r.body();
      refused(r.statusCode(), body instanceof String s ? s : "", "connection");
      return;
    }
    unreachable(base, LinkProblem.of(cause, base));
  }

  private void connected(ControllerLink l, ControllerMessage.Welcome welcome) {
    if (link != l || closed) {
      return;
    }
    urls.worked();
    int heartbeatSeconds = welcome.heartbeatSeconds();
    boolean first = state != State.CONNECTED;
    if (first) {
      // Counted before the state changes, so a reader that sees CONNECTED sees the count too.
      connections.incrementAndGet();
    }
    state = State.CONNECTED;
    lastError = null;
    outages.connected();
    if (first) {
      out.printf(
          "connected to %s as %s (heartbeat every %ds)%s%n",
          controllerUrl(), deviceId, heartbeatSeconds, outages.over());
    }
    l.heartbeatEvery(Timeouts.heartbeat(heartbeatSeconds));
    if (first) {
      reconcile.reportNext();
      // A controller that read our generation in the hello sends a newer document itself; an
      // older one only says its generation, which may also be lower than ours after a restore.
      if (!welcome.catchUp() && welcome.generation() != generation()) {
        sync.refresh();
      }
      reconcile.request();
      renewIfDue();
      features.connected(l, () -> link, welcome);
      synchronized (early) {
        welcomed = l;
        // What came between the welcome and now, in order, before anything newer.
        for (Early e : early) {
          if (e.link() == l) {
            features.handle(e.message());
          }
        }
        early.clear();
      }
    }
  }

  /** A message that arrived before its link's welcome was handled. */
  private record Early(ControllerLink link, ControllerMessage message) {}

  /** At most this many messages wait for a welcome; a controller sends one or two. */
  private static final int MAX_EARLY = 32;

  /** Messages for the features that arrived before the welcome was handled; guarded by itself. */
  private final List<Early> early = new ArrayList<>();

  /** The link whose welcome the features have seen; guarded by {@link #early}. */
  private ControllerLink welcomed;

  /** On the socket's thread: nudges go to the sync, the rest to the features. Never blocks. */
  private void received(ControllerLink l, ControllerMessage message) {
    if (link != l || closed) {
      return;
    }
    if (message instanceof ControllerMessage.Nudge n) {
      sync.offer(n);
      return;
    }
    if (message instanceof ControllerMessage.TrustState t) {
      trust.handle(t);
      return;
    }
    synchronized (early) {
      // The welcome is handled on the agent's own thread: a challenge sent right after it must
      // not reach features that do not know the link yet.
      if (welcomed != l) {
        if (early.size() < MAX_EARLY) {
          early.add(new Early(l, message));
        }
        return;
      }
    }
    features.handle(message);
  }

  private void disconnected(ControllerLink l, int code, String reason) {
    if (link != l || closed) {
      return;
    }
    link = null;
    if (state == State.CONNECTED) {
      features.disconnected();
    }
    if (code == DeviceApi.CLOSE_REVOKED) {
      refusedFor(State.REVOKED, "the controller revoked this device: " + reason);
      return;
    }
    String message = "connection closed (" + code + (reason.isEmpty() ? "" : ", " + reason) + ")";
    // A link that died (no answer, reset) is retried quickly; a controller that closed the
    // socket (going away, restarting) is given the usual backoff.
    failed(new LinkProblem(code == 1006, message));
  }

  // ---------------------------------------------------------------- certificate renewal

  /**
   * Renews the device certificate once less than a third of its lifetime is left. Checked after
   * each new connection and every 12 hours; a failure is retried within the hour and never disturbs
   * the connection.
   */
  private void renewIfDue() {
    if (renewal != null) {
      renewal.cancel(false);
    }
    if (!renewer.due(identity.certificate())) {
      renewal = scheduleStep(this::renewIfDue, RENEWAL_CHECK);
      return;
    }
    IdentityStore.Identity id = identity;
    renewer
        .renew(id, transfers, controllerUrl())
        .whenComplete(
            (renewed, error) ->
                run(
                    () -> {
                      if (identity != id) {
                        return;
                      }
                      if (error != null) {
                        Throwable cause =
                            error instanceof CompletionException c ? c.getCause() : error;
                        lastError = cause.getMessage();
                        out.printf(
                            "%s; trying again in %s%n",
                            cause.getMessage(), Outages.human(RENEWAL_RETRY));
                        renewal = scheduleStep(this::renewIfDue, RENEWAL_RETRY);
                        return;
                      }
                      adopt(renewed);
                      out.printf(
                          "renewed the device certificate; valid until %s%n",
                          renewed.certificate().getNotAfter().toInstant());
                      renewal = scheduleStep(this::renewIfDue, RENEWAL_CHECK);
                    },
                    null));
  }

  // ---------------------------------------------------------------- failures

  private void refused(int status, String body, String what) {
    Refusal r = Refusal.of(status, body, what);
    r.state().ifPresentOrElse(s -> refusedFor(s, r.message()), () -> fail(r.message(), null));
  }

  private void refusedFor(State s, String message) {
    refusals.incrementAndGet();
    state = s;
    lastError = message;
    // Jitter within the upper half of the window so refused devices never synchronise.
    long window = options.refusedBackoff().toMillis();
    Duration delay = Duration.ofMillis(window / 2 + random.nextLong(window / 2 + 1));
    out.printf("%s; will try again in %s%n", message, Outages.human(delay));
    run(this::step, delay);
  }

  /** The controller could not be reached: the link is retried quickly, a refusal backed off. */
  private void failed(LinkProblem problem) {
    retry(problem.message(), outages.delay(problem.link()));
  }

  private void fail(String message, Duration fixedDelay) {
    retry(message, fixedDelay != null ? fixedDelay : outages.delay(false));
  }

  /** Tries again after {@code delay}; {@link Outages} says so in the log. */
  private void retry(String message, Duration delay) {
    state = State.BACKING_OFF;
    outages.failed(message, lastError, delay);
    lastError = message;
    run(this::step, delay);
  }

  // ---------------------------------------------------------------- plumbing

  private Transfers transfers(SSLContext ssl) {
    HttpClient client =
        HttpClient.newBuilder()
            .sslContext(ssl)
            .connectTimeout(Timeouts.CONNECT)
            .executor(httpExecutor)
            .version(HttpClient.Version.HTTP_1_1)
            .build();
    Transfers.Limits defaults = Transfers.Limits.defaults();
    return new Transfers(
        client,
        scheduler,
        new Transfers.Limits(defaults.headers(), options.stallTimeout(), defaults.minBytes()));
  }

  /**
   * Runs a control-loop step after {@code delay} (now if null or zero); a delayed step replaces the
   * one still waiting, so there is one pending retry at a time.
   */
  private void run(Runnable task, Duration delay) {
    if (closed) {
      return;
    }
    Runnable guarded = serialized(task);
    if (delay == null || delay.isZero()) {
      scheduler.execute(guarded);
    } else {
      synchronized (this) {
        if (pending != null && !pending.isDone()) {
          pending.cancel(false);
        }
        pending = scheduler.schedule(guarded, delay.toMillis(), TimeUnit.MILLISECONDS);
      }
    }
  }

  private ScheduledFuture<?> scheduleStep(Runnable task, Duration delay) {
    return scheduler.schedule(serialized(task), delay.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Runs control-loop work one task at a time even on a scheduler shared by many agents. */
  private Runnable serialized(Runnable task) {
    return () -> {
      synchronized (this) {
        if (closed) {
          return;
        }
        try {
          task.run();
        } catch (AgentException e) {
          fail(e.getMessage(), null);
        } catch (RuntimeException e) {
          fail("unexpected error: " + e, null);
        }
      }
    };
  }
}
