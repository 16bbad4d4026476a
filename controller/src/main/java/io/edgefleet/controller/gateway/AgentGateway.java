package io.edgefleet.controller.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.api.DeviceSockets;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.devices.DeviceRecord;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.Presence;
import io.edgefleet.controller.pki.ControllerPki;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.CompactTelemetry;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.Telemetry;
import java.nio.ByteBuffer;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.ToLongFunction;
import org.eclipse.jetty.websocket.core.FrameHandler;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agents' side of the controller: admits a WebSocket only for a device certificate that is
 * current and not revoked, keeps one connection per device in {@link Connections} (a newer one
 * replaces an older one), answers {@code hello} with the check-in cadence and feeds heartbeats to
 * {@link Presence}. Thread-safe.
 */
public final class AgentGateway implements DeviceSockets {
  private static final Logger LOG = LoggerFactory.getLogger(AgentGateway.class);

  /** What agents may send telemetry in besides JSON, told in {@code welcome}. */
  static final List<String> TELEMETRY_ENCODINGS = List.of(CompactTelemetry.ENCODING);

  private final Jdbi jdbi;
  private final DeviceStore store;
  private final Presence presence;
  private final Clock clock;
  private final int heartbeatSeconds;
  private final Duration idleTimeout;
  private final Connections connections;
  private final Map<String, AtomicLong> refusals = new ConcurrentHashMap<>();
  private final AtomicLong malformedMessages = new AtomicLong();
  private final ConnectionLog connectionLog;
  private final ToLongFunction<String> generations;
  private final BiFunction<String, Long, Optional<ControllerMessage.Nudge>> catchUp;
  private final BiConsumer<String, AgentMessage> reports;
  private final BiConsumer<String, AgentMessage.LogLines> logLines;
  private final Consumer<String> disconnects;
  private final Consumer<String> kubernetesChanged;
  private final Attestation attestation;
  private final BiConsumer<String, AgentMessage.ClusterNode> clusterNodes;
  private final Traffic traffic;
  private final TelemetrySink telemetry;
  private final int telemetrySeconds;

  /**
   * Where what agents say goes, and where the answers to their {@code hello} come from. Every
   * consumer is called on the socket's thread and must not block.
   *
   * @param generations the current desired-state generation of a device (for {@code welcome})
   * @param catchUp the document for a device that connects behind the generation it holds
   * @param telemetry receives telemetry batches; the agent gets a {@code TelemetryAck} for what it
   *     answers
   * @param reports receives app reports and events from devices
   * @param logLines receives workload log lines from devices
   * @param disconnects hears that a device's connection ended (closed, failed or replaced by a
   *     newer one)
   * @param kubernetesChanged hears that a device reported a Kubernetes version or workload runtimes
   *     other than the ones stored (its facts already say the new ones), so what is rendered for it
   *     is rendered again
   * @param clusterNodes receives the K3s node reports of cluster members
   */
  public record Handlers(
      ToLongFunction<String> generations,
      BiFunction<String, Long, Optional<ControllerMessage.Nudge>> catchUp,
      TelemetrySink telemetry,
      BiConsumer<String, AgentMessage> reports,
      BiConsumer<String, AgentMessage.LogLines> logLines,
      Consumer<String> disconnects,
      Consumer<String> kubernetesChanged,
      Attestation attestation,
      BiConsumer<String, AgentMessage.ClusterNode> clusterNodes) {

    /** Handlers for a controller that runs no cluster. */
    public Handlers(
        ToLongFunction<String> generations,
        BiFunction<String, Long, Optional<ControllerMessage.Nudge>> catchUp,
        TelemetrySink telemetry,
        BiConsumer<String, AgentMessage> reports,
        BiConsumer<String, AgentMessage.LogLines> logLines,
        Consumer<String> disconnects,
        Consumer<String> kubernetesChanged,
        Attestation attestation) {
      this(
          generations,
          catchUp,
          telemetry,
          reports,
          logLines,
          disconnects,
          kubernetesChanged,
          attestation,
          (device, node) -> {});
    }

    /** Handlers for a controller that attests no device. */
    public Handlers(
        ToLongFunction<String> generations,
        BiFunction<String, Long, Optional<ControllerMessage.Nudge>> catchUp,
        TelemetrySink telemetry,
        BiConsumer<String, AgentMessage> reports,
        BiConsumer<String, AgentMessage.LogLines> logLines,
        Consumer<String> disconnects,
        Consumer<String> kubernetesChanged) {
      this(
          generations,
          catchUp,
          telemetry,
          reports,
          logLines,
          disconnects,
          kubernetesChanged,
          Attestation.NONE);
    }
  }

