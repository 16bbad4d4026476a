package io.edgefleet.simulator;

import java.io.EOFException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;

/**
 * TLS client connections multiplexed over a few selector threads. Each connection owns only its
 * {@link SSLEngine} and the bytes it could not hand on yet; the large packet and application
 * buffers belong to the selector thread and are shared by all its connections, which is what keeps
 * the cost per connection small. All callbacks of one connection run on its selector thread.
 */
final class TlsNet implements AutoCloseable {

  /** What a connection reports to its owner; called on the connection's selector thread. */
  interface Handler {
    /** The TLS handshake completed. */
    void opened(Conn conn);

    /** Decrypted application bytes; valid only during the call. */
    void received(Conn conn, ByteBuffer data);

    /** The connection ended (once); {@code cause} says why. */
    void closed(Conn conn, IOException cause);
  }

  private final SSLContext ssl;
  private final Loop[] loops;
  private final AtomicInteger next = new AtomicInteger();
  final LongAdder bytesIn = new LongAdder();
  final LongAdder bytesOut = new LongAdder();

  TlsNet(SSLContext ssl, int threads) {
    this.ssl = ssl;
    this.loops = new Loop[threads];
    for (int i = 0; i < threads; i++) {
      loops[i] = new Loop("sim-net-" + i);
      loops[i].thread.start();
    }
  }

  /**
   * Opens a connection; returns at once. {@code engineHook} sees the engine before the handshake
   * (used to tie the engine to a device's client certificate). {@code sessionKey} identifies whose
   * TLS sessions may be resumed.
   */
  Conn open(
      InetSocketAddress remote,
      InetAddress local,
      String host,
      int sessionKey,
      Handler handler,
      java.util.function.Consumer<SSLEngine> engineHook) {
    // The JDK caches client sessions by (peer host, peer port) and resumes them; one cache entry
    // per device (sessionKey stands in for the port, which the engine does not use otherwise)
    // keeps a device from resuming another device's session, and so from its identity.
    SSLEngine engine = ssl.createSSLEngine(host, sessionKey);
    engine.setUseClientMode(true);
    SSLParameters params = engine.getSSLParameters();
    params.setEndpointIdentificationAlgorithm("HTTPS");
    engine.setSSLParameters(params);
    engineHook.accept(engine);
    Loop loop = loops[Math.floorMod(next.getAndIncrement(), loops.length)];
    Conn c = new Conn(loop, engine, handler);
    loop.execute(() -> c.connect(remote, local));
    return c;
  }

  @Override
  public void close() {
    for (Loop l : loops) {
      l.shutdown();
    }
  }

  /** One selector thread and the scratch buffers its connections share. */
  private final class Loop implements Runnable {
    final Thread thread;
    final Selector selector;
    final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    final ByteBuffer netIn;
    final ByteBuffer netOut;
    final ByteBuffer appIn;
    volatile boolean stopped;

    Loop(String name) {
      try {
        selector = Selector.open();
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
      SSLEngine probe = ssl.createSSLEngine();
      int packet = probe.getSession().getPacketBufferSize();
      int app = probe.getSession().getApplicationBufferSize();
      netIn = ByteBuffer.allocate(packet * 2 + 1024);
      netOut = ByteBuffer.allocate(packet + 1024);
      appIn = ByteBuffer.allocate(app + 1024);
      thread = new Thread(this, name);
      thread.setDaemon(true);
    }

    void execute(Runnable task) {
      tasks.add(task);
      selector.wakeup();
    }

    void shutdown() {
      stopped = true;
      selector.wakeup();
    }

    @Override
    public void run() {
      try {
        while (!stopped) {
          selector.select(500);
          Runnable t;
          while ((t = tasks.poll()) != null) {
            try {
              t.run();
            } catch (RuntimeException e) {
              // A task belongs to one connection; never let it stop the loop.
            }
          }
          Iterator<SelectionKey> it = selector.selectedKeys().iterator();
          while (it.hasNext()) {
            SelectionKey k = it.next();
            it.remove();
            Conn c = (Conn) k.attachment();
            if (!k.isValid()) {
              continue;
            }
            c.ready(k);
          }
        }
      } catch (IOException | ClosedSelectorException e) {
        // Shutting down.
      } finally {
        for (SelectionKey k : selector.keys()) {
          ((Conn) k.attachment()).fail(new IOException("simulator stopping"));
        }
        try {
          selector.close();
        } catch (IOException e) {
          // Nothing left to do.
        }
      }
    }
  }

  /** One TLS connection. Not thread-safe: every method runs on its selector thread. */
  final class Conn {
    private final Loop loop;
    private final SSLEngine engine;
    private final Handler handler;
    private SocketChannel ch;
    private SelectionKey key;
    private ByteBuffer leftoverIn;
    private ByteBuffer pendingOut;
    private ArrayDeque<ByteBuffer> plain;
    private boolean open;
    private boolean done;

    private Conn(Loop loop, SSLEngine engine, Handler handler) {
      this.loop = loop;
      this.engine = engine;
      this.handler = handler;
    }

    /** Queues application bytes; callable from any thread. */
    void send(ByteBuffer data) {
      loop.execute(
          () -> {
            if (done) {
              return;
            }
            if (plain == null) {
              plain = new ArrayDeque<>(2);
            }
            plain.add(data);
            pump(false);
          });
    }

