package io.edgefleet.controller.api;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.server.internal.HttpConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Absolute deadlines for HTTP connections that are not agents' WebSockets, and a cap per source
 * address. Jetty's idle timeout restarts with every byte, so a client sending one byte every few
 * seconds would keep a connection forever; here a connection must complete its TLS handshake and
 * request headers within {@link HttpLimits#headerTimeout()} of being accepted, and the next request
 * within {@link HttpLimits#idleTimeout()} of the previous answer, or it is closed. While a request
 * is being answered no deadline applies here (its body has its own, see {@link BodyReader};
 * streamed answers may last). A connection that is upgraded to a WebSocket leaves this guard: its
 * liveness is the agent's heartbeat.
 *
 * <p>Thread-safe. The deadlines are checked twice a second on the listener's timer thread.
 */
final class ConnectionGuard implements Connection.Listener, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ConnectionGuard.class);
  private static final long NO_DEADLINE = Long.MAX_VALUE;

  /** Why the guard closed a connection, as counted in metrics. */
  enum Reason {
    HEADER_TIMEOUT,
    IDLE_TIMEOUT,
    ADDRESS_LIMIT;

    String label() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  private static final class Tracked {
    final InetAddress address;
    volatile long deadline;
    volatile boolean answering;
    volatile Reason reason;

    Tracked(InetAddress address, long deadline) {
      this.address = address;
      this.deadline = deadline;
      this.reason = Reason.HEADER_TIMEOUT;
    }
  }

  private final HttpLimits limits;
  private final LongSupplier nanos;
  private final Map<Connection, Tracked> tracked = new ConcurrentHashMap<>();
  private final Map<InetAddress, AtomicInteger> perAddress = new ConcurrentHashMap<>();
  private final ScheduledFuture<?> sweeping;
  private final Consumer<Reason> onClose;
  private volatile long lastLimitLog;

  /**
   * @param onClose called with the reason each time the guard closes a connection
   */
  ConnectionGuard(
      HttpLimits limits,
      LongSupplier nanos,
      ScheduledExecutorService timer,
      Consumer<Reason> onClose) {
    this.limits = limits;
    this.nanos = nanos;
    this.onClose = onClose;
    this.sweeping = timer.scheduleWithFixedDelay(this::sweep, 500, 500, TimeUnit.MILLISECONDS);
  }

  @Override
  public void onOpened(Connection connection) {
    if (!(connection instanceof HttpConnection)) {
      return;
    }
    InetAddress address = address(connection.getEndPoint().getRemoteSocketAddress());
    int count = perAddress.computeIfAbsent(address, a -> new AtomicInteger()).incrementAndGet();
    Tracked t = new Tracked(address, nanos.getAsLong() + limits.headerTimeout().toNanos());
    tracked.put(connection, t);
    if (count > limits.maxConnectionsPerAddress()) {
      long now = nanos.getAsLong();
      if (now - lastLimitLog > TimeUnit.MINUTES.toNanos(1)) {
        lastLimitLog = now;
        LOG.warn(
            "{} has more than {} HTTP connections open; closing new ones (logged once a minute)",
            address.getHostAddress(),
            limits.maxConnectionsPerAddress());
      }
      close(connection, t, Reason.ADDRESS_LIMIT);
    }
  }

  @Override
  public void onClosed(Connection connection) {
    Tracked t = tracked.remove(connection);
    if (t != null) {
      perAddress.computeIfPresent(t.address, (a, n) -> n.decrementAndGet() <= 0 ? null : n);
    }
  }

  /** A request's headers are complete on this connection: no deadline until it is answered. */
  void answering(Connection connection) {
    Tracked t = tracked.get(connection);
    if (t != null) {
      t.answering = true;
      t.deadline = NO_DEADLINE;
    }
  }

  /** The request on this connection is answered: the next one must come within the idle time. */
  void answered(Connection connection) {
    Tracked t = tracked.get(connection);
    if (t != null) {
      t.answering = false;
      t.reason = Reason.IDLE_TIMEOUT;
      t.deadline = nanos.getAsLong() + limits.idleTimeout().toNanos();
    }
  }

  /** Connections open from one address that this guard watches. */
  int connectionsFrom(InetAddress address) {
    AtomicInteger n = perAddress.get(address);
    return n == null ? 0 : n.get();
  }

  void sweep() {
    long now = nanos.getAsLong();
    try {
      for (Map.Entry<Connection, Tracked> e : tracked.entrySet()) {
        Tracked t = e.getValue();
        if (!t.answering && now - t.deadline > 0) {
          close(e.getKey(), t, t.reason);
        }
      }
    } catch (RuntimeException e) {
      LOG.warn("HTTP connection sweep failed: {}", e.toString());
    }
  }

  private void close(Connection connection, Tracked t, Reason reason) {
    // Only once: the entry goes when Jetty reports the close, which may come later.
    if (t.deadline == -1) {
      return;
    }
    t.deadline = -1;
    t.answering = true;
    LOG.debug("closing HTTP connection from {}: {}", t.address.getHostAddress(), reason.label());
    try {
      connection.getEndPoint().close();
    } catch (RuntimeException e) {
      LOG.debug("closing a connection failed: {}", e.toString());
    }
    try {
      onClose.accept(reason);
    } catch (RuntimeException e) {
      LOG.debug("connection close listener failed: {}", e.toString());
    }
  }

  private static InetAddress address(SocketAddress remote) {
    if (remote instanceof InetSocketAddress inet && inet.getAddress() != null) {
      return inet.getAddress();
    }
    return InetAddress.getLoopbackAddress();
  }

  @Override
  public void close() {
    sweeping.cancel(false);
  }
}
