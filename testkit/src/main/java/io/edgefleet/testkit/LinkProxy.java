package io.edgefleet.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy on 127.0.0.1 that stands for a site's link: it forwards every connection to one
 * target until the link is {@link #cut() cut} (every connection is reset and new ones are refused
 * at once, as when a router reboots) or {@link #blackhole() black-holed} (connections stay open but
 * nothing gets through, as when a satellite link drops and TCP does not notice), and again after
 * {@link #restore()}. Point an agent's bootstrap file at {@link #url()}; the controller's
 * certificate covers 127.0.0.1.
 *
 * <p>Thread-safe; one virtual thread per direction per connection.
 */
public final class LinkProxy implements AutoCloseable {
  private static final int BUFFER = 16 * 1024;

  /** What the link does. */
  public enum State {
    UP,
    CUT,
    BLACKHOLE
  }

  private final ServerSocket server;
  private final InetSocketAddress target;
  private final Set<Pair> pairs = ConcurrentHashMap.newKeySet();
  private final AtomicLong accepted = new AtomicLong();
  private final AtomicLong refused = new AtomicLong();
  private final AtomicLong bytesUp = new AtomicLong();
  private final AtomicLong bytesDown = new AtomicLong();
  private final Object gate = new Object();
  private final Thread acceptor;
  private volatile State state = State.UP;
  private volatile boolean closed;

  private LinkProxy(ServerSocket server, InetSocketAddress target) {
    this.server = server;
    this.target = target;
    this.acceptor = Thread.ofPlatform().daemon().name("link-proxy-accept").start(this::accept);
  }

  /** A proxy on a free port of 127.0.0.1 in front of an {@code https://host:port} URL. */
  public static LinkProxy forUrl(String url) {
    java.net.URI u = java.net.URI.create(url);
    try {
      ServerSocket s = new ServerSocket();
      s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
      return new LinkProxy(
          s, new InetSocketAddress(u.getHost(), u.getPort() < 0 ? 443 : u.getPort()));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open a proxy port", e);
    }
  }

  /** {@code https://127.0.0.1:<port>}. */
  public String url() {
    return "https://127.0.0.1:" + server.getLocalPort();
  }

  public State state() {
    return state;
  }

  /** Resets every connection and refuses new ones until {@link #restore()}. */
  public void cut() {
    state = State.CUT;
    pairs.forEach(Pair::close);
  }

  /**
   * Stops forwarding without closing anything: open connections and new ones hang, so only timeouts
   * (heartbeats, idle limits) notice.
   */
  public void blackhole() {
    state = State.BLACKHOLE;
  }

  /** The link works again; connections that hung while black-holed are reset. */
  public void restore() {
    State was = state;
    state = State.UP;
    if (was == State.BLACKHOLE) {
      pairs.forEach(Pair::close);
    }
    synchronized (gate) {
      gate.notifyAll();
    }
  }

  /** Connections forwarded since start. */
  public long accepted() {
    return accepted.get();
  }

  /** Connections refused while cut. */
  public long refused() {
    return refused.get();
  }

  /** Bytes forwarded from clients to the target. */
  public long bytesUp() {
    return bytesUp.get();
  }

  /** Bytes forwarded from the target to clients. */
  public long bytesDown() {
    return bytesDown.get();
  }

  /** Connections open now. */
  public int open() {
    return pairs.size();
  }

  @Override
  public void close() {
    closed = true;
    try {
      server.close();
    } catch (IOException e) {
      // Closing anyway.
    }
    pairs.forEach(Pair::close);
    synchronized (gate) {
      gate.notifyAll();
    }
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
      if (state == State.CUT) {
        refused.incrementAndGet();
        reset(client);
        continue;
      }
      Thread.ofVirtual().name("link-proxy-connect").start(() -> open(client));
    }
  }

  private void open(Socket client) {
    Socket upstream = new Socket();
    Pair p = new Pair(client, upstream);
    pairs.add(p);
    try {
      client.setTcpNoDelay(true);
      upstream.setTcpNoDelay(true);
      upstream.connect(target, 10_000);
    } catch (IOException e) {
      p.close();
      return;
    }
    accepted.incrementAndGet();
    Thread.ofVirtual().name("link-proxy-up").start(() -> pump(p, client, upstream, bytesUp));
    Thread.ofVirtual().name("link-proxy-down").start(() -> pump(p, upstream, client, bytesDown));
  }

  private void pump(Pair p, Socket from, Socket to, AtomicLong counter) {
    byte[] buf = new byte[BUFFER];
    try {
      InputStream in = from.getInputStream();
      OutputStream out = to.getOutputStream();
      int n;
      while ((n = in.read(buf)) >= 0) {
        // Black-holed: hold the bytes until the link is back (they are then dropped by the reset).
        while (state == State.BLACKHOLE && !closed) {
          synchronized (gate) {
            if (state == State.BLACKHOLE && !closed) {
              gate.wait(1_000);
            }
          }
        }
        if (state != State.UP || closed || p.closed) {
          break;
        }
        counter.addAndGet(n);
        out.write(buf, 0, n);
        out.flush();
      }
    } catch (IOException e) {
      // Reset, or closed by cut(): the connection is over.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      p.close();
    }
  }

  private static void reset(Socket s) {
    try {
      s.setSoLinger(true, 0);
      s.close();
    } catch (IOException e) {
      // Gone already.
    }
  }

  private final class Pair {
    final Socket client;
    final Socket upstream;
    volatile boolean closed;

    Pair(Socket client, Socket upstream) {
      this.client = client;
      this.upstream = upstream;
    }

    void close() {
      closed = true;
      pairs.remove(this);
      reset(client);
      reset(upstream);
    }
  }
}