  /**
   * Attests devices with a TPM over their connection. Called on the socket's thread; must not block
   * (verification belongs on other threads).
   */
  public interface Attestation {
    /** Attests nothing. */
    Attestation NONE =
        new Attestation() {
          @Override
          public void connected(String deviceId) {}

          @Override
          public void answer(String deviceId, AgentMessage.AttestationAnswer answer) {}

          @Override
          public void disconnected(String deviceId) {}
        };

    /** The device said hello and was welcomed. */
    void connected(String deviceId);

    /** The device answered an attestation challenge. */
    void answer(String deviceId, AgentMessage.AttestationAnswer answer);

    /** The device's connection ended. */
    void disconnected(String deviceId);
  }

  /**
   * @param connections the devices' live connections, which this gateway adds to and removes from
   * @param telemetryInterval how often agents send metric summaries, told in {@code welcome}
   * @param traffic called for every message on an agent socket, on the socket's thread
   */
  public AgentGateway(
      Jdbi jdbi,
      DeviceStore store,
      Presence presence,
      Connections connections,
      Clock clock,
      Duration heartbeat,
      Duration telemetryInterval,
      Traffic traffic,
      Handlers handlers) {
    this.jdbi = jdbi;
    this.store = store;
    this.presence = presence;
    this.connections = connections;
    this.generations = handlers.generations();
    this.catchUp = handlers.catchUp();
    this.telemetry = handlers.telemetry();
    this.reports = handlers.reports();
    this.logLines = handlers.logLines();
    this.disconnects = handlers.disconnects();
    this.kubernetesChanged = handlers.kubernetesChanged();
    this.attestation = handlers.attestation();
    this.clusterNodes = handlers.clusterNodes();
    this.clock = clock;
    this.connectionLog = new ConnectionLog(LOG::info, clock);
    this.heartbeatSeconds = (int) Math.max(1, heartbeat.toSeconds());
    // Three missed heartbeats and the socket is considered dead.
    this.idleTimeout = heartbeat.multipliedBy(3).plusSeconds(5);
    this.telemetrySeconds = (int) Math.clamp(telemetryInterval.toSeconds(), 1, Integer.MAX_VALUE);
    this.traffic = traffic;
  }

  @Override
  public Admission admit(X509Certificate[] peerCertificates) {
    if (peerCertificates == null || peerCertificates.length == 0) {
      throw new ControllerException(
          ErrorCode.CLIENT_CERTIFICATE_REQUIRED,
          "this endpoint needs the device certificate issued at enrollment (mutual TLS)");
    }
    X509Certificate cert = peerCertificates[0];
    String deviceId = ControllerPki.deviceIdOf(cert);
    String serial = ControllerPki.serialOf(cert);
    DeviceRecord d =
        jdbi.withHandle(h -> store.byId(h, deviceId))
            .orElseThrow(
                () ->
                    refused(
                        deviceId,
                        ErrorCode.DEVICE_UNKNOWN,
                        "device " + deviceId + " is not known"));
    boolean revoked = jdbi.withHandle(h -> store.revoked(h, serial));
    if (d.lifecycle() == DeviceRecord.Lifecycle.DECOMMISSIONED || revoked) {
      throw refused(
          deviceId,
          ErrorCode.DEVICE_DECOMMISSIONED,
          "device "
              + deviceId
              + " was decommissioned and its certificate revoked; it will not be let back in");
    }
    boolean current =
        Objects.equals(serial, d.certificateSerial())
            || Objects.equals(serial, d.previousCertificateSerial());
    if (d.lifecycle() != DeviceRecord.Lifecycle.ACTIVE || !current) {
      throw refused(
          deviceId,
          ErrorCode.DEVICE_UNKNOWN,
          "certificate " + serial + " is not the current certificate of device " + deviceId);
    }
    return new Admission(deviceId, serial, cert.getPublicKey());
  }

  private ControllerException refused(String deviceId, ErrorCode code, String message) {
    refusals.computeIfAbsent(deviceId, k -> new AtomicLong()).incrementAndGet();
    return new ControllerException(code, message);
  }

  @Override
  public FrameHandler endpoint(String deviceId) {
    return new AgentConnection(this, deviceId);
  }

