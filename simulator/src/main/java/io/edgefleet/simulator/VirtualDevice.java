package io.edgefleet.simulator;

import io.edgefleet.agent.Backoff;
import io.edgefleet.agent.desiredstate.DesiredStateStore;
import io.edgefleet.agent.desiredstate.TrustedKeys;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.CompactTelemetry;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.EnrollmentRequest;
import io.edgefleet.protocol.EnrollmentResponse;
import io.edgefleet.protocol.Gzip;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SignedDesiredState;
import io.edgefleet.protocol.Telemetry;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Pem;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLEngine;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * One simulated agent: enrollment, one mutual-TLS WebSocket, heartbeats, desired-state pulls with
 * signature and digest checks, app reports and telemetry, with no workload behind it. Its state is
 * a handful of fields; its timers run on the simulator's shared scheduler and its socket on the
 * shared selector threads. Every method that changes state holds the device's monitor.
 */
final class VirtualDevice {
  private static final String AGENT_VERSION = "edgefleet-sim/0.1";
  private static final int HEARTBEAT_DEFAULT = 30;
  private static final int TELEMETRY_DEFAULT = 300;
  private static final int MAX_UNACKED = 16;
  private static final Duration HTTP_TIMEOUT = Duration.ofSeconds(30);

  enum State {
    NEW,
    ENROLLING,
    CONNECTING,
    CONNECTED,
    BACKING_OFF,
    STOPPED
  }

  final int index;
  final String serial;
  private final Simulator sim;
  private final Backoff backoff;
  private final LinkProfile.Direction up = new LinkProfile.Direction();
  private final LinkProfile.Direction down = new LinkProfile.Direction();
  private final long bootId = ThreadLocalRandom.current().nextLong();

  volatile State state = State.NEW;
  private DeviceKeys.Credential credential;
  volatile String deviceId;
  private Ws ws;
  private ScheduledFuture<?> timer;
  private ScheduledFuture<?> heartbeat;
  private ScheduledFuture<?> telemetry;
  private long cutUntil;
  private boolean everConnected;

  volatile long generation;
  private List<DesiredState.DesiredApp> apps = List.of();

  /**
   * The signing keys this device trusts (shared with devices that trust the same); null: initial.
   */
  private TrustedKeys trusted;

  volatile List<AppState> report = List.of();
  private boolean fetching;
  private boolean fetchAgain;
  // Strictly increasing across simulator restarts without persisting anything.
  private long telemetrySeq = System.currentTimeMillis() * 1000;
  private final ArrayList<Telemetry> unacked = new ArrayList<>(0);
  private long telemetryFrom = System.currentTimeMillis();

  VirtualDevice(
      Simulator sim, int index, String serial, DeviceKeys.Credential credential, String id) {
    this.sim = sim;
    this.index = index;
    this.serial = serial;
    this.credential = credential;
    this.deviceId = id;
    this.backoff =
        new Backoff(Duration.ofSeconds(1), sim.options.maxBackoff(), ThreadLocalRandom.current());
  }

  boolean enrolled() {
    return deviceId != null;
  }

  /** Begins enrolling or connecting after {@code delay}. */
  synchronized void start(Duration delay) {
    schedule(this::step, delay.toNanos());
  }

  synchronized void stop() {
    state = State.STOPPED;
    cancelTimers();
    if (timer != null) {
      timer.cancel(false);
    }
    if (ws != null) {
      Ws w = ws;
      ws = null;
      w.close(1001, "simulator stopping");
    }
  }

  private synchronized void step() {
    if (state == State.STOPPED) {
      return;
    }
    if (credential == null) {
      state = State.ENROLLING;
      sim.enrollments.submit(this::enroll);
    } else {
      connect();
    }
  }

  // ------------------------------------------------------------------ enrollment