    /** Closes at once without a TLS close; callable from any thread. */
    void abort(IOException cause) {
      loop.execute(() -> fail(cause));
    }

    private void connect(InetSocketAddress remote, InetAddress local) {
      try {
        ch = SocketChannel.open();
        ch.configureBlocking(false);
        ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
        if (local != null) {
          ch.bind(new InetSocketAddress(local, 0));
        }
        boolean connected = ch.connect(remote);
        key = ch.register(loop.selector, connected ? 0 : SelectionKey.OP_CONNECT, this);
        if (connected) {
          handshake();
        }
      } catch (IOException e) {
        fail(e);
      }
    }

    private void handshake() throws IOException {
      engine.beginHandshake();
      pump(false);
    }

    private void ready(SelectionKey k) {
      try {
        if (k.isConnectable()) {
          ch.finishConnect();
          handshake();
          return;
        }
        pump(k.isReadable());
      } catch (IOException e) {
        fail(e);
      } catch (RuntimeException e) {
        fail(new IOException(e));
      }
    }

    /** Reads what is there, then unwraps and wraps until nothing more can move. */
    private void pump(boolean readable) {
      if (done) {
        return;
      }
      try {
        if (pendingOut != null) {
          write(pendingOut);
          if (!pendingOut.hasRemaining()) {
            pendingOut = null;
          }
        }
        ByteBuffer in = loop.netIn;
        in.clear();
        if (leftoverIn != null) {
          in.put(leftoverIn);
          leftoverIn = null;
        }
        boolean eof = false;
        if (readable) {
          int n = ch.read(in);
          if (n < 0) {
            eof = true;
          } else {
            bytesIn.add(n);
          }
        }
        in.flip();
        boolean progress = true;
        while (progress && !done) {
          progress = false;
          SSLEngineResult.HandshakeStatus hs = engine.getHandshakeStatus();
          switch (hs) {
            case NEED_TASK -> {
              Runnable task;
              while ((task = engine.getDelegatedTask()) != null) {
                task.run();
              }
              progress = true;
            }
            case NEED_WRAP -> progress = pendingOut == null && wrap();
            case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> progress = unwrap(in);
            default -> {
              if (pendingOut == null && plain != null && !plain.isEmpty()) {
                progress = wrap();
              }
              if (!done && in.hasRemaining()) {
                progress |= unwrap(in);
              }
            }
          }
        }
        if (!done && in.hasRemaining()) {
          leftoverIn = ByteBuffer.allocate(in.remaining()).put(in).flip();
        }
        if (eof) {
          fail(new EOFException("the controller closed the connection"));
          return;
        }
        if (!done) {
          int ops = SelectionKey.OP_READ | (pendingOut != null ? SelectionKey.OP_WRITE : 0);
          if (key.interestOps() != ops) {
            key.interestOps(ops);
          }
        }
      } catch (IOException e) {
        fail(e);
      } catch (RuntimeException e) {
        fail(new IOException(e));
      }
    }

    private boolean wrap() throws IOException {
      ByteBuffer out = loop.netOut;
      out.clear();
      ByteBuffer[] src = plain == null ? new ByteBuffer[0] : plain.toArray(new ByteBuffer[0]);
      SSLEngineResult r = engine.wrap(src, out);
      if (plain != null) {
        while (!plain.isEmpty() && !plain.peek().hasRemaining()) {
          plain.poll();
        }
      }
      if (r.getStatus() == SSLEngineResult.Status.CLOSED) {
        fail(new EOFException("TLS closed"));
        return false;
      }
      out.flip();
      if (out.hasRemaining()) {
        write(out);
        if (out.hasRemaining()) {
          pendingOut = ByteBuffer.allocate(out.remaining()).put(out).flip();
        }
      }
      finished(r);
      return r.bytesProduced() > 0 || r.bytesConsumed() > 0;
    }

    private boolean unwrap(ByteBuffer in) throws IOException {
      if (!in.hasRemaining()) {
        return false;
      }
      ByteBuffer app = loop.appIn;
      app.clear();
      SSLEngineResult r = engine.unwrap(in, app);
      switch (r.getStatus()) {
        case BUFFER_UNDERFLOW -> {
          return false;
        }
        case CLOSED -> {
          fail(new EOFException("the controller closed the TLS session"));
          return false;
        }
        case BUFFER_OVERFLOW -> throw new SSLException("application buffer too small");
        default -> {}
      }
      finished(r);
      app.flip();
      if (app.hasRemaining() && open) {
        handler.received(this, app);
      }
      return r.bytesConsumed() > 0 || r.bytesProduced() > 0;
    }

    private void finished(SSLEngineResult r) {
      if (!open
          && (r.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.FINISHED
              || (r.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NOT_HANDSHAKING
                  && engine.getHandshakeStatus()
                      == SSLEngineResult.HandshakeStatus.NOT_HANDSHAKING))) {
        open = true;
        handler.opened(this);
      }
    }

    private void write(ByteBuffer b) throws IOException {
      int n = ch.write(b);
      if (n > 0) {
        bytesOut.add(n);
      }
    }

    private void fail(IOException cause) {
      if (done) {
        return;
      }
      done = true;
      if (key != null) {
        key.cancel();
      }
      try {
        if (ch != null) {
          ch.close();
        }
      } catch (IOException e) {
        // Closing anyway.
      }
      leftoverIn = null;
      pendingOut = null;
      plain = null;
      handler.closed(this, cause);
    }
  }
}