  /**
   * Where telemetry batches go. Implementations validate every record, store the good ones, skip
   * and count the bad ones, and answer the sequence number to acknowledge; they are called on the
   * socket's thread.
   */
  public interface TelemetrySink {
    /** A well-formed batch; returns the highest seq handled (stored or skipped), 0 for none. */
    long batch(String deviceId, List<Telemetry> records);

    /** A batch that did not bind as a whole: {@code records} is read one record at a time. */
    long raw(String deviceId, JsonNode records);

    /**
     * A compact batch (a binary message), read with the decoder of its connection and then handled
     * as {@link #batch}; returns the highest seq handled. A frame that cannot be read is {@link
     * #refused} as a whole and answers 0: nothing of it is stored or acknowledged, and the agent
     * sends it again (with every metric name spelled out, once its acknowledgement is overdue).
     */
    default long compact(String deviceId, ByteBuffer frame, CompactTelemetry.Decoder decoder) {
      List<Telemetry> records;
      try {
        records = decoder.decode(frame);
      } catch (CompactTelemetry.MalformedException e) {
        refused(deviceId, "unreadable compact telemetry message: " + e.getMessage());
        return 0;
      }
      return batch(deviceId, records);
    }

    /** A decoder for the compact batches of one connection. */
    default CompactTelemetry.Decoder decoder() {
      return new CompactTelemetry.Decoder();
    }

    /** A telemetry message refused as a whole (too large, unreadable). */
    void refused(String deviceId, String reason);
  }

  /** Hears of every message on an agent socket. */
  @FunctionalInterface
  public interface Traffic {
    /**
     * One message: its direction, its type (the record's simple name, {@code TelemetryCompact} for
     * a compact telemetry batch, or {@code Oversized}/{@code Unreadable} for refused input) and its
     * WebSocket payload bytes. Called on the socket's thread; must not block.
     */
    void message(boolean inbound, String type, long bytes);
  }

  void traffic(boolean inbound, String type, long bytes) {
    traffic.message(inbound, type, bytes);
  }

  void report(String deviceId, AgentMessage message) {
    try {
      reports.accept(deviceId, message);
    } catch (RuntimeException e) {
      malformedMessages.incrementAndGet();
      LOG.debug("report from {} refused: {}", deviceId, e.toString());
    }
  }

  /** Connection attempts refused for this device since the controller started. */
  public long refusedAttempts(String deviceId) {
    AtomicLong n = refusals.get(deviceId);
    return n == null ? 0 : n.get();
  }

  public long malformedMessages() {
    return malformedMessages.get();
  }

  void register(String deviceId, AgentConnection c, String from) {
    AgentConnection previous = connections.put(deviceId, c);
    if (previous != null && previous != c) {
      previous.close(DeviceApi.CLOSE_REPLACED, "replaced by a newer connection of the same device");
      ended(deviceId);
    }
    presence.connected(deviceId);
    connectionLog.connected(deviceId, from);
  }

  void unregister(String deviceId, AgentConnection c, String why) {
    if (connections.remove(deviceId, c)) {
      presence.disconnected(deviceId);
      connectionLog.disconnected(deviceId, why);
      ended(deviceId);
    }
  }

  /** Writes what the connection log left out of the last window; call every few seconds. */
  public void flushLog() {
    connectionLog.flush();
  }

  private void ended(String deviceId) {
    try {
      disconnects.accept(deviceId);
      attestation.disconnected(deviceId);
    } catch (RuntimeException e) {
      LOG.warn("disconnect listener failed for {}: {}", deviceId, e.toString());
    }
  }

  void clusterNode(String deviceId, AgentMessage.ClusterNode node) {
    try {
      clusterNodes.accept(deviceId, node);
    } catch (RuntimeException e) {
      malformedMessages.incrementAndGet();
      LOG.debug("cluster node report from {} refused: {}", deviceId, e.toString());
    }
  }

  void attestationAnswer(String deviceId, AgentMessage.AttestationAnswer answer) {
    try {
      attestation.answer(deviceId, answer);
    } catch (RuntimeException e) {
      malformedMessages.incrementAndGet();
      LOG.debug("attestation answer from {} refused: {}", deviceId, e.toString());
    }
  }

  void logLines(String deviceId, AgentMessage.LogLines message) {
    try {
      logLines.accept(deviceId, message);
    } catch (RuntimeException e) {
      malformedMessages.incrementAndGet();
      LOG.debug("log lines from {} refused: {}", deviceId, e.toString());
    }
  }

  void malformed(String deviceId, Exception e) {
    malformedMessages.incrementAndGet();
    LOG.debug("malformed message from {}: {}", deviceId, e.toString());
  }