  /** Runs through the enrollment gate; calls {@code release} when the exchange is over. */
  private void enroll(Runnable release) {
    KeyPair key;
    byte[] body;
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      key = g.generateKeyPair();
      DeviceFacts facts =
          new DeviceFacts(
              serial,
              serial,
              List.of(),
              "amd64",
              2,
              4L << 30,
              32L << 30,
              "linux",
              "simulated",
              AGENT_VERSION,
              false,
              false);
      body = Json.writeBytes(new EnrollmentRequest(sim.bootstrap.token(), serial, csr(key), facts));
    } catch (Exception e) {
      release.run();
      failed("cannot build an enrollment request: " + e);
      return;
    }
    http("POST", DeviceApi.ENROLLMENTS, body, false)
        .whenComplete(
            (resp, err) -> {
              release.run();
              synchronized (this) {
                if (state == State.STOPPED) {
                  return;
                }
                if (err != null) {
                  failed("enrollment: " + err.getMessage());
                  return;
                }
                enrolled(resp, key);
              }
            });
  }

  private void enrolled(Wire.Response resp, KeyPair key) {
    if (resp.status() != 200) {
      failed("enrollment refused: HTTP " + resp.status());
      return;
    }
    EnrollmentResponse answer;
    try {
      answer = Json.mapper().readValue(resp.body(), EnrollmentResponse.class);
    } catch (IOException e) {
      failed("unreadable enrollment answer");
      return;
    }
    switch (answer.status()) {
      case APPROVED -> {
        try {
          X509Certificate cert = Pem.certificateOf(answer.certificatePem());
          X509Certificate ca = Pem.certificateOf(answer.caCertificatePem());
          if (!Fingerprints.of(ca).equals(sim.bootstrap.caFingerprint())
              || !Arrays.equals(cert.getPublicKey().getEncoded(), key.getPublic().getEncoded())) {
            failed("enrollment answer does not match the pinned CA or this device's key");
            return;
          }
          cert.verify(ca.getPublicKey());
          sim.identities.save(serial, answer.deviceId(), key.getPrivate(), cert, ca);
          if (answer.signingKeyPem() != null) {
            sim.adoptSigningKey(answer.signingKeyPem());
          }
          credential =
              new DeviceKeys.Credential(
                  "d" + index, key.getPrivate(), new X509Certificate[] {cert, ca});
          deviceId = answer.deviceId();
          sim.stats.enrolled.incrementAndGet();
          sim.stats.enrollments.increment();
          backoff.reset();
          connect();
        } catch (Exception e) {
          failed("invalid enrollment answer: " + e.getMessage());
        }
      }
      case PENDING -> {
        int retry = answer.retryAfterSeconds() == null ? 10 : answer.retryAfterSeconds();
        state = State.BACKING_OFF;
        schedule(this::step, Duration.ofSeconds(Math.clamp(retry, 1, 300)).toNanos());
      }
      case REJECTED -> {
        sim.stats.refused.increment();
        state = State.BACKING_OFF;
        schedule(this::step, sim.options.maxBackoff().toNanos());
      }
    }
  }

  private static String csr(KeyPair key) throws Exception {
    var builder =
        new JcaPKCS10CertificationRequestBuilder(
            new javax.security.auth.x500.X500Principal("CN=edgefleet-agent"), key.getPublic());
    var signer = new JcaContentSignerBuilder("SHA256withECDSA").build(key.getPrivate());
    return Pem.encode("CERTIFICATE REQUEST", builder.build(signer).getEncoded());
  }

  // ------------------------------------------------------------------ connection

  private void connect() {
    if (state == State.STOPPED) {
      return;
    }
    state = State.CONNECTING;
    if (System.nanoTime() < cutUntil) {
      // The link is down: the attempt fails like a connect timeout would, and backs off.
      failed("link down");
      return;
    }
    sim.handshakes.submit(
        release -> {
          synchronized (this) {
            if (state != State.CONNECTING) {
              release.run();
              return;
            }
            Ws w = new Ws(release);
            ws = w;
            // The TCP and TLS handshakes cost round trips on a slow link.
            long rtt = 2 * sim.options.link().delayNanos(ThreadLocalRandom.current());
            sim.scheduler.schedule(w::open, rtt, TimeUnit.NANOSECONDS);
          }
        });
  }

  private synchronized void welcomed(Ws w, ControllerMessage.Welcome welcome) {
    if (ws != w || state == State.STOPPED) {
      return;
    }
    if (state != State.CONNECTED) {
      state = State.CONNECTED;
      sim.stats.connected.incrementAndGet();
      if (everConnected) {
        sim.stats.reconnects.increment();
      }
      everConnected = true;
    }
    backoff.reset();
    cancelTimers();
    int hb = welcome.heartbeatSeconds() > 0 ? welcome.heartbeatSeconds() : HEARTBEAT_DEFAULT;
    long hbNanos = TimeUnit.SECONDS.toNanos(hb);
    heartbeat =
        sim.scheduler.scheduleAtFixedRate(
            () -> beat(w, hbNanos),
            hbNanos / 2 + ThreadLocalRandom.current().nextLong(hbNanos / 2 + 1),
            hbNanos,
            TimeUnit.NANOSECONDS);
    int tel = welcome.telemetrySeconds() > 0 ? welcome.telemetrySeconds() : TELEMETRY_DEFAULT;
    long telNanos = TimeUnit.SECONDS.toNanos(tel);
    telemetry =
        sim.scheduler.scheduleAtFixedRate(
            () -> telemetry(w),
            ThreadLocalRandom.current().nextLong(telNanos + 1),
            telNanos,
            TimeUnit.NANOSECONDS);
    if (!report.isEmpty()) {
      w.send(new AgentMessage.AppReport(generation, report, trustedIds()));
    }
    // A new connection: no metric names known on either side.
    w.encoder =
        welcome.telemetryEncodings().contains(CompactTelemetry.ENCODING)
            ? new CompactTelemetry.Encoder()
            : null;
    w.framesInFlight.clear();
    if (!unacked.isEmpty()) {
      sendTelemetry(w);
    }
    // A controller that read our generation in the hello sends a newer document on this socket.
    if (!welcome.catchUp() && welcome.generation() != generation) {
      fetchDesired();
    }
  }

  private synchronized void beat(Ws w, long intervalNanos) {
    if (ws != w) {
      return;
    }
    // No answer for three intervals: the link is dead even if TCP has not noticed.
    if (System.nanoTime() - w.lastInbound > 3 * intervalNanos) {
      w.abort(new IOException("no answer from the controller for three heartbeats"));
      return;
    }
    w.send(new AgentMessage.Heartbeat(++w.seq));
  }

  private synchronized void telemetry(Ws w) {
    if (ws != w) {
      return;
    }
    long now = System.currentTimeMillis();
    ThreadLocalRandom r = ThreadLocalRandom.current();
    Telemetry.Metrics m =
        new Telemetry.Metrics(
            ++telemetrySeq,
            Instant.ofEpochMilli(telemetryFrom),
            Instant.ofEpochMilli(now),
            nodeMetrics(r, (int) Math.max(1, (now - telemetryFrom) / 5000)));
    telemetryFrom = now;
    if (unacked.size() >= MAX_UNACKED) {
      unacked.removeFirst();
    }
    unacked.add(m);
    sim.stats.telemetryRecords.increment();
    sendTelemetry(w);
  }

  /**
   * Sends every unacknowledged summary, as the agent would: in the compact form when the controller
   * takes it (names spelled out until a frame carrying them was acknowledged), else JSON.
   */
  private void sendTelemetry(Ws w) {
    List<Telemetry> batch = List.copyOf(unacked);
    CompactTelemetry.Encoded frame = w.encoder == null ? null : w.encoder.encode(batch);
    int bytes;
    if (frame != null) {
      if (w.framesInFlight.size() >= MAX_UNACKED) {
        w.framesInFlight.removeFirst();
      }
      w.framesInFlight.add(
          new InFlight(frame, batch.stream().mapToLong(Telemetry::seq).max().orElse(0)));
      bytes = w.sendBinary(frame.bytes());
      sim.stats.telemetryCompactBatches.increment();
    } else {
      bytes = w.send(new AgentMessage.TelemetryBatch(batch));
    }
    sim.stats.telemetryBatches.increment();
    sim.stats.telemetryPayloadBytes.add(bytes);
  }

  /**
   * What a real agent reports for a node with one disk and one network interface (the names of its
   * {@code NodeSampler}), with values that vary like real ones, so the bytes on the wire are those
   * of a real summary.
   */
  private static Map<String, Telemetry.Stat> nodeMetrics(ThreadLocalRandom r, int samples) {
    Map<String, Telemetry.Stat> m = new java.util.LinkedHashMap<>();
    double memTotal = 8_221_065_216.0;
    double rx = r.nextDouble(1e8, 1e10);
    double tx = r.nextDouble(1e7, 1e9);
    double uptime = r.nextDouble(1e5, 1e7);
    double free = r.nextDouble(1e10, 6e10);
    m.put("cpu.used.percent", stat(r, r.nextDouble(3, 60), 0.5, samples));
    m.put("cpu.iowait.percent", stat(r, r.nextDouble(0, 4), 0.8, samples));
    m.put("load.1", stat(r, r.nextDouble(0.05, 3), 0.3, samples));
    m.put("mem.total.bytes", rounded(memTotal, memTotal, memTotal, memTotal, samples));
    m.put("mem.used.bytes", stat(r, r.nextDouble(1e9, 6e9), 0.05, samples));
    m.put("mem.used.percent", stat(r, r.nextDouble(15, 75), 0.05, samples));
    m.put("uptime.seconds", rounded(uptime, uptime + 300, uptime + 150, uptime + 300, samples));
    m.put("disk.root.used.percent", stat(r, r.nextDouble(20, 80), 0.001, samples));
    m.put("disk.root.free.bytes", stat(r, free, 0.001, samples));
    m.put("net.eth0.rx.bytes", rounded(rx, rx + 9e5, rx + 4.5e5, rx + 9e5, samples));
    m.put("net.eth0.tx.bytes", rounded(tx, tx + 3e5, tx + 1.5e5, tx + 3e5, samples));
    m.put("net.eth0.errors", rounded(0, 0, 0, 0, samples));
    m.put("net.eth0.rx.bytes_per_s", stat(r, r.nextDouble(500, 50_000), 0.6, samples));
    m.put("net.eth0.tx.bytes_per_s", stat(r, r.nextDouble(200, 20_000), 0.6, samples));
    return m;
  }

  /** Rounded as the agent rounds (seven significant digits). */
  private static Telemetry.Stat rounded(double min, double max, double mean, double last, int n) {
    return new Telemetry.Stat(
        Telemetry.round(min),
        Telemetry.round(max),
        Telemetry.round(mean),
        Telemetry.round(last),
        n);
  }

  private static Telemetry.Stat stat(ThreadLocalRandom r, double mean, double spread, int n) {
    double min = mean * (1 - spread * r.nextDouble());
    double max = mean * (1 + spread * r.nextDouble());
    return rounded(min, max, mean, r.nextDouble(min, max), n);
  }

  private synchronized void telemetryAcked(Ws w, long upTo) {
    if (ws == w) {
      unacked.removeIf(t -> t.seq() <= upTo);
      unacked.trimToSize();
      if (w.encoder != null) {
        // A frame all of whose records are acknowledged was read: its names are known now.
        w.framesInFlight.removeIf(
            f -> {
              boolean read = f.maxSeq() <= upTo;
              if (read) {
                w.encoder.acknowledged(f.frame());
              }
              return read;
            });
        w.framesInFlight.trimToSize();
      }
    }
  }

  private synchronized void disconnected(Ws w, String why) {
    if (ws != w) {
      return;
    }
    ws = null;
    cancelTimers();
    if (state == State.CONNECTED) {
      sim.stats.connected.decrementAndGet();
      sim.stats.disconnects.increment();
    }
    if (state == State.STOPPED) {
      return;
    }
    failed(why);
  }

  /** Closes the connection the way a rebooting device would; it reconnects with backoff. */
  synchronized void churn() {
    if (ws != null && state == State.CONNECTED) {
      sim.stats.churned.increment();
      ws.close(1000, "device restarting");
    }
  }

  /** The device's link goes down for {@code nanos}: the connection breaks without a close. */
  synchronized void cut(long nanos) {
    cutUntil = Math.max(cutUntil, System.nanoTime() + nanos);
    sim.stats.cuts.increment();
    if (ws != null) {
      ws.abort(new IOException("link cut"));
    }
  }

  private void failed(String why) {
    if (state == State.STOPPED) {
      return;
    }
    sim.stats.lastError = why;
    state = State.BACKING_OFF;
    schedule(this::step, backoff.next().toNanos());
  }

  private void cancelTimers() {
    if (heartbeat != null) {
      heartbeat.cancel(false);
      heartbeat = null;
    }
    if (telemetry != null) {
      telemetry.cancel(false);
      telemetry = null;
    }
  }

  private void schedule(Runnable task, long nanos) {
    if (timer != null) {
      timer.cancel(false);
    }
    timer =
        sim.scheduler.schedule(
            () -> {
              try {
                task.run();
              } catch (RuntimeException e) {
                sim.stats.lastError = e.toString();
                synchronized (this) {
                  failed("unexpected: " + e);
                }
              }
            },
            nanos,
            TimeUnit.NANOSECONDS);
  }

  // ------------------------------------------------------------------ desired state

  private void fetchDesired() {
    if (fetching) {
      fetchAgain = true;
      return;
    }
    fetching = true;
    fetchAgain = false;
    sim.stats.desiredFetches.increment();
    long held = generation;
    finish(
        http("GET", DeviceApi.DESIRED + "?known=" + held, null, true)
            .thenCompose(this::verifyAndFetchBundles));
  }

  /** Applies what a fetch or a pushed document gave, or retries later while connected. */
  private void finish(CompletableFuture<DesiredStateStore.Verified> outcome) {
    outcome.whenComplete(
        (v, err) -> {
          synchronized (this) {
            fetching = false;
            if (state == State.STOPPED) {
              return;
            }
            if (err != null) {
              sim.stats.fetchFailures.increment();
              sim.stats.lastError = "desired state: " + rootMessage(err);
              if (ws != null) {
                // Retry while connected; a reconnect asks again anyway.
                Ws w = ws;
                sim.scheduler.schedule(
                    () -> {
                      synchronized (this) {
                        if (ws == w) {
                          fetchDesired();
                        }
                      }
                    },
                    5000 + ThreadLocalRandom.current().nextLong(10_000),
                    TimeUnit.MILLISECONDS);
              }
            } else if (v != null) {
              apply(v);
            }
            if (fetchAgain) {
              fetchDesired();
            }
          }
        });
  }

  /** Takes the document a nudge carried; while a fetch runs, the nudge waits for it. */
  private void acceptPushed(ControllerMessage.Nudge n) {
    if (fetching) {
      fetchAgain = true;
      return;
    }
    fetching = true;
    fetchAgain = false;
    sim.stats.pushedDocuments.increment();
    finish(verifyAndFetchBundles(n.desired(), n.bundles()));
  }

  /** Verifies the document (the agent's own check) and fetches bundles this device lacks. */
  private CompletableFuture<DesiredStateStore.Verified> verifyAndFetchBundles(Wire.Response resp) {
    if (resp.status() == 204) {
      return CompletableFuture.completedFuture(null);
    }
    if (resp.status() != 200) {
      return CompletableFuture.failedFuture(new IOException("HTTP " + resp.status()));
    }
    SignedDesiredState doc;
    try {
      doc = Json.mapper().readValue(resp.body(), SignedDesiredState.class);
    } catch (Exception e) {
      return CompletableFuture.failedFuture(e);
    }
    return verifyAndFetchBundles(doc, Map.of());
  }

  /**
   * Verifies a document (fetched, or pushed with its nudge) and stores the bundles this device
   * lacks: from {@code inline} (digest → base64 gzip) when they came with it, else fetched.
   */
  private CompletableFuture<DesiredStateStore.Verified> verifyAndFetchBundles(
      SignedDesiredState doc, Map<String, String> inline) {
    DesiredStateStore.Verified verified;
    DesiredState state;
    try {
      long held;
      TrustedKeys keys;
      synchronized (this) {
        held = generation;
        keys = trusted != null ? trusted : sim.initialTrust();
      }
      verified = DesiredStateStore.verify(doc, keys, deviceId, held);
      state = verified.state();
    } catch (DesiredStateStore.Refused r) {
      sim.stats.refusedDocuments.increment();
      return CompletableFuture.failedFuture(new IOException(r.getMessage()));
    } catch (Exception e) {
      return CompletableFuture.failedFuture(e);
    }
    List<DesiredState.DesiredApp> held;
    synchronized (this) {
      held = apps;
    }
    CompletableFuture<Void> chain = CompletableFuture.completedFuture(null);
    for (DesiredState.DesiredApp app : state.apps()) {
      if (held.stream().anyMatch(h -> h.bundle().equals(app.bundle()))) {
        continue;
      }
      byte[] pushed =
          ControllerMessage.Nudge.inlineBundle(inline, app.bundle(), Wire.MAX_RESPONSE_BYTES);
      if (pushed != null) {
        try {
          storeBundle(app.bundle(), pushed);
        } catch (Exception e) {
          return CompletableFuture.failedFuture(e);
        }
        sim.stats.inlineBundles.increment();
        continue;
      }
      chain = chain.thenCompose(x -> fetchBundle(app.bundle()));
    }
    return chain.thenApply(x -> verified);
  }

  /** Checks a bundle's content against its digest, as the agent does before storing it. */
  private void storeBundle(String digest, byte[] content) throws Exception {
    String actual =
        "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
    if (!actual.equals(digest)) {
      sim.stats.refusedDocuments.increment();
      throw new IOException("bundle digest mismatch: " + actual + " != " + digest);
    }
    sim.stats.bundleBytes.add(content.length);
  }

  private CompletableFuture<Void> fetchBundle(String digest) {
    sim.stats.bundleFetches.increment();
    return http("GET", DeviceApi.BUNDLES + digest, null, true)
        .thenCompose(
            b -> {
              try {
                if (b.status() != 200) {
                  throw new IOException("bundle " + digest + ": HTTP " + b.status());
                }
                byte[] content =
                    b.header("content-encoding").equalsIgnoreCase("gzip")
                        ? Gzip.inflate(b.body(), Wire.MAX_RESPONSE_BYTES)
                        : b.body();
                storeBundle(digest, content);
                return CompletableFuture.<Void>completedFuture(null);
              } catch (Exception e) {
                return CompletableFuture.<Void>failedFuture(e);
              }
            });
  }

  /** "Applies" a verified document: each new revision becomes READY, or FAILED at the set rate. */
  private void apply(DesiredStateStore.Verified verified) {
    DesiredState state = verified.state();
    if (state.generation() <= generation) {
      return;
    }
    // As the agent: what is trusted changes only with a document taken.
    trusted = sim.trusting(verified.trustAfter());
    List<AppState> next = new ArrayList<>(state.apps().size());
    for (DesiredState.DesiredApp app : state.apps()) {
      AppState before =
          report.stream()
              .filter(a -> a.name().equals(app.name()) && a.revision().equals(app.revision()))
              .findFirst()
              .orElse(null);
      if (before != null) {
        next.add(before);
      } else if (ThreadLocalRandom.current().nextDouble() < sim.options.applyFailRate()) {
        sim.stats.failedApplies.increment();
        next.add(
            new AppState(
                app.name(), app.revision(), AppState.Phase.FAILED, "simulated apply failure"));
      } else {
        next.add(new AppState(app.name(), app.revision(), AppState.Phase.READY, null));
      }
    }
    generation = state.generation();
    apps = state.apps();
    report = List.copyOf(next);
    if (ws != null) {
      ws.send(new AgentMessage.AppReport(generation, report, trustedIds()));
    }
  }

  /** The key ids this device reports it trusts; none before it took a document. */
  private List<String> trustedIds() {
    return trusted == null ? List.of() : trusted.ids();
  }

  private static String rootMessage(Throwable t) {
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getMessage() == null ? t.toString() : t.getMessage();
  }

  // ------------------------------------------------------------------ HTTP

  /** One request on its own connection (the agent's client also opens one per exchange here). */
  private CompletableFuture<Wire.Response> http(
      String method, String path, byte[] body, boolean mutual) {
    CompletableFuture<Wire.Response> result = new CompletableFuture<>();
    ByteBuffer request =
        Wire.request(
            method, sim.hostHeader, path, body, "Accept-Encoding: gzip\r\nConnection: close\r\n");
    long upDelay =
        up.schedule(
            sim.options.link(),
            request.remaining(),
            System.nanoTime(),
            ThreadLocalRandom.current());
    long rtt = 2 * sim.options.link().delayNanos(ThreadLocalRandom.current());
    sim.scheduler.schedule(
        () -> {
          if (System.nanoTime() < cutUntil) {
            result.completeExceptionally(new IOException("link down"));
            return;
          }
          Wire.ResponseReader reader = new Wire.ResponseReader();
          SSLEngine[] engine = new SSLEngine[1];
          TlsNet.Handler h =
              new TlsNet.Handler() {
                @Override
                public void opened(TlsNet.Conn conn) {
                  conn.send(request);
                }

                @Override
                public void received(TlsNet.Conn conn, ByteBuffer data) {
                  try {
                    Wire.Response r = reader.offer(data);
                    if (r != null) {
                      conn.abort(new IOException("done"));
                      deliver(r);
                    }
                  } catch (IOException e) {
                    conn.abort(e);
                  }
                }

                @Override
                public void closed(TlsNet.Conn conn, IOException cause) {
                  if (engine[0] != null) {
                    sim.keys.release(engine[0]);
                  }
                  Wire.Response r = reader.eof();
                  if (r != null) {
                    deliver(r);
                  } else {
                    result.completeExceptionally(cause);
                  }
                }

                private void deliver(Wire.Response r) {
                  if (result.isDone()) {
                    return;
                  }
                  long d =
                      down.schedule(
                          sim.options.link(),
                          r.body().length + 200L,
                          System.nanoTime(),
                          ThreadLocalRandom.current());
                  sim.scheduler.schedule(() -> result.complete(r), d, TimeUnit.NANOSECONDS);
                }
              };
          TlsNet.Conn c =
              sim.net.open(
                  sim.remote,
                  sim.localAddress(index),
                  sim.host,
                  mutual ? index + 1 : -1 - index,
                  h,
                  e -> {
                    if (mutual) {
                      engine[0] = e;
                      bind(e);
                    }
                  });
          sim.scheduler.schedule(
              () -> c.abort(new IOException("no answer within " + HTTP_TIMEOUT.toSeconds() + "s")),
              HTTP_TIMEOUT.toMillis(),
              TimeUnit.MILLISECONDS);
        },
        upDelay + rtt,
        TimeUnit.NANOSECONDS);
    return result;
  }

  private void bind(SSLEngine engine) {
    sim.keys.bind(engine, credential);
  }

  // ------------------------------------------------------------------ WebSocket

  /** A compact frame sent and not acknowledged yet, with the highest seq it holds. */
  private record InFlight(CompactTelemetry.Encoded frame, long maxSeq) {}

  /** One WebSocket connection of this device. */
  private final class Ws implements TlsNet.Handler, Wire.FrameSink {
    private final Runnable releaseHandshake;
    private boolean released;
    TlsNet.Conn conn;
    private SSLEngine engine;
    private Wire.ResponseReader upgrade = new Wire.ResponseReader();
    private volatile boolean welcomed;
    private final Wire.FrameReader frames = new Wire.FrameReader();
    private String key;
    volatile long lastInbound = System.nanoTime();
    private volatile boolean cancelled;
    long seq;
    CompactTelemetry.Encoder encoder;
    final ArrayList<InFlight> framesInFlight = new ArrayList<>(0);

    Ws(Runnable releaseHandshake) {
      this.releaseHandshake = releaseHandshake;
    }

    void open() {
      if (cancelled) {
        release();
        sim.scheduler.execute(() -> disconnected(this, "cancelled"));
        return;
      }
      conn =
          sim.net.open(
              sim.remote,
              sim.localAddress(index),
              sim.host,
              index + 1,
              this,
              e -> {
                engine = e;
                bind(e);
              });
      sim.scheduler.schedule(
          () -> {
            // Heartbeats start with the welcome: without one the device would wait forever.
            if (upgrade != null || !welcomed) {
              conn.abort(new IOException("no welcome within " + HTTP_TIMEOUT.toSeconds() + "s"));
            }
          },
          HTTP_TIMEOUT.toMillis(),
          TimeUnit.MILLISECONDS);
    }

    private void release() {
      if (!released) {
        released = true;
        releaseHandshake.run();
      }
    }

    @Override
    public void opened(TlsNet.Conn c) {
      byte[] nonce = new byte[16];
      ThreadLocalRandom.current().nextBytes(nonce);
      key = Base64.getEncoder().encodeToString(nonce);
      c.send(
          Wire.request(
              "GET",
              sim.hostHeader,
              DeviceApi.CONNECT,
              null,
              "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                  + "Sec-WebSocket-Key: "
                  + key
                  + "\r\n"));
    }

    @Override
    public void received(TlsNet.Conn c, ByteBuffer data) {
      lastInbound = System.nanoTime();
      try {
        if (upgrade != null) {
          Wire.Response r = upgrade.offer(data);
          if (r == null) {
            return;
          }
          ByteBuffer rest = upgrade.rest();
          upgrade = null;
          release();
          if (r.status() != 101) {
            throw new IOException("WebSocket upgrade refused: HTTP " + r.status());
          }
          send(new AgentMessage.Hello(AGENT_VERSION, bootId, generation));
          if (rest.hasRemaining()) {
            frames.offer(rest, this);
          }
          return;
        }
        frames.offer(data, this);
      } catch (IOException e) {
        c.abort(e);
      }
    }

    @Override
    public void message(int opcode, byte[] payload) {
      switch (opcode) {
        case Wire.OP_TEXT -> {
          long d =
              down.schedule(
                  sim.options.link(),
                  payload.length + 6,
                  System.nanoTime(),
                  ThreadLocalRandom.current());
          sim.scheduler.schedule(() -> handle(payload), d, TimeUnit.NANOSECONDS);
        }
        case Wire.OP_PING -> conn.send(Wire.frame(Wire.OP_PONG, payload));
        case Wire.OP_CLOSE -> {
          int code = payload.length >= 2 ? ((payload[0] & 0xff) << 8) | (payload[1] & 0xff) : 1005;
          conn.send(Wire.closeFrame(code == 1005 ? 1000 : code, ""));
          sim.scheduler.schedule(
              () -> conn.abort(new IOException("closed by the controller (" + code + ")")),
              200,
              TimeUnit.MILLISECONDS);
        }
        default -> {}
      }
    }

    private void handle(byte[] payload) {
      ControllerMessage msg;
      try {
        msg = Json.mapper().readValue(payload, ControllerMessage.class);
      } catch (IOException e) {
        return; // A newer controller may send messages the agent does not know.
      }
      sim.stats.messagesIn.increment();
      switch (msg) {
        case ControllerMessage.Welcome w -> {
          welcomed = true;
          welcomed(this, w);
        }
        case ControllerMessage.Ack a -> {}
        case ControllerMessage.TelemetryAck a -> telemetryAcked(this, a.upTo());
        case ControllerMessage.Nudge n -> {
          synchronized (VirtualDevice.this) {
            if (ws == this && n.generation() > generation) {
              if (n.desired() != null) {
                acceptPushed(n);
              } else {
                fetchDesired();
              }
            }
          }
        }
        case ControllerMessage.LogsRequest r ->
            send(new AgentMessage.LogLines(r.id(), List.of(), true, "simulated device: no logs"));
        case ControllerMessage.LogsCancel c -> {}
      }
    }

    void abort(IOException why) {
      cancelled = true;
      if (conn != null) {
        conn.abort(why);
      }
    }

    /** Sends a message; returns its WebSocket payload bytes (0 if not connected). */
    int send(AgentMessage msg) {
      if (conn == null) {
        return 0;
      }
      byte[] text = Json.write(msg).getBytes(StandardCharsets.UTF_8);
      send(Wire.frame(Wire.OP_TEXT, text));
      return text.length;
    }

    /** Sends a binary message; returns its payload bytes (0 if not connected). */
    int sendBinary(byte[] payload) {
      if (conn == null) {
        return 0;
      }
      send(Wire.frame(Wire.OP_BINARY, payload));
      return payload.length;
    }

    private void send(ByteBuffer f) {
      sim.stats.messagesOut.increment();
      long d =
          up.schedule(
              sim.options.link(), f.remaining(), System.nanoTime(), ThreadLocalRandom.current());
      if (d < 500_000) {
        conn.send(f);
      } else {
        sim.scheduler.schedule(() -> conn.send(f), d, TimeUnit.NANOSECONDS);
      }
    }

    void close(int code, String reason) {
      cancelled = true;
      if (conn == null) {
        return;
      }
      conn.send(Wire.closeFrame(code, reason));
      sim.scheduler.schedule(() -> conn.abort(new IOException(reason)), 200, TimeUnit.MILLISECONDS);
    }

    @Override
    public void closed(TlsNet.Conn c, IOException cause) {
      release();
      if (engine != null) {
        sim.keys.release(engine);
      }
      sim.scheduler.execute(() -> disconnected(this, cause.getMessage()));
    }
  }
}
