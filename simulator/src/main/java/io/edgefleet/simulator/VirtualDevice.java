package io.edgefleet.simulator;

import io.edgefleet.device.Backoff;
import io.edgefleet.device.Timeouts;
import io.edgefleet.device.enrollment.Enrollment;
import io.edgefleet.device.link.ControllerLink;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.EnrollmentRequest;
import io.edgefleet.protocol.EnrollmentResponse;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.TpmEnrollment;
import java.io.IOException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.random.RandomGenerator;

/**
 * One simulated agent: its life cycle (enroll, connect, back off, reconnect) around the device
 * core's enrollment checks and {@link ControllerLink} (hello, welcome deadline, heartbeats and
 * liveness, exactly the agent's), over a {@link SimSocket} on the simulator's shared selector
 * threads and its {@link SimulatedLink}; {@link SimulatedApps} follows the desired state and {@link
 * SimulatedTelemetry} reports. Its timers run on the simulator's shared scheduler. Every method
 * that changes state holds the device's monitor.
 */
final class VirtualDevice {
  private static final String AGENT_VERSION = "edgefleet-sim/0.1";

  /** The group versions a simulated cluster serves: those of a plain K3s node. */
  private static final List<String> SIMULATED_API_VERSIONS =
      List.of(
          "admissionregistration.k8s.io/v1",
          "apiextensions.k8s.io/v1",
          "apps/v1",
          "autoscaling/v2",
          "batch/v1",
          "coordination.k8s.io/v1",
          "discovery.k8s.io/v1",
          "networking.k8s.io/v1",
          "policy/v1",
          "rbac.authorization.k8s.io/v1",
          "storage.k8s.io/v1",
          "v1");

  /** The link's randomness (heartbeat jitter) from the calling thread's generator. */
  private static final RandomGenerator RANDOM = () -> ThreadLocalRandom.current().nextLong();

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
  private final EndpointChoice endpoints;

  /** The URL of the controller replica that holds this device's connection; null when none. */
  private volatile Endpoint connectedTo;

  private final SimulatedLink net;
  private final SimulatedApps apps;
  private final SimulatedAgent agent;
  private final SimulatedTelemetry telemetry;
  private final SimulatedClusterNode k3s;
  private final long bootId = ThreadLocalRandom.current().nextLong();

  // Guarded by this: the key every enrollment attempt uses, made at the first.
  private KeyPair enrollmentKey;

  // Guarded by this: whether the answer to the next enrollment attempt is lost.
  private boolean loseNextAnswer;

  volatile State state = State.NEW;
  private volatile DeviceKeys.Credential credential;
  volatile String deviceId;
  private ControllerLink link;
  private SimSocket socket;
  private ScheduledFuture<?> timer;
  private ScheduledFuture<?> telemetryTimer;
  private boolean everConnected;
  private boolean quarantined;

  /** Its software TPM with {@code --attestation}; null for a device without one. */
  private SimulatedTpm tpm;

  VirtualDevice(
      Simulator sim,
      int index,
      String serial,
      DeviceKeys.Credential credential,
      String id,
      SimulatedTpm tpm) {
    this.sim = sim;
    this.tpm = tpm;
    this.index = index;
    this.serial = serial;
    this.credential = credential;
    this.deviceId = id;
    this.loseNextAnswer =
        credential == null
            && ThreadLocalRandom.current().nextDouble() < sim.options.loseEnrollmentAnswers();
    this.backoff =
        new Backoff(Timeouts.RETRY_BASE, sim.options.maxBackoff(), ThreadLocalRandom.current());
    this.endpoints = new EndpointChoice(sim.endpoints, ThreadLocalRandom.current());
    this.net = new SimulatedLink(sim, this);
    this.apps = new SimulatedApps(sim, this, net);
    this.agent = new SimulatedAgent(sim, this, net);
    this.telemetry = new SimulatedTelemetry(sim.stats);
    this.k3s =
        new SimulatedClusterNode(
            this,
            sim.options.k3s(),
            sim.clusters,
            (delay, task) -> {
              ScheduledFuture<?> f =
                  sim.scheduler.schedule(task, delay.toNanos(), TimeUnit.NANOSECONDS);
              return () -> f.cancel(false);
            },
            (path, headers) -> net.http("GET", path, null, true, headers),
            // The device's key and id as they are when the token arrives: a device enrolling
            // in this run has neither when it is built.
            box ->
                io.edgefleet.protocol.tls.SealedBox.open(
                    new io.edgefleet.protocol.tls.SoftwareKeyAgreement(credential().key()),
                    java.util.Base64.getDecoder().decode(box.sealed()),
                    io.edgefleet.protocol.tls.SealedBox.secretAad(
                        deviceId, box.name(), box.version())),
            this::sendClusterNode,
            SimulatedClusterNode.address(index),
            () -> ThreadLocalRandom.current().nextDouble(),
            sim.stats);
  }