  void telemetry(AgentConnection c, String deviceId, AgentMessage.TelemetryBatch batch) {
    long upTo;
    try {
      upTo = telemetry.batch(deviceId, batch.records());
    } catch (RuntimeException e) {
      // Not acknowledged: the agent sends the batch again later.
      LOG.warn("telemetry from {} not stored: {}", deviceId, e.toString());
      return;
    }
    if (upTo > 0) {
      c.send(new ControllerMessage.TelemetryAck(upTo));
    }
  }

  CompactTelemetry.Decoder telemetryDecoder() {
    return telemetry.decoder();
  }

  void telemetryCompact(
      AgentConnection c, String deviceId, ByteBuffer frame, CompactTelemetry.Decoder decoder) {
    long upTo;
    try {
      upTo = telemetry.compact(deviceId, frame, decoder);
    } catch (RuntimeException e) {
      // Not acknowledged: the agent sends the batch again later.
      LOG.warn("telemetry from {} not stored: {}", deviceId, e.toString());
      return;
    }
    if (upTo > 0) {
      c.send(new ControllerMessage.TelemetryAck(upTo));
    }
  }

  /** A message that did not bind: if it is telemetry, its records are read one by one. */
  boolean telemetryText(AgentConnection c, String deviceId, String text) {
    JsonNode tree;
    try {
      tree = Json.mapper().readTree(text);
    } catch (Exception e) {
      if (text.startsWith("{\"t\":\"tel\"")) {
        malformedMessages.incrementAndGet();
        telemetry.refused(deviceId, "unreadable telemetry message: " + e.getMessage());
        return true;
      }
      return false;
    }
    if (tree == null || !"tel".equals(tree.path("t").asText())) {
      return false;
    }
    long upTo;
    try {
      upTo = telemetry.raw(deviceId, tree.path("records"));
    } catch (RuntimeException e) {
      LOG.warn("telemetry from {} not stored: {}", deviceId, e.toString());
      return true;
    }
    if (upTo > 0) {
      c.send(new ControllerMessage.TelemetryAck(upTo));
    }
    return true;
  }

  void oversized(String deviceId, long bytes, int limit) {
    malformedMessages.incrementAndGet();
    LOG.debug("message of {} bytes from {} refused", bytes, deviceId);
    telemetry.refused(
        deviceId, "a message of " + bytes + " bytes was refused: the limit is " + limit + " bytes");
  }

  /** The device sent a message: it is there. */
  void heard(String deviceId) {
    presence.heartbeat(deviceId);
  }

  void hello(AgentConnection c, String deviceId, AgentMessage.Hello hello) {
    String agentVersion = hello.agentVersion();
    presence.heartbeat(deviceId);
    if (agentVersion != null && agentVersion.length() <= 64) {
      jdbi.useHandle(
          h ->
              store
                  .byId(h, deviceId)
                  .filter(d -> !agentVersion.equals(d.agentVersion()))
                  .ifPresent(
                      d -> store.setAgentVersion(h, deviceId, agentVersion, clock.millis())));
    }
    rememberRemoteAccess(deviceId, hello.allows());
    rememberRuntimes(deviceId, hello.runtimes());
    long generation = generations.applyAsLong(deviceId);
    Long known = hello.generation();
    c.send(
        new ControllerMessage.Welcome(
            deviceId,
            heartbeatSeconds,
            generation,
            telemetrySeconds,
            known != null,
            TELEMETRY_ENCODINGS));
    // An agent that says what it holds gets a newer document on this socket at once: no HTTPS
    // request (and its TLS handshake) after every reconnect. Up-to-date devices cost nothing.
    if (known != null && known != generation) {
      catchUp.apply(deviceId, known).ifPresent(c::send);
    }
    try {
      attestation.connected(deviceId);
    } catch (RuntimeException e) {
      LOG.warn("device {} could not be challenged: {}", deviceId, e.toString());
    }
  }

