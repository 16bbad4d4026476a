package io.edgefleet.controller.tunnels;

import io.edgefleet.controller.api.Authenticator;
import io.edgefleet.controller.api.Principal;
import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.common.Ids;
import io.edgefleet.controller.gateway.Connections;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.tunnel.TunnelException;
import io.edgefleet.protocol.tunnel.TunnelMux;
import io.edgefleet.protocol.tunnel.TunnelStream;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Predicate;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams through the devices' own connections, and their sessions: each stream opened here is a
 * session row (who, device, kind, what it reached, bytes, how it ended) with an audit entry at its
 * start and its end. A device has at most {@link TunnelMux#MAX_STREAMS} streams open; a stream
 * without traffic for the idle timeout is reset; a stream whose device connection ends is reset
 * with {@code DEVICE_DISCONNECTED} and its session says "link lost". Thread-safe.
 */
public final class Tunnels {
  private static final Logger LOG = LoggerFactory.getLogger(Tunnels.class);

  /** The byte budget of a stream unless its opener sets one. */
  public static final long DEFAULT_BUDGET = 4L * 1024 * 1024 * 1024;

  /** A stream being served: its session id and the stream. */
  public record Open(String sessionId, TunnelStream stream) {}

  private final Jdbi jdbi;
  private final Clock clock;
  private final AuditLog audit;
  private final Connections connections;
  private final Authenticator operators;
  private final Duration idleTimeout;
  private final Predicate<String> deviceExists;
  private final SessionStore store = new SessionStore();
  private final Map<String, Open> live = new ConcurrentHashMap<>();
  // Session ends are written off the sockets' threads, in order of their ends.
  private final ExecutorService writer =
      Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "edgefleet-tunnel-sessions");
            t.setDaemon(true);
            return t;
          });

  /**
   * @param operators says which devices a principal may see (sessions of others are hidden)
   * @param idleTimeout how long a stream may carry nothing before it is reset
   */
  public Tunnels(
      Jdbi jdbi,
      Clock clock,
      AuditLog audit,
      Connections connections,
      Authenticator operators,
      Duration idleTimeout,
      Predicate<String> deviceExists) {
    this.deviceExists = deviceExists;
    this.jdbi = jdbi;
    this.clock = clock;
    this.audit = audit;
    this.connections = connections;
    this.operators = operators;
    this.idleTimeout = idleTimeout;
  }

  /** Whether the device exists. */
  public boolean deviceExists(String deviceId) {
    return deviceExists.test(deviceId);
  }

  /** Ends the sessions a previous run of the controller left open; call once at start. */
  public void recover() {
    int n = jdbi.withHandle(h -> store.endAllOpen(h, clock.instant()));
    if (n > 0) {
      LOG.info("{} tunnel session(s) of the previous run marked as ended", n);
    }
  }

  /**
   * Opens a stream to a connected device and records its session. The caller checked the
   * principal's permission and that it may see the device.
   *
   * @param detail what the stream reaches, for the session record (at most 500 characters kept)
   * @throws ControllerException {@code DEVICE_NOT_CONNECTED}, {@code TUNNEL_LIMIT}
   */
  public Open open(
      String deviceId, String kind, Map<String, String> params, String detail, Principal who) {
    if (!deviceExists.test(deviceId)) {
      throw ControllerException.notFound("device", deviceId);
    }
    TunnelMux mux =
        connections
            .tunnels(deviceId)
            .orElseThrow(
                () ->
                    new ControllerException(
                        ErrorCode.DEVICE_NOT_CONNECTED,
                        "device "
                            + deviceId
                            + " is not connected: a tunnel goes through its agent's connection;"
                            + " try again once it is online (edgefleet devices get "
                            + deviceId
                            + ")"));
    Map<String, String> p = new LinkedHashMap<>(params);
    p.putIfAbsent(TunnelMux.BUDGET, Long.toString(DEFAULT_BUDGET));
    TunnelStream stream;
    try {
      stream = mux.open(kind, p);
    } catch (TunnelException e) {
      throw new ControllerException(e.code(), "device " + deviceId + ": " + e.getMessage());
    }
    String id = Ids.next("ses");
    String d = detail.length() > 500 ? detail.substring(0, 500) : detail;
    Session s = new Session(id, deviceId, kind, who.name(), d, clock.instant(), null, 0, 0, null);
    try {
      jdbi.useTransaction(
          h -> {
            store.insert(h, s);
            audit.record(
                h,
                who.name(),
                "session.start",
                deviceId,
                Map.of("session", id, "kind", kind, "detail", d));
          });
    } catch (RuntimeException e) {
      stream.reset(ErrorCode.INTERNAL, "the controller could not record the session");
      throw e;
    }
    Open open = new Open(id, stream);
    live.put(id, open);
    stream
        .ended()
        .whenComplete(
            (how, x) -> {
              try {
                writer.execute(() -> ended(s, stream, how));
              } catch (RejectedExecutionException e) {
                live.remove(s.id()); // stopping: the next start marks the session ended
              }
            });
    return open;
  }

  private void ended(Session s, TunnelStream stream, TunnelStream.Ended how) {
    live.remove(s.id());
    String reason = how == null ? "ended" : how.clean() ? "closed" : how.message();
    long in = stream.bytesIn();
    long out = stream.bytesOut();
    try {
      jdbi.useTransaction(
          h -> {
            store.end(h, s.id(), clock.instant(), in, out, reason);
            Map<String, Object> detail = new HashMap<>();
            detail.put("session", s.id());
            detail.put("kind", s.kind());
            detail.put("bytesIn", in);
            detail.put("bytesOut", out);
            detail.put("reason", reason);
            audit.record(h, s.actor(), "session.end", s.device(), detail);
          });
    } catch (RuntimeException e) {
      LOG.warn("the end of tunnel session {} was not recorded: {}", s.id(), e.toString());
    }
  }

  /** Resets streams idle for longer than the idle timeout; call every few seconds. */
  public void tick() {
    Instant now = clock.instant();
    for (Open o : live.values()) {
      Duration idle = Duration.between(o.stream().lastActivity(), now);
      if (idle.compareTo(idleTimeout) > 0) {
        o.stream()
            .reset(
                ErrorCode.TUNNEL_IDLE_TIMEOUT,
                "idle timeout: nothing went through for " + idle.toSeconds() + "s");
      }
    }
  }

  /** Streams open now. */
  public int openSessions() {
    return live.size();
  }

  /** A session the principal may see (404 otherwise). */
  public Session session(String id, Principal who) {
    Optional<Session> s = jdbi.withHandle(h -> store.get(h, id));
    if (s.isEmpty() || !operators.sees(who, s.get().device())) {
      throw ControllerException.notFound("session", id);
    }
    return live(s.get());
  }

  /** Sessions the principal may see, newest first. */
  public List<Session> sessions(
      Optional<String> device,
      Optional<String> kind,
      Optional<Instant> before,
      int limit,
      Principal who) {
    // Filtering after the query may leave a page short for a project-bound principal; the next
    // page starts before the last session shown.
    return jdbi.withHandle(h -> store.list(h, device, kind, before, limit)).stream()
        .filter(s -> operators.sees(who, s.device()))
        .map(this::live)
        .toList();
  }

  /** A running session with its bytes so far. */
  private Session live(Session s) {
    Open o = s.endedAt() == null ? live.get(s.id()) : null;
    if (o == null) {
      return s;
    }
    return new Session(
        s.id(),
        s.device(),
        s.kind(),
        s.actor(),
        s.detail(),
        s.startedAt(),
        null,
        o.stream().bytesIn(),
        o.stream().bytesOut(),
        null);
  }

  /** Stops writing session ends (after the connections closed). */
  public void close() {
    writer.shutdown();
  }
}