  /** The K3s node this device is while its desired state makes it a cluster member. */
  SimulatedClusterNode k3s() {
    return k3s;
  }

  private synchronized void sendClusterNode(AgentMessage.ClusterNode report) {
    if (link != null && state == State.CONNECTED) {
      link.send(report);
    }
  }

  boolean enrolled() {
    return deviceId != null;
  }

  /** The generation of the desired state this device holds. */
  long generation() {
    return apps.generation;
  }

  /** The agent version its active slot runs. */
  synchronized String agentVersion() {
    return agent.version();
  }

  /** Its agent: slots and updates. */
  SimulatedAgent agent() {
    return agent;
  }

  /** What its apps report. */
  List<AppState> report() {
    return apps.report;
  }

  DeviceKeys.Credential credential() {
    return credential;
  }

  /** The current connection's link, if connected or connecting. */
  synchronized ControllerLink link() {
    return link;
  }

  /** The controller URL this device dials now. */
  Endpoint endpoint() {
    return endpoints.current();
  }

  /** The controller URL that holds this device's connection, or null when it is not connected. */
  Endpoint connectedTo() {
    return connectedTo;
  }

  boolean stopped() {
    return state == State.STOPPED;
  }

  /** Begins enrolling or connecting after {@code delay}. */
  synchronized void start(Duration delay) {
    schedule(this::step, delay.toNanos());
  }