  /**
   * The device's cluster as its agent sees it now: stored in its facts when it differs from what is
   * stored; a new Kubernetes version has its applications rendered again. A report that is not a
   * Kubernetes version or lists too many or malformed group versions is refused as a device event
   * and changes nothing.
   */
  void cluster(String deviceId, AgentMessage.Cluster cluster) {
    String problem = clusterProblem(cluster);
    if (problem != null) {
      malformedMessages.incrementAndGet();
      telemetry.refused(deviceId, "the cluster facts were refused: " + problem);
      return;
    }
    String version = cluster.kubernetesVersion();
    List<String> apiVersions = cluster.apiVersions().stream().distinct().sorted().toList();
    boolean versionChanged =
        jdbi.inTransaction(
            h -> {
              Optional<DeviceRecord> d = store.byId(h, deviceId);
              if (d.isEmpty() || d.get().facts() == null) {
                return false;
              }
              DeviceFacts facts = d.get().facts();
              if (version.equals(facts.kubernetesVersion())
                  && apiVersions.equals(facts.kubernetesApiVersions())) {
                return false;
              }
              store.setFacts(
                  h, deviceId, facts.withKubernetes(version, apiVersions), clock.millis());
              return !version.equals(facts.kubernetesVersion());
            });
    if (versionChanged) {
      LOG.info("device {} reports Kubernetes {}", deviceId, version);
      kubernetesChanged.accept(deviceId);
    }
  }

  /** The remote-access kinds a controller knows of; anything else an agent says is left out. */
  private static final java.util.Set<String> REMOTE_ACCESS_KINDS =
      java.util.Set.of(DeviceFacts.ALLOW_SHELL, DeviceFacts.ALLOW_FILE);

  /**
   * Keeps in the device's facts which remote-access kinds its own configuration allows, as its
   * hello says, so that a shell or file copy is refused before a stream is opened; written only
   * when it changed.
   */
  private void rememberRemoteAccess(String deviceId, List<String> allows) {
    List<String> kinds =
        allows.stream().filter(REMOTE_ACCESS_KINDS::contains).distinct().sorted().toList();
    jdbi.useHandle(
        h ->
            store
                .byId(h, deviceId)
                .filter(d -> d.facts() != null && !kinds.equals(d.facts().remoteAccess()))
                .ifPresent(
                    d ->
                        store.setFacts(
                            h, deviceId, d.facts().withRemoteAccess(kinds), clock.millis())));
  }

  /** The workload runtimes a controller knows of; anything else an agent says is left out. */
  private static final java.util.Set<String> RUNTIME_KINDS =
      java.util.Set.of(
          DeviceFacts.RUNTIME_KUBERNETES, DeviceFacts.RUNTIME_CONTAINER, DeviceFacts.RUNTIME_VM);

  /**
   * Keeps in the device's facts the workload runtimes its hello says it has now (a node gains
   * podman or loses K3s after enrollment); its apps are placed again when they changed. An empty
   * list (an older agent) keeps what the device said at enrollment.
   */
  private void rememberRuntimes(String deviceId, List<String> runtimes) {
    if (runtimes.isEmpty()) {
      return;
    }
    List<String> kinds = runtimes.stream().filter(RUNTIME_KINDS::contains).distinct().toList();
    boolean changed =
        jdbi.inTransaction(
            h -> {
              Optional<DeviceRecord> d = store.byId(h, deviceId);
              if (d.isEmpty()
                  || d.get().facts() == null
                  || kinds.equals(d.get().facts().runtimes())) {
                return false;
              }
              store.setFacts(h, deviceId, d.get().facts().withRuntimes(kinds), clock.millis());
              return true;
            });
    if (changed) {
      LOG.info("device {} reports the runtimes {}", deviceId, kinds);
      kubernetesChanged.accept(deviceId);
    }
  }

  /** Why a cluster report cannot be taken, or null. */
  static String clusterProblem(AgentMessage.Cluster cluster) {
    String version = cluster.kubernetesVersion();
    if (version == null || !DeviceFacts.KUBERNETES_VERSION.matcher(version).matches()) {
      return "'"
          + (version == null ? "" : version.substring(0, Math.min(version.length(), 80)))
          + "' is not a Kubernetes version such as v1.30.6 or v1.30.6+k3s1";
    }
    if (cluster.apiVersions().size() > DeviceFacts.MAX_API_VERSIONS) {
      return cluster.apiVersions().size()
          + " API group versions were reported; at most "
          + DeviceFacts.MAX_API_VERSIONS
          + " are kept";
    }
    for (String v : cluster.apiVersions()) {
      if (v == null || !DeviceFacts.API_VERSION.matcher(v).matches()) {
        return "'"
            + (v == null ? "" : v.substring(0, Math.min(v.length(), 80)))
            + "' is not an API group version such as v1 or apps/v1";
      }
    }
    return null;
  }

  Clock clock() {
    return clock;
  }

  Duration idleTimeout() {
    return idleTimeout;
  }
}
