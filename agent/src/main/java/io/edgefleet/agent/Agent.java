package io.edgefleet.agent;

import io.edgefleet.agent.desiredstate.DesiredStateStore;
import io.edgefleet.agent.desiredstate.ReplayFloor;
import io.edgefleet.agent.desiredstate.TrustedKeys;
import io.edgefleet.agent.reconcile.Reconciler;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ApiError;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.EnrollmentRequest;
import io.edgefleet.protocol.EnrollmentResponse;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.RenewalRequest;
import io.edgefleet.protocol.RenewalResponse;
import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.SignedDesiredState;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.random.RandomGenerator;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * The edge agent: enrolls once with its own key, then keeps one outbound mutual-TLS WebSocket to
 * the controller, heartbeating at the cadence the controller sets and reconnecting with exponential
 * backoff and full jitter whenever the link or the controller goes away. A revoked device backs off
 * for long instead of hammering.
 *
 * <p>Threading: all state changes run as tasks on the given scheduler, one at a time per agent;
 * socket callbacks hand their work to it. Several agents may share one scheduler.
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

  /** A snapshot for people and tests. */
  public record Status(
      State state,
      Optional<String> deviceId,
      Optional<String> enrollmentCode,
      Optional<String> lastError,
      Optional<Instant> certificateNotAfter,
      long connections,
      long refusals) {}

  /**
   * How an agent runs.
   *
   * @param maxBackoff cap of the reconnect backoff window
   * @param refusedBackoff wait after the controller refused this device (revoked, rejected, bad
   *     token); long, so refused devices do not hammer the controller
   */
  public record Options(
      Path bootstrapFile,
      Path stateDir,
      Optional<String> serial,
      Duration maxBackoff,
      Duration refusedBackoff,
      boolean showQr,
      Duration reconcileInterval) {
    public static Options of(Path bootstrapFile, Path stateDir) {
      return new Options(
          bootstrapFile,
          stateDir,
          Optional.empty(),
          Duration.ofSeconds(60),
          Duration.ofHours(1),
          true,
          Duration.ofSeconds(10));
    }

    public Options withSerial(String s) {
      return new Options(
          bootstrapFile,
          stateDir,
          Optional.ofNullable(s),
          maxBackoff,
          refusedBackoff,
          showQr,
          reconcileInterval);
    }

    public Options withMaxBackoff(Duration d) {
      return new Options(
          bootstrapFile, stateDir, serial, d, refusedBackoff, showQr, reconcileInterval);
    }

    public Options withRefusedBackoff(Duration d) {
      return new Options(bootstrapFile, stateDir, serial, maxBackoff, d, showQr, reconcileInterval);
    }

    public Options withQr(boolean show) {
      return new Options(
          bootstrapFile, stateDir, serial, maxBackoff, refusedBackoff, show, reconcileInterval);
    }

    /** How often the runtime is compared with the desired state (self-healing drift). */
    public Options withReconcileInterval(Duration d) {
      return new Options(bootstrapFile, stateDir, serial, maxBackoff, refusedBackoff, showQr, d);
    }
  }

  private static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(30);
  private static final int MAX_BUNDLE_BYTES = 64 * 1024 * 1024;
  private static final Duration HTTP_TIMEOUT = Duration.ofSeconds(30);

  private final Options options;
  private final ScheduledExecutorService scheduler;
  private final Executor httpExecutor;
  private final RandomGenerator random;
  private final Clock clock;
  private final PrintStream out;
  private final IdentityStore identities;
  private final Facts facts;
  private final Backoff backoff;
  private final long bootId;
  private final AtomicLong connections = new AtomicLong();
  private final AtomicLong refusals = new AtomicLong();

  private volatile State state = State.STARTING;
  private volatile String deviceId;
  private volatile String enrollmentCode;
  private volatile String lastError;
  private volatile boolean closed;
  private volatile Instant certificateNotAfter;

  // Touched only on the scheduler.
  private IdentityStore.Identity identity;
  private HttpClient mtlsClient;
  private HttpClient retiredClient;
  private volatile Link link;
  private final WorkloadRuntime runtime;
  private final Reconciler reconciler;
  private final DesiredStateStore desiredStore;
  private final Object reconcileLock = new Object();
  private volatile DesiredStateStore.Verified current;
  private final ReplayFloor replayFloor;

  /**
   * The highest generation ever accepted by this enrollment (persisted in {@link #replayFloor}).
   */
  private volatile long floor;

  /** The desired-state signing keys this device trusts; null until it has any. */
  private volatile TrustedKeys trusted;

  private volatile List<AppState> lastReported = List.of();
  private volatile boolean reportDue;
  private ScheduledFuture<?> reconcileLoop;
  private ScheduledFuture<?> pending;
  private ScheduledFuture<?> renewal;
  private String shownCode;
  private final List<AgentFeature> features = new java.util.concurrent.CopyOnWriteArrayList<>();

  public Agent(
      Options options,
      ScheduledExecutorService scheduler,
      Executor httpExecutor,
      RandomGenerator random,
      Clock clock,
      PrintStream out,
      WorkloadRuntime runtime) {
    this.options = options;
    this.runtime = runtime;
    this.reconciler = new Reconciler(runtime);
    this.desiredStore = new DesiredStateStore(options.stateDir());
    this.replayFloor = new ReplayFloor(options.stateDir());
    this.scheduler = scheduler;
    this.httpExecutor = httpExecutor;
    this.random = random;
    this.clock = clock;
    this.out = out;
    this.identities = new IdentityStore(options.stateDir());
    this.facts = new Facts();
    this.backoff = new Backoff(Duration.ofSeconds(1), options.maxBackoff(), random);
    this.bootId = random.nextLong();
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
   * @throws AgentException if the bootstrap file or the state is unusable
   */
  public void start() {
    // Fail fast on a malformed bootstrap file or state: nothing would ever succeed.
    BootstrapFile.read(options.bootstrapFile());
    restrictStateDirectory();
    identities
        .load()
        .ifPresent(
            id -> {
              deviceId = id.deviceId();
              // Autonomy: run the last verified desired state before any contact with the
              // controller.
              identities.trustedKeys().ifPresent(k -> loadDesired(k, id.deviceId()));
              loadFloor(id.deviceId());
            });
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
    } catch (java.io.UncheckedIOException e) {
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

  /** The generation of the desired state this device holds (0 if none). */
  public long generation() {
    DesiredStateStore.Verified v = current;
    return v == null ? 0 : v.state().generation();
  }

  /**
   * The generation a new document must be above. Normally the one in effect; when that is older
   * than the floor (its document was lost, or a crash came between storing the floor and the
   * document) the floor's own generation may be taken again: it is the newest the controller
   * issued, and the way back to a document in effect. Anything older is a replay.
   */
  private long held() {
    return Math.max(generation(), floor - 1);
  }

  /**
   * Reads the replay floor at start-up. An older agent kept none: the stored document's generation
   * is the floor then. An unreadable floor falls back to the same, loudly.
   */
  private void loadFloor(String id) {
    OptionalLong stored = replayFloor.load(id);
    if (stored.isEmpty()) {
      out.printf(
          "the replay floor %s is unreadable; using the stored desired state's generation %d%n",
          replayFloor.file(), generation());
    }
    floor = Math.max(stored.orElse(0), generation());
    if (floor > stored.orElse(0)) {
      try {
        replayFloor.raise(id, floor);
      } catch (java.io.UncheckedIOException e) {
        out.printf("cannot write the replay floor %s: %s%n", replayFloor.file(), e.getMessage());
      }
    }
  }

  /** What the last reconcile found, per app. */
  public List<AppState> apps() {
    return lastReported;
  }

  public Status status() {
    return new Status(
        state,
        Optional.ofNullable(deviceId),
        Optional.ofNullable(enrollmentCode),
        Optional.ofNullable(lastError),
        Optional.ofNullable(certificateNotAfter),
        connections.get(),
        refusals.get());
  }

  @Override
  public void close() {
    for (AgentFeature f : features) {
      try {
        f.close();
      } catch (RuntimeException e) {
        out.printf("a feature did not close cleanly: %s%n", e);
      }
    }
    synchronized (this) {
      closed = true;
      if (pending != null) {
        pending.cancel(false);
      }
      if (renewal != null) {
        renewal.cancel(false);
      }
      if (reconcileLoop != null) {
        reconcileLoop.cancel(false);
      }
      if (link != null) {
        link.close();
        link = null;
      }
      for (HttpClient c : new HttpClient[] {mtlsClient, retiredClient}) {
        if (c != null) {
          c.shutdownNow();
        }
      }
      state = State.STOPPED;
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
    Bootstrap bootstrap = BootstrapFile.read(options.bootstrapFile());
    KeyPair key = identities.key();
    DeviceFacts f = facts.collect(options.serial(), options.stateDir());
    EnrollmentRequest req = new EnrollmentRequest(bootstrap.token(), f.serial(), csr(key), f);
    PinnedCaTrustManager trust = new PinnedCaTrustManager(bootstrap.caFingerprint());
    HttpClient client = client(TlsContexts.pinned(trust));
    HttpRequest http =
        HttpRequest.newBuilder(URI.create(bootstrap.baseUrl() + DeviceApi.ENROLLMENTS))
            .timeout(HTTP_TIMEOUT)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofByteArray(Json.writeBytes(req)))
            .build();
    HttpResponse<String> resp;
    try {
      resp = client.send(http, HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      fail(describe(e, bootstrap.baseUrl()), null);
      return;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    } finally {
      client.shutdownNow();
    }
    if (resp.statusCode() != 200) {
      refused(resp.statusCode(), resp.body(), "enrollment");
      return;
    }
    EnrollmentResponse answer;
    try {
      answer = Json.mapper().readValue(resp.body(), EnrollmentResponse.class);
    } catch (IOException e) {
      fail("the controller sent an unreadable enrollment answer: " + e.getMessage(), null);
      return;
    }
    switch (answer.status()) {
      case APPROVED -> {
        IdentityStore.Identity id = verifiedIdentity(answer, bootstrap, key);
        if (answer.signingKeyPem() != null) {
          try {
            trusted = identities.saveSigningKey(answer.signingKeyPem());
          } catch (IllegalArgumentException e) {
            throw new AgentException(
                AgentException.Code.PROTOCOL,
                "the controller sent an unusable desired-state signing key: " + e.getMessage(),
                e);
          }
        }
        identities.save(id);
        out.printf("enrolled as %s with %s%n", id.deviceId(), bootstrap.baseUrl());
        adopt(id);
        backoff.reset();
        connect();
      }
      case PENDING -> {
        state = State.PENDING_APPROVAL;
        deviceId = answer.deviceId();
        enrollmentCode = answer.enrollmentCode();
        if (!answer.enrollmentCode().equals(shownCode)) {
          shownCode = answer.enrollmentCode();
          out.printf(
              "waiting for approval. Enrollment code: %s%n"
                  + "  an operator approves it with: edgefleet devices approve %s%n"
                  + "  or by opening: %s%n",
              answer.enrollmentCode(), answer.enrollmentCode(), answer.approvalUrl());
          if (options.showQr() && answer.approvalUrl() != null) {
            out.print(QrTerminal.render(answer.approvalUrl()));
          }
        }
        int retry = answer.retryAfterSeconds() == null ? 10 : answer.retryAfterSeconds();
        run(this::step, Duration.ofSeconds(Math.clamp(retry, 1, 300)));
      }
      case REJECTED -> refusedFor(State.REJECTED, "an operator rejected this device");
    }
  }

  private IdentityStore.Identity verifiedIdentity(
      EnrollmentResponse answer, Bootstrap bootstrap, KeyPair key) {
    try {
      X509Certificate cert = Pem.certificateOf(answer.certificatePem());
      X509Certificate ca = Pem.certificateOf(answer.caCertificatePem());
      if (!Fingerprints.of(ca).equals(bootstrap.caFingerprint())) {
        throw new AgentException(
            AgentException.Code.CA_FINGERPRINT_MISMATCH,
            "the controller answered with a CA that does not match the pinned fingerprint");
      }
      if (!Arrays.equals(cert.getPublicKey().getEncoded(), key.getPublic().getEncoded())) {
        throw new AgentException(
            AgentException.Code.PROTOCOL, "the issued certificate is not for this device's key");
      }
      cert.verify(ca.getPublicKey());
      return new IdentityStore.Identity(
          answer.deviceId(), bootstrap.baseUrl(), bootstrap.caFingerprint(), key, cert, ca);
    } catch (AgentException e) {
      throw e;
    } catch (Exception e) {
      throw new AgentException(
          AgentException.Code.PROTOCOL, "the issued certificate is invalid: " + e.getMessage(), e);
    }
  }

  private static String csr(KeyPair key) {
    try {
      var builder =
          new JcaPKCS10CertificationRequestBuilder(
              new javax.security.auth.x500.X500Principal("CN=edgefleet-agent"), key.getPublic());
      var signer = new JcaContentSignerBuilder("SHA256withECDSA").build(key.getPrivate());
      return Pem.encode("CERTIFICATE REQUEST", builder.build(signer).getEncoded());
    } catch (Exception e) {
      throw new IllegalStateException("cannot build a CSR", e);
    }
  }

  private void adopt(IdentityStore.Identity id) {
    identity = id;
    deviceId = id.deviceId();
    certificateNotAfter = id.certificate().getNotAfter().toInstant();
    enrollmentCode = null;
    if (mtlsClient != null) {
      // The live socket (if any) belongs to the old client: retire it at the next connect.
      if (retiredClient != null) {
        retiredClient.shutdownNow();
      }
      retiredClient = mtlsClient;
    }
    PinnedCaTrustManager trust = new PinnedCaTrustManager(id.caFingerprint(), id.ca());
    mtlsClient =
        client(
            TlsContexts.mutual(
                id.key().getPrivate(), new X509Certificate[] {id.certificate(), id.ca()}, trust));
  }

  // ---------------------------------------------------------------- connection

  private void connect() {
    state = State.CONNECTING;
    if (retiredClient != null) {
      retiredClient.shutdownNow();
      retiredClient = null;
    }
    String base = controllerUrl();
    URI uri = URI.create(base.replaceFirst("^https", "wss") + DeviceApi.CONNECT);
    Link l = new Link();
    link = l;
    mtlsClient
        .newWebSocketBuilder()
        .connectTimeout(HTTP_TIMEOUT)
        .buildAsync(uri, l)
        .whenComplete(
            (ws, err) -> {
              if (err != null) {
                run(() -> connectFailed(l, err, base), Duration.ZERO);
              }
            });
  }

  private String controllerUrl() {
    // The bootstrap file may have been replaced to point at a moved controller.
    try {
      Bootstrap b = BootstrapFile.read(options.bootstrapFile());
      if (b.caFingerprint().equals(identity.caFingerprint())) {
        return b.baseUrl();
      }
    } catch (AgentException e) {
      // Keep using the URL we enrolled with.
    }
    return identity.controllerUrl();
  }

  private void connectFailed(Link l, Throwable err, String base) {
    if (link != l || closed) {
      return;
    }
    Throwable cause =
        err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
    if (cause instanceof WebSocketHandshakeException hs) {
      HttpResponse<?> r = hs.getResponse();
      Object body = r.body();
      refused(r.statusCode(), body instanceof String s ? s : "", "connection");
      return;
    }
    fail(describe(cause, base), null);
  }

  private void connected(Link l, ControllerMessage.Welcome welcome) {
    int heartbeatSeconds = welcome.heartbeatSeconds();
    long controllerGeneration = welcome.generation();
    if (link != l) {
      return;
    }
    boolean first = state != State.CONNECTED;
    if (first) {
      // Counted before the state changes, so a reader that sees CONNECTED sees the count too.
      connections.incrementAndGet();
    }
    state = State.CONNECTED;
    lastError = null;
    backoff.reset();
    if (first) {
      out.printf(
          "connected to %s as %s (heartbeat every %ds)%n",
          controllerUrl(), deviceId, heartbeatSeconds);
    }
    l.heartbeatEvery(Duration.ofSeconds(Math.max(1, heartbeatSeconds)));
    if (first) {
      reportDue = true;
      // The controller's generation may be lower than ours after a restore: ask anyway.
      if (controllerGeneration != generation()) {
        fetchDesired();
      }
      requestReconcile();
      renewIfDue();
      AgentFeature.Channel channel =
          new AgentFeature.Channel() {
            @Override
            public boolean send(AgentMessage message) {
              if (link != l) {
                return false;
              }
              l.send(message);
              return true;
            }

            @Override
            public boolean binary() {
              return true;
            }

            @Override
            public boolean sendBinary(byte[] message) {
              if (link != l) {
                return false;
              }
              l.sendBinary(message);
              return true;
            }
          };
      for (AgentFeature f : features) {
        f.connected(channel, welcome);
      }
    }
  }

  // ---------------------------------------------------------------- desired state

  private void loadDesired(TrustedKeys keys, String id) {
    trusted = keys;
    desiredStore.load(keys, id).ifPresent(v -> current = v);
    startReconcileLoop();
  }

  /** Pulls, verifies and stores the newest desired state and its missing bundles. */
  private void fetchDesired() {
    if (identity == null || mtlsClient == null) {
      return;
    }
    try {
      HttpResponse<String> resp =
          get(DeviceApi.DESIRED + "?known=" + held(), HttpResponse.BodyHandlers.ofString());
      if (resp.statusCode() == 204) {
        return;
      }
      if (resp.statusCode() != 200) {
        String why =
            parseError(resp.body())
                .map(e -> e.message() + " [" + e.code() + "]")
                .orElse("HTTP " + resp.statusCode());
        lastError = "desired state fetch failed: " + why;
        return;
      }
      accept(Json.mapper().readValue(resp.body(), SignedDesiredState.class), Map.of());
    } catch (IOException e) {
      lastError = "desired state fetch failed: " + e.getMessage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Takes the desired state a nudge carried: verified and stored exactly like a fetched one, with
   * the bundles that came inline; anything missing is fetched.
   */
  private void acceptPushed(ControllerMessage.Nudge n) {
    if (identity == null || mtlsClient == null) {
      return;
    }
    try {
      accept(n.desired(), n.bundles());
    } catch (IOException e) {
      lastError = "desired state fetch failed: " + e.getMessage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Verifies a signed document, stores its missing bundles (from {@code inline}, digest → base64
   * gzip, else fetched), and makes it current. A refused document or bundle leaves the last good
   * state in effect and is reported.
   */
  private void accept(SignedDesiredState doc, Map<String, String> inline)
      throws IOException, InterruptedException {
    TrustedKeys keys = trusted != null ? trusted : fetchSigningKey();
    DesiredStateStore.Verified v;
    try {
      v = DesiredStateStore.verify(doc, keys, deviceId, held());
      for (DesiredState.DesiredApp app : v.state().apps()) {
        if (desiredStore.hasBundle(app.bundle())) {
          continue;
        }
        byte[] pushed =
            ControllerMessage.Nudge.inlineBundle(inline, app.bundle(), MAX_BUNDLE_BYTES);
        if (pushed != null) {
          desiredStore.saveBundle(app.bundle(), pushed);
        } else {
          HttpResponse<byte[]> b =
              mtlsClient.send(
                  HttpRequest.newBuilder(
                          URI.create(controllerUrl() + DeviceApi.BUNDLES + app.bundle()))
                      .timeout(HTTP_TIMEOUT)
                      .header("Accept-Encoding", "gzip")
                      .GET()
                      .build(),
                  HttpResponse.BodyHandlers.ofByteArray());
          if (b.statusCode() != 200) {
            lastError = "bundle " + app.bundle() + " fetch failed: HTTP " + b.statusCode();
            return;
          }
          byte[] content =
              b.headers().firstValue("Content-Encoding").orElse("").equalsIgnoreCase("gzip")
                  ? io.edgefleet.protocol.Gzip.inflate(b.body(), MAX_BUNDLE_BYTES)
                  : b.body();
          desiredStore.saveBundle(app.bundle(), content);
        }
      }
    } catch (DesiredStateStore.Refused r) {
      // The last good state stays in effect; the controller learns why.
      lastError = r.getMessage();
      out.println(r.getMessage());
      sendEvent(r.kind(), r.getMessage());
      return;
    }
    long accepted = v.state().generation();
    if (accepted > floor) {
      // The floor first: whatever happens to the document, nothing older is taken again.
      try {
        replayFloor.raise(deviceId, accepted);
      } catch (java.io.UncheckedIOException e) {
        lastError = "desired state generation " + accepted + " not taken: " + e.getMessage();
        out.println(lastError);
        return;
      }
      floor = accepted;
    }
    if (!v.trustAfter().equals(keys)) {
      // Only a document signed by a trusted key changes what is trusted, and the change is on
      // disk before the document takes effect.
      identities.saveTrustedKeys(v.trustAfter());
      trusted = v.trustAfter();
      out.printf(
          "desired-state signing keys trusted now: %s (this document was signed with %s)%n",
          v.trustAfter(), v.signer());
    }
    desiredStore.save(v);
    current = v;
    // The controller learns which generation and which signing keys this device holds now.
    reportDue = true;
    desiredStore.collectGarbage(v.state());
    out.printf(
        "desired state generation %d: %d app(s)%n",
        v.state().generation(), v.state().apps().size());
    startReconcileLoop();
    requestReconcile();
  }

  /**
   * Asks for the signing key over the mutual-TLS channel pinned to the controller's CA: only for a
   * device that holds no key at all (enrolled by a controller that did not hand one out). A device
   * that trusts a key learns further keys only from documents signed by a key it trusts.
   */
  private TrustedKeys fetchSigningKey() throws IOException, InterruptedException {
    HttpResponse<String> resp = get(DeviceApi.SIGNING_KEY, HttpResponse.BodyHandlers.ofString());
    if (resp.statusCode() != 200) {
      throw new IOException("signing key fetch failed: HTTP " + resp.statusCode());
    }
    String pem = Json.mapper().readTree(resp.body()).path("publicKeyPem").asText();
    try {
      trusted = identities.saveSigningKey(pem);
    } catch (IllegalArgumentException e) {
      throw new IOException("the controller sent an unusable signing key: " + e.getMessage(), e);
    }
    return trusted;
  }

  private <T> HttpResponse<T> get(String path, HttpResponse.BodyHandler<T> handler)
      throws IOException, InterruptedException {
    return mtlsClient.send(
        HttpRequest.newBuilder(URI.create(controllerUrl() + path))
            .timeout(HTTP_TIMEOUT)
            .GET()
            .build(),
        handler);
  }

  private void sendEvent(String kind, String message) {
    event(kind, "error", null, message);
  }

  /**
   * Records something that happened on the device: through a feature that keeps events (the
   * outbox), else sent at once if connected.
   */
  public void event(String kind, String severity, String app, String message) {
    Instant at = clock.instant();
    for (AgentFeature f : features) {
      if (f.event(kind, severity, app, message, at)) {
        return;
      }
    }
    Link l = link;
    if (l != null) {
      l.send(new AgentMessage.Event(kind, message, at));
    }
  }

  private void startReconcileLoop() {
    if (reconcileLoop == null && !closed) {
      long ms = options.reconcileInterval().toMillis();
      reconcileLoop =
          scheduler.scheduleWithFixedDelay(this::reconcile, 0, ms, TimeUnit.MILLISECONDS);
    }
  }

  private void requestReconcile() {
    if (!closed) {
      scheduler.execute(this::reconcile);
    }
  }

  /**
   * One reconcile pass, outside the agent's lock so slow runtime calls never delay heartbeats;
   * passes of one agent never overlap.
   */
  private void reconcile() {
    DesiredStateStore.Verified v = current;
    if (v == null || closed) {
      return;
    }
    synchronized (reconcileLock) {
      List<AppState> states;
      try {
        states = reconciler.reconcile(v.state(), desiredStore::bundle);
      } catch (RuntimeException e) {
        lastError = "reconcile failed: " + e.getMessage();
        if (!lastError.equals(lastReconcileError)) {
          lastReconcileError = lastError;
          event("reconcile-failed", "error", null, lastError);
        }
        return;
      }
      lastReconcileError = null;
      boolean changed = !states.equals(lastReported);
      if (changed) {
        reportChanges(lastReported, states);
      }
      lastReported = List.copyOf(states);
      Link l = link;
      if ((changed || reportDue) && l != null && state == State.CONNECTED) {
        reportDue = false;
        TrustedKeys keys = trusted;
        l.send(
            new AgentMessage.AppReport(
                v.state().generation(), states, keys == null ? List.of() : keys.ids()));
      }
      // A rollout in progress is watched closely so READY is reported when it happens, not one
      // full interval later.
      boolean progressing =
          states.stream()
              .anyMatch(
                  s -> s.phase() != AppState.Phase.READY && s.phase() != AppState.Phase.FAILED);
      if (progressing
          && !closed
          && PROGRESS_CHECK.compareTo(options.reconcileInterval()) < 0
          && followUpScheduled.compareAndSet(false, true)) {
        scheduler.schedule(
            () -> {
              followUpScheduled.set(false);
              reconcile();
            },
            PROGRESS_CHECK.toMillis(),
            TimeUnit.MILLISECONDS);
      }
    }
  }

  private static final Duration PROGRESS_CHECK = Duration.ofSeconds(2);
  private String lastReconcileError;

  /**
   * Apply results as device events: an app that failed, became ready or recovered, took a new
   * revision, or was removed. Right after a start only failures are news.
   */
  private void reportChanges(List<AppState> before, List<AppState> after) {
    java.util.Map<String, AppState> old = new java.util.HashMap<>();
    for (AppState s : before) {
      old.put(s.name(), s);
    }
    for (AppState s : after) {
      AppState was = old.remove(s.name());
      if (s.phase() == null || s.equals(was)) {
        continue;
      }
      boolean newRevision = was != null && !java.util.Objects.equals(was.revision(), s.revision());
      String rev = s.revision() == null ? "" : " revision " + s.revision();
      if (s.phase() == AppState.Phase.FAILED) {
        if (was == null || was.phase() != AppState.Phase.FAILED || newRevision) {
          event("app-failed", "error", s.name(), "app" + rev + " failed: " + s.reason());
        }
      } else if (was == null) {
        continue;
      } else if (s.phase() == AppState.Phase.READY && was.phase() != AppState.Phase.READY) {
        boolean recovered = was.phase() == AppState.Phase.FAILED;
        event(
            recovered ? "app-recovered" : "app-ready",
            "info",
            s.name(),
            "app" + rev + (recovered ? " recovered and is ready" : " is ready"));
      } else if (newRevision) {
        event("app-updated", "info", s.name(), "app" + rev + " applied (" + s.phase() + ")");
      }
    }
    if (!before.isEmpty()) {
      old.keySet().forEach(name -> event("app-removed", "info", name, "app removed"));
    }
  }

  private final java.util.concurrent.atomic.AtomicBoolean followUpScheduled =
      new java.util.concurrent.atomic.AtomicBoolean();

  // ---------------------------------------------------------------- certificate renewal

  private static final Duration RENEWAL_CHECK = Duration.ofHours(12);
  private static final Duration RENEWAL_RETRY = Duration.ofHours(1);

  /**
   * Renews the device certificate once less than a third of its lifetime is left, over the
   * mutual-TLS channel with the current certificate, for the same key. Runs after each new
   * connection and every 12 hours; a failure is retried within the hour and never disturbs the
   * connection.
   */
  private void renewIfDue() {
    if (renewal != null) {
      renewal.cancel(false);
    }
    Duration next = RENEWAL_CHECK;
    X509Certificate cert = identity.certificate();
    Instant notBefore = cert.getNotBefore().toInstant();
    Instant notAfter = cert.getNotAfter().toInstant();
    Duration left = Duration.between(clock.instant(), notAfter);
    if (left.compareTo(Duration.between(notBefore, notAfter).dividedBy(3)) < 0) {
      try {
        renew();
      } catch (AgentException e) {
        lastError = e.getMessage();
        out.printf("%s; trying again in %s%n", e.getMessage(), human(RENEWAL_RETRY));
        next = RENEWAL_RETRY;
      }
    }
    renewal =
        scheduler.schedule(serialized(this::renewIfDue), next.toMillis(), TimeUnit.MILLISECONDS);
  }

  private void renew() {
    HttpRequest http =
        HttpRequest.newBuilder(URI.create(controllerUrl() + DeviceApi.RENEWALS))
            .timeout(HTTP_TIMEOUT)
            .header("Content-Type", "application/json")
            .POST(
                HttpRequest.BodyPublishers.ofByteArray(
                    Json.writeBytes(new RenewalRequest(csr(identity.key())))))
            .build();
    HttpResponse<String> resp;
    try {
      resp = mtlsClient.send(http, HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new AgentException(
          AgentException.Code.CONTROLLER_UNREACHABLE,
          "certificate renewal failed: " + e.getMessage(),
          e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AgentException(
          AgentException.Code.CONTROLLER_UNREACHABLE, "certificate renewal interrupted");
    }
    if (resp.statusCode() != 200) {
      String why =
          parseError(resp.body())
              .map(e -> e.message() + " [" + e.code() + "]")
              .orElse("HTTP " + resp.statusCode());
      throw new AgentException(AgentException.Code.PROTOCOL, "certificate renewal refused: " + why);
    }
    X509Certificate renewed;
    try {
      RenewalResponse answer = Json.mapper().readValue(resp.body(), RenewalResponse.class);
      renewed = Pem.certificateOf(answer.certificatePem());
      renewed.verify(identity.ca().getPublicKey());
    } catch (Exception e) {
      throw new AgentException(
          AgentException.Code.PROTOCOL, "the renewed certificate is invalid: " + e.getMessage(), e);
    }
    if (!Arrays.equals(
        renewed.getPublicKey().getEncoded(), identity.key().getPublic().getEncoded())) {
      throw new AgentException(
          AgentException.Code.PROTOCOL, "the renewed certificate is not for this device's key");
    }
    identities.saveCertificate(renewed);
    adopt(
        new IdentityStore.Identity(
            identity.deviceId(),
            identity.controllerUrl(),
            identity.caFingerprint(),
            identity.key(),
            renewed,
            identity.ca()));
    out.printf(
        "renewed the device certificate; valid until %s%n", renewed.getNotAfter().toInstant());
  }

  private void disconnected(Link l, int code, String reason) {
    if (link != l || closed) {
      return;
    }
    link = null;
    l.stopTimers();
    if (state == State.CONNECTED) {
      features.forEach(AgentFeature::disconnected);
    }
    if (code == DeviceApi.CLOSE_REVOKED) {
      refusedFor(State.REVOKED, "the controller revoked this device: " + reason);
      return;
    }
    fail("connection closed (" + code + (reason.isEmpty() ? "" : ", " + reason) + ")", null);
  }

  private void refused(int status, String body, String what) {
    ApiError error = parseError(body).orElse(ApiError.of(ErrorCode.INTERNAL, "HTTP " + status));
    String message = what + " refused: " + error.message() + " [" + error.code() + "]";
    ErrorCode code = error.errorCode();
    if (code.retryable() || status >= 500) {
      fail(message, null);
      return;
    }
    switch (code) {
      case DEVICE_DECOMMISSIONED, DEVICE_UNKNOWN, CLIENT_CERTIFICATE_REQUIRED ->
          refusedFor(State.REVOKED, message);
      case ENROLLMENT_REJECTED -> refusedFor(State.REJECTED, message);
      default -> refusedFor(State.ENROLLMENT_REFUSED, message);
    }
  }

  private void refusedFor(State s, String message) {
    refusals.incrementAndGet();
    state = s;
    lastError = message;
    // Jitter within the upper half of the window so refused devices never synchronise.
    long window = options.refusedBackoff().toMillis();
    Duration delay = Duration.ofMillis(window / 2 + random.nextLong(window / 2 + 1));
    out.printf("%s; will try again in %s%n", message, human(delay));
    run(this::step, delay);
  }

  private void fail(String message, Duration fixedDelay) {
    Duration delay = fixedDelay != null ? fixedDelay : backoff.next();
    state = State.BACKING_OFF;
    if (!message.equals(lastError)) {
      out.printf("%s; retrying in %s%n", message, human(delay));
    }
    lastError = message;
    run(this::step, delay);
  }

  private static Optional<ApiError> parseError(String body) {
    try {
      return body == null || body.isBlank()
          ? Optional.empty()
          : Optional.ofNullable(Json.mapper().readValue(body, ApiError.class));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  private static String describe(Throwable e, String url) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      if (root instanceof PinnedCaTrustManager.PinMismatchException) {
        break;
      }
      root = root.getCause();
    }
    if (root instanceof PinnedCaTrustManager.PinMismatchException pin) {
      return "["
          + AgentException.Code.CA_FINGERPRINT_MISMATCH
          + "] "
          + pin.getMessage()
          + ". Check the bootstrap file: it must come from this controller";
    }
    if (e instanceof SSLHandshakeException
        || root instanceof java.security.cert.CertificateException) {
      return "["
          + AgentException.Code.CONTROLLER_UNREACHABLE
          + "] TLS handshake with "
          + url
          + " failed: "
          + root.getMessage();
    }
    if (root instanceof ConnectException || e instanceof ConnectException) {
      return "["
          + AgentException.Code.CONTROLLER_UNREACHABLE
          + "] controller "
          + url
          + " is unreachable (connection refused)";
    }
    if (root instanceof HttpTimeoutException) {
      return "["
          + AgentException.Code.CONTROLLER_UNREACHABLE
          + "] controller "
          + url
          + " did not answer in time";
    }
    return "["
        + AgentException.Code.CONTROLLER_UNREACHABLE
        + "] controller "
        + url
        + " is unreachable: "
        + root;
  }

  private static String human(Duration d) {
    long ms = d.toMillis();
    return ms < 10_000 ? String.format("%.1fs", ms / 1000.0) : (ms / 1000) + "s";
  }

  private HttpClient client(SSLContext ssl) {
    return HttpClient.newBuilder()
        .sslContext(ssl)
        .connectTimeout(HTTP_TIMEOUT)
        .executor(httpExecutor)
        .version(HttpClient.Version.HTTP_1_1)
        .build();
  }

  private void run(Runnable task, Duration delay) {
    if (closed) {
      return;
    }
    Runnable guarded = serialized(task);
    if (delay.isZero()) {
      scheduler.execute(guarded);
    } else {
      if (pending != null && !pending.isDone()) {
        pending.cancel(false);
      }
      pending = scheduler.schedule(guarded, delay.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  /** Runs agent work one task at a time even on a scheduler shared by many agents. */
  private Runnable serialized(Runnable task) {
    return () -> {
      synchronized (this) {
        if (closed) {
          return;
        }
        try {
          task.run();
        } catch (RuntimeException e) {
          fail("unexpected error: " + e, null);
        }
      }
    };
  }

  /** One WebSocket connection and its timers. Callbacks come on HTTP client threads. */
  private final class Link implements WebSocket.Listener {
    private final StringBuilder partial = new StringBuilder();
    private volatile WebSocket ws;
    private volatile Instant lastInbound = clock.instant();
    private ScheduledFuture<?> heartbeats;
    private CompletableFuture<WebSocket> sending = CompletableFuture.completedFuture(null);
    private long seq;

    @Override
    public void onOpen(WebSocket webSocket) {
      ws = webSocket;
      lastInbound = clock.instant();
      send(new AgentMessage.Hello(Facts.AGENT_VERSION, bootId));
      webSocket.request(1);
      // Heartbeats start with the welcome: a socket that never gets one must not stay forever.
      scheduler.schedule(
          serialized(this::welcomeOverdue), HTTP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void welcomeOverdue() {
      if (link != this || closed || state == State.CONNECTED) {
        return;
      }
      WebSocket w = ws;
      if (w != null) {
        w.abort();
      }
      disconnected(
          this, 1006, "no welcome from the controller within " + HTTP_TIMEOUT.toSeconds() + "s");
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      lastInbound = clock.instant();
      partial.append(data);
      if (last) {
        String text = partial.toString();
        partial.setLength(0);
        handle(text);
      }
      webSocket.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
      run(() -> disconnected(this, statusCode, reason == null ? "" : reason), Duration.ZERO);
      return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
      run(() -> disconnected(this, 1006, describe(error, controllerUrl())), Duration.ZERO);
    }

    private void offer(ControllerMessage message) {
      if (link != this) {
        return;
      }
      for (AgentFeature f : features) {
        if (f.handle(message)) {
          return;
        }
      }
    }

    private void handle(String text) {
      ControllerMessage msg;
      try {
        msg = Json.mapper().readValue(text, ControllerMessage.class);
      } catch (IOException e) {
        return; // A newer controller may send messages this agent does not know.
      }
      switch (msg) {
        case ControllerMessage.Welcome w -> run(() -> connected(this, w), Duration.ZERO);
        case ControllerMessage.Ack a -> {}
        case ControllerMessage.TelemetryAck a -> offer(a);
        case ControllerMessage.LogsRequest r -> offer(r);
        case ControllerMessage.LogsCancel c -> offer(c);
        case ControllerMessage.Nudge n ->
            run(
                () -> {
                  if (n.generation() <= held()) {
                    return;
                  }
                  if (n.desired() != null) {
                    acceptPushed(n);
                  } else {
                    fetchDesired();
                  }
                },
                Duration.ZERO);
      }
    }

    /** Runs on the scheduler. */
    void heartbeatEvery(Duration interval) {
      if (heartbeats != null) {
        heartbeats.cancel(false);
      }
      long ms = interval.toMillis();
      heartbeats =
          scheduler.scheduleAtFixedRate(
              serialized(() -> beat(interval)), jitter(ms), ms, TimeUnit.MILLISECONDS);
    }

    private long jitter(long ms) {
      // Spread the first beat so devices that connected together do not beat together.
      return ms / 2 + random.nextLong(ms / 2 + 1);
    }

    private void beat(Duration interval) {
      if (link != this || closed) {
        return;
      }
      // No answer for three intervals: the link is dead even if TCP has not noticed yet.
      if (Duration.between(lastInbound, clock.instant()).compareTo(interval.multipliedBy(3)) > 0) {
        WebSocket w = ws;
        if (w != null) {
          w.abort();
        }
        disconnected(
            this,
            1006,
            "no answer from the controller for " + interval.multipliedBy(3).toSeconds() + "s");
        return;
      }
      send(new AgentMessage.Heartbeat(++seq));
    }

    private synchronized void send(AgentMessage msg) {
      WebSocket w = ws;
      if (w == null) {
        return;
      }
      String text = Json.write(msg);
      sending = sending.handle((x, e) -> null).thenCompose(x -> w.sendText(text, true));
    }

    private synchronized void sendBinary(byte[] message) {
      WebSocket w = ws;
      if (w == null) {
        return;
      }
      sending =
          sending
              .handle((x, e) -> null)
              .thenCompose(x -> w.sendBinary(ByteBuffer.wrap(message), true));
    }

    void stopTimers() {
      if (heartbeats != null) {
        heartbeats.cancel(false);
      }
    }

    void close() {
      stopTimers();
      WebSocket w = ws;
      if (w != null) {
        w.sendClose(WebSocket.NORMAL_CLOSURE, "agent stopping")
            .orTimeout(2, TimeUnit.SECONDS)
            .whenComplete((x, e) -> w.abort());
      }
    }
  }
}
