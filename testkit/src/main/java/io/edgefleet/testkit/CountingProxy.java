package io.edgefleet.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A plain TCP proxy on 127.0.0.1 that forwards every connection to one target and counts the bytes
 * per direction and per connection: what crosses the wire above TCP (TLS records included, IP and
 * TCP headers not). Put it between one agent and the controller by writing the agent's bootstrap
 * file with {@link #url()}; the controller's certificate covers 127.0.0.1, so pinning and hostname
 * checks still pass.
 *
 * <p>Besides totals, each connection keeps a log of the chunks it forwarded (when, which way, how
 * many bytes; one chunk is what one read returned, on loopback usually one TCP segment), so that a
 * caller can attribute traffic to a time window, e.g. one heartbeat or one update. The log is
 * bounded per connection ({@value #MAX_CHUNKS} entries); later chunks still count in the totals.
 *
 * <p>Threading: thread-safe; one virtual thread per direction per connection. {@link #close()}
 * stops accepting and closes every connection.
 */
public final class CountingProxy implements AutoCloseable {
  /** Chunks kept per connection; later ones count in the totals only. */
  public static final int MAX_CHUNKS = 100_000;

  private static final int BUFFER = 16 * 1024;

  /** Which way bytes went: {@code UP} from the client to the target, {@code DOWN} back. */
  public enum Direction {
    UP,
    DOWN
  }

  /** Bytes forwarded in one read, at {@code nanos} ({@link System#nanoTime()}). */
  public record Chunk(long nanos, Direction direction, int bytes) {}

  /**
   * A snapshot of one connection.
   *
   * @param id increasing from 1 in the order connections were accepted
   * @param openedNanos when it was accepted ({@link System#nanoTime()})
   * @param closedNanos when both sides were closed, or -1 while open
   * @param up bytes from the client to the target
   * @param down bytes from the target to the client
   * @param chunksUp reads from the client
   * @param chunksDown reads from the target
   * @param lastActivityNanos the last forwarded chunk (or the accept)
   */
  public record Connection(
      int id,
      long openedNanos,
      long closedNanos,
      long up,
      long down,
      long chunksUp,
      long chunksDown,
      long lastActivityNanos) {
    public boolean open() {
      return closedNanos < 0;
    }

    public long total() {
      return up + down;
    }
  }

  private final ServerSocket server;
  private final InetSocketAddress target;
  private final Map<Integer, Tracked> connections = new ConcurrentHashMap<>();
  private final AtomicInteger ids = new AtomicInteger();
  private final Thread acceptor;
  private volatile boolean closed;

  private CountingProxy(ServerSocket server, InetSocketAddress target) {
    this.server = server;
    this.target = target;
    this.acceptor = Thread.ofPlatform().daemon().name("counting-proxy-accept").start(this::accept);
  }

  /** Starts a proxy on a free port of 127.0.0.1 forwarding to {@code host:port}. */
  public static CountingProxy start(String host, int port) {
    try {
      ServerSocket s = new ServerSocket();
      s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
      return new CountingProxy(s, new InetSocketAddress(host, port));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open a proxy port", e);
    }
  }

  /** Starts a proxy in front of an {@code https://host:port} URL (port 443 if none is given). */
  public static CountingProxy forUrl(String url) {
    java.net.URI u = java.net.URI.create(url);
    return start(u.getHost(), u.getPort() < 0 ? 443 : u.getPort());
  }

  public int port() {
    return server.getLocalPort();
  }

  /** {@code https://127.0.0.1:<port>}. */
  public String url() {
    return "https://127.0.0.1:" + port();
  }

  /** Every connection accepted so far, oldest first. */
  public List<Connection> connections() {
    List<Connection> list = new ArrayList<>();
    for (Tracked t : connections.values()) {
      list.add(t.snapshot());
    }
    list.sort(Comparator.comparingInt(Connection::id));
    return list;
  }

  /** One connection, or null if there is no such id. */
  public Connection connection(int id) {
    Tracked t = connections.get(id);
    return t == null ? null : t.snapshot();
  }

  /** The chunk log of one connection (empty for an unknown id), in the order forwarded. */
  public List<Chunk> chunks(int id) {
    Tracked t = connections.get(id);
    if (t == null) {
      return List.of();
    }
    synchronized (t.log) {
      return List.copyOf(t.log);
    }
  }

  /** Bytes from clients to the target over all connections. */
  public long totalUp() {
    return connections.values().stream().mapToLong(t -> t.up.get()).sum();
  }

  /** Bytes from the target to clients over all connections. */
  public long totalDown() {
    return connections.values().stream().mapToLong(t -> t.down.get()).sum();
  }

  /** Closes one connection (both sides), as a network failure would. */
  public void closeConnection(int id) {
    Tracked t = connections.get(id);
    if (t != null) {
      t.closeBoth();
    }
  }

  @Override
  public void close() {
    closed = true;
    try {
      server.close();
    } catch (IOException e) {
      // Closing anyway.
    }
    connections.values().forEach(Tracked::closeBoth);
    try {
      acceptor.join(2_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void accept() {
    while (!closed) {
      Socket client;
      try {
        client = server.accept();
      } catch (IOException e) {
        if (closed) {
          return;
        }
        continue;
      }
      Thread.ofVirtual().name("counting-proxy-connect").start(() -> open(client));
    }
  }

  private void open(Socket client) {
    Socket upstream = new Socket();
    try {
      client.setTcpNoDelay(true);
      upstream.setTcpNoDelay(true);
      upstream.connect(target, 10_000);
    } catch (IOException e) {
      quietly(client);
      quietly(upstream);
      return;
    }
    Tracked t = new Tracked(ids.incrementAndGet(), client, upstream);
    connections.put(t.id, t);
    if (closed) {
      t.closeBoth();
      return;
    }
    Thread.ofVirtual().name("counting-proxy-up-" + t.id).start(() -> pump(t, Direction.UP));
    Thread.ofVirtual().name("counting-proxy-down-" + t.id).start(() -> pump(t, Direction.DOWN));
  }

  private static void pump(Tracked t, Direction d) {
    Socket from = d == Direction.UP ? t.client : t.upstream;
    Socket to = d == Direction.UP ? t.upstream : t.client;
    AtomicLong bytes = d == Direction.UP ? t.up : t.down;
    AtomicLong chunks = d == Direction.UP ? t.chunksUp : t.chunksDown;
    byte[] buf = new byte[BUFFER];
    boolean clean = false;
    try {
      InputStream in = from.getInputStream();
      OutputStream out = to.getOutputStream();
      int n;
      while ((n = in.read(buf)) >= 0) {
        if (n == 0) {
          continue;
        }
        long now = System.nanoTime();
        // Counted before forwarding: once the receiver has the bytes, the counters include them.
        bytes.addAndGet(n);
        chunks.incrementAndGet();
        t.lastActivity.set(now);
        synchronized (t.log) {
          if (t.log.size() < MAX_CHUNKS) {
            t.log.add(new Chunk(now, d, n));
          }
        }
        out.write(buf, 0, n);
        out.flush();
      }
      // Half-close: pass the end of stream on, keep the other direction running.
      to.shutdownOutput();
      clean = true;
    } catch (SocketException e) {
      // Reset, or closed by closeConnection(): the connection is over.
    } catch (IOException e) {
      // Same.
    } finally {
      if (!clean || t.finished.incrementAndGet() >= 2) {
        t.closeBoth();
      }
    }
  }

  private static void quietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // Nothing to do.
    }
  }

  private static final class Tracked {
    final int id;
    final Socket client;
    final Socket upstream;
    final long opened = System.nanoTime();
    final AtomicLong up = new AtomicLong();
    final AtomicLong down = new AtomicLong();
    final AtomicLong chunksUp = new AtomicLong();
    final AtomicLong chunksDown = new AtomicLong();
    final AtomicLong lastActivity = new AtomicLong(opened);
    final AtomicLong closedAt = new AtomicLong(-1);
    final AtomicInteger finished = new AtomicInteger();
    final List<Chunk> log = new ArrayList<>();

    Tracked(int id, Socket client, Socket upstream) {
      this.id = id;
      this.client = client;
      this.upstream = upstream;
    }

    void closeBoth() {
      closedAt.compareAndSet(-1, System.nanoTime());
      quietly(client);
      quietly(upstream);
    }

    Connection snapshot() {
      return new Connection(
          id,
          opened,
          closedAt.get(),
          up.get(),
          down.get(),
          chunksUp.get(),
          chunksDown.get(),
          lastActivity.get());
    }
  }
}
