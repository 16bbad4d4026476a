package io.edgefleet.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A TCP proxy that stands for a slow, distant link between a device and the controller:
 *
 * <ul>
 *   <li><b>latency</b>: every chunk read from one side is written to the other side a fixed time
 *       later ({@link Builder#delay(Duration, Duration)}, per direction), in the order it was read;
 *       reading goes on meanwhile, so the delay does not limit throughput;
 *   <li><b>a byte-rate cap</b> per direction ({@link Builder#rate(long, long)}), shared by all
 *       connections as a link's capacity is;
 *   <li><b>a black hole</b>: {@link #blackhole()} at once, or {@link #blackholeAfterDown(long)}
 *       once exactly N more bytes went downstream (towards the client), which stalls a transfer in
 *       its middle. Connections stay open and nothing is forwarded either way, as when a radio link
 *       drops and TCP does not notice; new connections are accepted but not connected onwards.
 *       {@link #restore()} forwards everything held, in order, as a link whose TCP retransmits
 *       would;
 *   <li><b>a cut</b>: {@link #cut()} resets every connection and refuses new ones until {@link
 *       #restore()}.
 * </ul>
 *
 * <p>The proxy splits TCP: each side's TCP talks to the proxy, so the latency is seen by the
 * applications (request to answer), not by either TCP's retransmission timers. "Upstream" is from
 * the client (the device) to the target (the controller), "downstream" back.
 *
 * <p>Thread-safe; two virtual threads per direction per connection.
 */
public final class DelayProxy implements AutoCloseable {
  private static final int READ_BUFFER = 16 * 1024;

  /** What the link does. */
  public enum State {
    UP,
    BLACKHOLE,
    CUT
  }

  /**
   * A snapshot of one connection.
   *
   * @param id increasing from 1 in the order connections were accepted
   * @param openedNanos when it was accepted ({@link System#nanoTime()})
   * @param closedNanos when it was closed, or -1 while open
   * @param up bytes forwarded from the client to the target
   * @param down bytes forwarded from the target to the client
   */
  public record Connection(int id, long openedNanos, long closedNanos, long up, long down) {
    public boolean open() {
      return closedNanos < 0;
    }
  }

  /** How to build a proxy; nothing happens until {@link #start()}. */
  public static final class Builder {
    private final InetSocketAddress target;
    private InetSocketAddress listen = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
    private Duration delayUp = Duration.ZERO;
    private Duration delayDown = Duration.ZERO;
    private long rateUp;
    private long rateDown;
    private int maxBuffered = 4 * 1024 * 1024;

    private Builder(InetSocketAddress target) {
      this.target = target;
    }

    /** Where to listen (default: a free port of 127.0.0.1). */
    public Builder listen(InetAddress address, int port) {
      this.listen = new InetSocketAddress(address, port);
      return this;
    }

    /** The same added latency both ways. */
    public Builder delay(Duration each) {
      return delay(each, each);
    }

    /** Added latency per direction: client to target, target to client. */
    public Builder delay(Duration up, Duration down) {
      if (up.isNegative() || down.isNegative()) {
        throw new IllegalArgumentException("a delay cannot be negative");
      }
      this.delayUp = up;
      this.delayDown = down;
      return this;
    }

    /** The most bytes per second each way over all connections; 0 for no cap (default). */
    public Builder rate(long upBytesPerSecond, long downBytesPerSecond) {
      if (upBytesPerSecond < 0 || downBytesPerSecond < 0) {
        throw new IllegalArgumentException("a rate cannot be negative");
      }
      this.rateUp = upBytesPerSecond;
      this.rateDown = downBytesPerSecond;
      return this;
    }

    /**
     * The most bytes one direction of one connection holds (read, not yet written) before the proxy
     * stops reading from that side (default 4 MiB).
     */
    public Builder maxBuffered(int bytes) {
      if (bytes < READ_BUFFER) {
        throw new IllegalArgumentException("maxBuffered must be at least " + READ_BUFFER);
      }
      this.maxBuffered = bytes;
      return this;
    }

    public DelayProxy start() {
      try {
        ServerSocket s = new ServerSocket();
        s.setReuseAddress(true);
        s.bind(listen, 64);
        return new DelayProxy(s, this);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot listen on " + listen, e);
      }
    }
  }

  private final ServerSocket server;
  private final InetSocketAddress target;
  private final Duration delayUp;
  private final Duration delayDown;
  private final int maxBuffered;
  private final Pacer pacerUp;
  private final Pacer pacerDown;
  private final Map<Integer, Link> links = new ConcurrentHashMap<>();
  private final AtomicInteger ids = new AtomicInteger();
  private final AtomicLong refused = new AtomicLong();
  private final AtomicLong bytesUp = new AtomicLong();
  private final AtomicLong bytesDown = new AtomicLong();
  private final ReentrantLock gate = new ReentrantLock();
  private final Condition gateOpen = gate.newCondition();
  private final Thread acceptor;
  // Guarded by gate.
  private State state = State.UP;
  private long downBudget = -1;
  private long blackholedAt = -1;
  private volatile boolean closed;

  private DelayProxy(ServerSocket server, Builder b) {
    this.server = server;
    this.target = b.target;
    this.delayUp = b.delayUp;
    this.delayDown = b.delayDown;
    this.maxBuffered = b.maxBuffered;
    this.pacerUp = b.rateUp > 0 ? new Pacer(b.rateUp) : null;
    this.pacerDown = b.rateDown > 0 ? new Pacer(b.rateDown) : null;
    this.acceptor = Thread.ofPlatform().daemon().name("delay-proxy-accept").start(this::accept);
  }

  /** A proxy in front of {@code host:port}. */
  public static Builder to(String host, int port) {
    return new Builder(new InetSocketAddress(host, port));
  }

  /** A proxy in front of an {@code https://host:port} URL (port 443 if none is given). */
  public static Builder forUrl(String url) {
    URI u = URI.create(url);
    return to(u.getHost(), u.getPort() < 0 ? 443 : u.getPort());
  }

  public int port() {
    return server.getLocalPort();
  }

  /** {@code https://<listen address>:<port>}. */
  public String url() {
    InetAddress a = server.getInetAddress();
    String host = a.getHostAddress();
    if (host.contains(":")) {
      host = "[" + host + "]";
    }
    return "https://" + host + ":" + port();
  }

  public State state() {
    gate.lock();
    try {
      return state;
    } finally {
      gate.unlock();
    }
  }

  /**
   * When the link was last black-holed ({@link System#nanoTime()}), -1 if it never was; kept after
   * {@link #restore()}.
   */
  public long blackholedAtNanos() {
    gate.lock();
    try {
      return blackholedAt;
    } finally {
      gate.unlock();
    }
  }

  /** Stops forwarding at once; connections stay open. */
  public void blackhole() {
    gate.lock();
    try {
      downBudget = -1;
      if (state != State.BLACKHOLE) {
        state = State.BLACKHOLE;
        blackholedAt = System.nanoTime();
      }
    } finally {
      gate.unlock();
    }
  }

  /**
   * Forwards exactly {@code bytes} more bytes downstream (over all connections, counted from now),
   * then black-holes the link as {@link #blackhole()} does. Upstream traffic flows until then.
   */
  public void blackholeAfterDown(long bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("bytes cannot be negative");
    }
    if (bytes == 0) {
      blackhole();
      return;
    }
    gate.lock();
    try {
      state = State.UP;
      downBudget = bytes;
      gateOpen.signalAll();
    } finally {
      gate.unlock();
    }
  }

  /** Resets every connection and refuses new ones until {@link #restore()}. */
  public void cut() {
    gate.lock();
    try {
      downBudget = -1;
      state = State.CUT;
      gateOpen.signalAll();
    } finally {
      gate.unlock();
    }
    links.values().forEach(Link::reset);
  }

  /**
   * The link works again: what was held while black-holed is forwarded, in order, on the
   * connections that held it.
   */
  public void restore() {
    gate.lock();
    try {
      downBudget = -1;
      state = State.UP;
      gateOpen.signalAll();
    } finally {
      gate.unlock();
    }
  }

  /** Bytes forwarded from clients to the target. */
  public long bytesUp() {
    return bytesUp.get();
  }

  /** Bytes forwarded from the target to clients. */
  public long bytesDown() {
    return bytesDown.get();
  }

  /** Connections refused while cut. */
  public long refused() {
    return refused.get();
  }

  /** Every connection accepted so far, oldest first. */
  public List<Connection> connections() {
    List<Connection> list = new ArrayList<>();
    for (Link l : links.values()) {
      list.add(l.snapshot());
    }
    list.sort(Comparator.comparingInt(Connection::id));
    return list;
  }

  /** Connections open now. */
  public int open() {
    return (int) links.values().stream().filter(l -> l.closedAt.get() < 0).count();
  }

  @Override
  public void close() {
    closed = true;
    try {
      server.close();
    } catch (IOException e) {
      // Closing anyway.
    }
    gate.lock();
    try {
      gateOpen.signalAll();
    } finally {
      gate.unlock();
    }
    links.values().forEach(Link::reset);
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
      if (state() == State.CUT) {
        refused.incrementAndGet();
        reset(client);
        continue;
      }
      Link l = new Link(ids.incrementAndGet(), client);
      links.put(l.id, l);
      Thread.ofVirtual().name("delay-proxy-connect-" + l.id).start(l::connect);
    }
  }

  /**
   * Waits while the link is black-holed; then, for downstream, takes up to {@code want} bytes of
   * the black-hole budget. Returns how many bytes may be written now (0 when the link is cut or the
   * proxy closed).
   */
  private int allow(boolean down, int want, Link l) throws InterruptedException {
    gate.lock();
    try {
      while (state == State.BLACKHOLE && !closed && !l.done) {
        gateOpen.await();
      }
      if (state == State.CUT || closed || l.done) {
        return 0;
      }
      if (!down || downBudget < 0) {
        return want;
      }
      int n = (int) Math.min(want, downBudget);
      downBudget -= n;
      if (downBudget == 0) {
        downBudget = -1;
        state = State.BLACKHOLE;
        blackholedAt = System.nanoTime();
      }
      return n;
    } finally {
      gate.unlock();
    }
  }

  private static void reset(Socket s) {
    try {
      s.setSoLinger(true, 0);
    } catch (IOException e) {
      // Closed already.
    }
    try {
      s.close();
    } catch (IOException e) {
      // Gone already.
    }
  }

  /** Hands out send times so that each direction stays within its byte rate. */
  private static final class Pacer {
    private final long bytesPerSecond;
    private long nextFree;

    Pacer(long bytesPerSecond) {
      this.bytesPerSecond = bytesPerSecond;
      this.nextFree = System.nanoTime();
    }

    /** Slices small enough that pacing stays smooth: 20 ms of the rate, at least 1 byte. */
    int slice() {
      return (int) Math.clamp(bytesPerSecond / 50, 1, READ_BUFFER);
    }

    /** The time ({@link System#nanoTime()}) at which {@code n} bytes may start to go. */
    synchronized long reserve(int n) {
      long now = System.nanoTime();
      long start = Math.max(now, nextFree);
      nextFree = start + n * 1_000_000_000L / bytesPerSecond;
      return start;
    }
  }

  /** Bytes to write at {@code dueNanos}, or the end of the stream when {@code data} is null. */
  private record Chunk(byte[] data, long dueNanos) {}

  private final class Link {
    final int id;
    final Socket client;
    final Socket upstream = new Socket();
    final long opened = System.nanoTime();
    final AtomicLong closedAt = new AtomicLong(-1);
    final AtomicLong up = new AtomicLong();
    final AtomicLong down = new AtomicLong();
    final AtomicInteger finished = new AtomicInteger();
    final List<Pipe> pipes = new java.util.concurrent.CopyOnWriteArrayList<>();
    volatile boolean done;

    Link(int id, Socket client) {
      this.id = id;
      this.client = client;
    }

    void connect() {
      try {
        // A black-holed link does not carry the connection onwards either.
        if (allow(false, 1, this) == 0) {
          reset();
          return;
        }
        client.setTcpNoDelay(true);
        upstream.setTcpNoDelay(true);
        upstream.connect(target, 10_000);
      } catch (IOException e) {
        reset();
        return;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        reset();
        return;
      }
      if (closed) {
        reset();
        return;
      }
      Pipe up = new Pipe(this, client, upstream, false);
      Pipe down = new Pipe(this, upstream, client, true);
      pipes.add(up);
      pipes.add(down);
      up.start();
      down.start();
    }

    /** One direction finished cleanly (end of stream passed on); both: the connection is over. */
    void halfDone() {
      if (finished.incrementAndGet() >= 2) {
        end(false);
      }
    }

    void reset() {
      end(true);
    }

    private void end(boolean abortive) {
      done = true;
      closedAt.compareAndSet(-1, System.nanoTime());
      if (abortive) {
        DelayProxy.reset(client);
        DelayProxy.reset(upstream);
      } else {
        quietly(client);
        quietly(upstream);
      }
      gate.lock();
      try {
        gateOpen.signalAll();
      } finally {
        gate.unlock();
      }
      pipes.forEach(Pipe::wake);
    }

    Connection snapshot() {
      return new Connection(id, opened, closedAt.get(), up.get(), down.get());
    }

    private static void quietly(Socket s) {
      try {
        s.close();
      } catch (IOException e) {
        // Nothing to do.
      }
    }
  }

  /** One direction of one connection: a reader that queues chunks, a writer that delivers them. */
  private final class Pipe {
    final Link link;
    final Socket from;
    final Socket to;
    final boolean down;
    final long delayNanos;
    final Pacer pacer;
    final AtomicLong counter;
    final AtomicLong total;
    final ReentrantLock lock = new ReentrantLock();
    final Condition changed = lock.newCondition();
    // Guarded by lock.
    final ArrayDeque<Chunk> queue = new ArrayDeque<>();
    long buffered;

    Pipe(Link link, Socket from, Socket to, boolean down) {
      this.link = link;
      this.from = from;
      this.to = to;
      this.down = down;
      this.delayNanos = (down ? delayDown : delayUp).toNanos();
      this.pacer = down ? pacerDown : pacerUp;
      this.counter = down ? link.down : link.up;
      this.total = down ? bytesDown : bytesUp;
    }

    /** Wakes the writer and reader (the connection ended). */
    void wake() {
      lock.lock();
      try {
        changed.signalAll();
      } finally {
        lock.unlock();
      }
    }

    void start() {
      String name = "delay-proxy-" + link.id + (down ? "-down" : "-up");
      Thread.ofVirtual().name(name + "-read").start(this::read);
      Thread.ofVirtual().name(name + "-write").start(this::write);
    }

    private void read() {
      byte[] buf = new byte[READ_BUFFER];
      try {
        InputStream in = from.getInputStream();
        int n;
        while ((n = in.read(buf)) >= 0) {
          if (n == 0) {
            continue;
          }
          byte[] data = java.util.Arrays.copyOf(buf, n);
          long due = System.nanoTime() + delayNanos;
          lock.lock();
          try {
            while (buffered >= maxBuffered && !link.done) {
              changed.await(100, TimeUnit.MILLISECONDS);
            }
            if (link.done) {
              return;
            }
            queue.addLast(new Chunk(data, due));
            buffered += n;
            changed.signalAll();
          } finally {
            lock.unlock();
          }
        }
        lock.lock();
        try {
          queue.addLast(new Chunk(null, System.nanoTime() + delayNanos));
          changed.signalAll();
        } finally {
          lock.unlock();
        }
      } catch (IOException e) {
        // Reset by the peer, or closed by cut() / close(): the connection is over.
        link.reset();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        link.reset();
      }
    }

    private void write() {
      try {
        OutputStream out = to.getOutputStream();
        while (true) {
          Chunk c;
          lock.lock();
          try {
            while (queue.isEmpty() && !link.done) {
              changed.await(100, TimeUnit.MILLISECONDS);
            }
            if (link.done) {
              return;
            }
            c = queue.peekFirst();
          } finally {
            lock.unlock();
          }
          waitUntil(c.dueNanos());
          if (link.done) {
            return;
          }
          if (c.data() == null) {
            // The end of the stream waits out a black hole too, without using the byte budget.
            if (allow(false, 1, link) == 0) {
              throw new Stopped();
            }
            to.shutdownOutput();
            link.halfDone();
            return;
          }
          int off = 0;
          while (off < c.data().length) {
            int want = c.data().length - off;
            if (pacer != null) {
              want = Math.min(want, pacer.slice());
            }
            int n = allowOrStop(want);
            if (pacer != null) {
              waitUntil(pacer.reserve(n));
              if (link.done) {
                return;
              }
            }
            out.write(c.data(), off, n);
            out.flush();
            off += n;
            counter.addAndGet(n);
            total.addAndGet(n);
          }
          lock.lock();
          try {
            queue.pollFirst();
            buffered -= c.data().length;
            changed.signalAll();
          } finally {
            lock.unlock();
          }
        }
      } catch (IOException e) {
        link.reset();
      } catch (InterruptedException | Stopped e) {
        if (e instanceof InterruptedException) {
          Thread.currentThread().interrupt();
        }
        link.reset();
      }
    }

    /** {@link #allow}, or {@link Stopped} when the link was cut or the proxy closed. */
    private int allowOrStop(int want) throws InterruptedException, Stopped {
      int n = allow(down, want, link);
      if (n == 0) {
        throw new Stopped();
      }
      return n;
    }

    private void waitUntil(long nanos) throws InterruptedException {
      lock.lock();
      try {
        long left;
        while ((left = nanos - System.nanoTime()) > 0 && !link.done) {
          changed.awaitNanos(left);
        }
      } finally {
        lock.unlock();
      }
    }
  }

  /** The link was cut or the proxy closed while a writer waited. */
  private static final class Stopped extends Exception {
    Stopped() {
      super(null, null, false, false);
    }
  }
}