  synchronized void stop() {
    state = State.STOPPED;
    connectedTo = null;
    cancelTelemetry();
    k3s.close();
    if (timer != null) {
      timer.cancel(false);
    }
    if (link != null) {
      ControllerLink l = link;
      link = null;
      socket = null;
      l.close(1001, "simulator stopping");
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
    EnrollmentRequest request;
    try {
      // One key for every attempt, as an agent keeps its key on disk before it asks: an attempt
      // whose answer was lost asks again with the same key and gets the same device.
      synchronized (this) {
        if (enrollmentKey == null) {
          KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
          g.initialize(new ECGenParameterSpec("secp256r1"));
          enrollmentKey = g.generateKeyPair();
        }
        key = enrollmentKey;
      }
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
      request = Enrollment.request(sim.bootstrap.token(), facts, key);
      synchronized (this) {
        if (sim.tpms != null) {
          if (tpm == null) {
            tpm = SimulatedTpm.enrolling(sim.tpms);
          }
          request = withTpm(request, tpm.request((ECPublicKey) key.getPublic()));
        }
      }
    } catch (Exception e) {
      release.run();
      synchronized (this) {
        failed("cannot build an enrollment request: " + e);
      }
      return;
    }
    post(request, key, release);
  }

  private static EnrollmentRequest withTpm(EnrollmentRequest r, TpmEnrollment tpm) {
    return new EnrollmentRequest(r.token(), r.serial(), r.csrPem(), r.facts(), r.name(), tpm);
  }

  /** Posts an enrollment request; {@code release} (may be null) runs when the answer is in. */
  private void post(EnrollmentRequest request, KeyPair key, Runnable release) {
    net.http("POST", DeviceApi.ENROLLMENTS, Json.writeBytes(request), false)
        .whenComplete(
            (resp, err) -> {
              if (release != null) {
                release.run();
              }
              synchronized (this) {
                if (state == State.STOPPED) {
                  return;
                }
                if (err != null) {
                  failed("enrollment: " + err.getMessage());
                  return;
                }
                if (loseNextAnswer) {
                  // The controller answered; the link lost the answer on its way back.
                  loseNextAnswer = false;
                  sim.stats.lostEnrollmentAnswers.increment();
                  failed("enrollment: the answer was lost on the way back");
                  return;
                }
                enrolled(resp, key, request);
              }
            });
  }

  private void enrolled(Wire.Response resp, KeyPair key, EnrollmentRequest request) {
    if (resp.status() != 200) {
      failed("enrollment refused: HTTP " + resp.status());
      return;
    }
    EnrollmentResponse answer;
    try {
      answer = Enrollment.answer(resp.body());
    } catch (Enrollment.Failure e) {
      failed(e.getMessage());
      return;
    }
    switch (answer.status()) {
      case APPROVED -> {
        try {
          Enrollment.Certificates issued =
              Enrollment.verify(answer, sim.bootstrap.caFingerprint(), key);
          X509Certificate cert = issued.certificate();
          X509Certificate ca = issued.ca();
          if (tpm != null) {
            tpm.enrolled();
          }
          sim.identities.save(serial, answer.deviceId(), key.getPrivate(), cert, ca, tpm);
          if (answer.signingKeyPem() != null) {
            sim.adoptSigningKey(answer.signingKeyPem());
          }
          sim.adoptReleaseKeys(answer.releaseKeys());
          credential =
              new DeviceKeys.Credential(
                  "d" + index, key.getPrivate(), new X509Certificate[] {cert, ca});
          deviceId = answer.deviceId();
          sim.stats.enrolled.incrementAndGet();
          sim.stats.enrollments.increment();
          endpoints.worked();
          backoff.reset();
          connect();
        } catch (Enrollment.Failure e) {
          failed(e.getMessage());
        } catch (Exception e) {
          failed("invalid enrollment answer: " + e.getMessage());
        }
      }
      case PENDING -> {
        state = State.BACKING_OFF;
        schedule(this::step, Timeouts.enrollmentRetry(answer.retryAfterSeconds()).toNanos());
      }
      case REJECTED -> {
        sim.stats.refused.increment();
        state = State.BACKING_OFF;
        schedule(this::step, sim.options.maxBackoff().toNanos());
      }
      case ACTIVATE -> activate(answer, key, request);
    }
  }

  /** Unwraps the controller's credential with the TPM and asks again with it and a quote. */
  private void activate(EnrollmentResponse answer, KeyPair key, EnrollmentRequest request) {
    if (tpm == null || request.tpm() == null || answer.activation() == null) {
      failed(
          "the controller asked for TPM credential activation; run the simulator with"
              + " --attestation");
      return;
    }
    EnrollmentRequest again;
    try {
      again = withTpm(request, tpm.activate(answer.activation()));
    } catch (IllegalStateException e) {
      failed(e.getMessage());
      return;
    }
    sim.stats.activations.increment();
    post(again, key, null);
  }

  // ------------------------------------------------------------------ connection

  private void connect() {
    if (state == State.STOPPED) {
      return;
    }
    state = State.CONNECTING;
    if (net.isCut()) {
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
            ControllerLink l =
                new ControllerLink(
                    new Handler(),
                    sim.scheduler,
                    Clock.systemUTC(),
                    RANDOM,
                    new AgentMessage.Hello(
                        SimulatedAgent.INITIAL_VERSION.equals(agent.version())
                            ? AGENT_VERSION
                            : agent.version(),
                        bootId,
                        apps.generation));
            SimSocket s = new SimSocket(sim, index, net, l, release);
            link = l;
            socket = s;
            // The TCP and TLS handshakes cost round trips on a slow link.
            sim.scheduler.schedule(s::open, net.roundTrip(), TimeUnit.NANOSECONDS);
          }
        });
  }

  /** What this device does with its link's events. */
  private final class Handler implements ControllerLink.Handler {
    @Override
    public void welcomed(ControllerLink l, ControllerMessage.Welcome welcome) {
      sim.stats.messagesIn.increment();
      VirtualDevice.this.welcomed(l, welcome);
    }

    @Override
    public void received(ControllerLink l, ControllerMessage message) {
      sim.stats.messagesIn.increment();
      switch (message) {
        case ControllerMessage.TelemetryAck a -> {
          synchronized (VirtualDevice.this) {
            if (link == l) {
              telemetry.acknowledged(a.upTo());
            }
          }
        }
        case ControllerMessage.Nudge n -> {
          synchronized (VirtualDevice.this) {
            if (link == l) {
              apps.nudged(n);
            }
          }
        }
        case ControllerMessage.LogsRequest r ->
            l.send(new AgentMessage.LogLines(r.id(), List.of(), true, "simulated device: no logs"));
        case ControllerMessage.AttestationChallenge c -> l.send(attest(c));
        case ControllerMessage.TrustState t -> trust(l, t);
        default -> {}
      }
    }

    @Override
    public void closed(ControllerLink l, int code, String reason) {
      disconnected(l, reason);
    }
  }

  private synchronized AgentMessage.AttestationAnswer attest(
      ControllerMessage.AttestationChallenge c) {
    if (tpm == null) {
      return SimulatedTpm.noTpm(c);
    }
    sim.stats.attestations.increment();
    return tpm.answer(c);
  }

  private synchronized void trust(ControllerLink l, ControllerMessage.TrustState t) {
    if (link != l || t.quarantined() == quarantined) {
      return;
    }
    quarantined = t.quarantined();
    if (quarantined) {
      sim.stats.quarantined.incrementAndGet();
    } else {
      sim.stats.quarantined.decrementAndGet();
    }
  }

  private synchronized void welcomed(ControllerLink l, ControllerMessage.Welcome welcome) {
    if (link != l || state == State.STOPPED) {
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
    connectedTo = endpoints.current();
    endpoints.worked();
    backoff.reset();
    cancelTelemetry();
    l.heartbeatEvery(Timeouts.heartbeat(welcome.heartbeatSeconds()));
    int seconds =
        welcome.telemetrySeconds() > 0
            ? welcome.telemetrySeconds()
            : SimulatedTelemetry.DEFAULT_SECONDS;
    long nanos = TimeUnit.SECONDS.toNanos(seconds);
    telemetryTimer =
        sim.scheduler.scheduleAtFixedRate(
            () -> summarise(l),
            ThreadLocalRandom.current().nextLong(nanos + 1),
            nanos,
            TimeUnit.NANOSECONDS);
    String kubernetes = sim.options.kubernetesVersion(index);
    if (kubernetes != null) {
      l.send(new AgentMessage.Cluster(kubernetes, SIMULATED_API_VERSIONS));
    }
    telemetry.connected(l, welcome);
    apps.connected(l, welcome);
    agent.connected(l);
    k3s.connected();
  }

  private synchronized void summarise(ControllerLink l) {
    if (link == l) {
      telemetry.summarise(l);
    }
  }

  private synchronized void disconnected(ControllerLink l, String why) {
    if (link != l) {
      return;
    }
    link = null;
    socket = null;
    connectedTo = null;
    cancelTelemetry();
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
    if (socket != null && state == State.CONNECTED) {
      sim.stats.churned.increment();
      socket.close(1000, "device restarting");
    }
  }

  /** The agent restarts (into another slot): the connection closes and comes back at once. */
  synchronized void restart() {
    if (socket != null && state == State.CONNECTED) {
      socket.close(1000, "agent restarting into its other slot");
    }
  }

  /** The device's link goes down for {@code nanos}: the connection breaks without a close. */
  synchronized void cut(long nanos) {
    net.cut(nanos);
    sim.stats.cuts.increment();
    if (socket != null) {
      socket.abort(new IOException("link cut"));
    }
  }

  private void failed(String why) {
    if (state == State.STOPPED) {
      return;
    }
    sim.stats.lastError = why;
    state = State.BACKING_OFF;
    // Another replica is tried at once; only a whole round of failed URLs backs off.
    schedule(this::step, endpoints.failed() ? 0 : backoff.next().toNanos());
  }

  private void cancelTelemetry() {
    if (telemetryTimer != null) {
      telemetryTimer.cancel(false);
      telemetryTimer = null;
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
}
