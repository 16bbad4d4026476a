package io.edgefleet.protocol.tunnel;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.ErrorCode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.Condition;
import java.util.function.Consumer;

/**
 * One stream of a {@link TunnelMux}: blocking byte streams both ways with flow control, a half
 * close (FIN) each way, a reset, and CONTROL messages for the stream's handler. Its state is
 * guarded by the mux's lock.
 */
public final class TunnelStream {
  /** How a stream ended: cleanly ({@code code} null) or reset, by this side or by the peer. */
  public record Ended(ErrorCode code, String message, boolean byPeer) {
    public boolean clean() {
      return code == null;
    }
  }

  private static final int MAX_EARLY_CONTROLS = 64;

  private final TunnelMux mux;
  private final int id;
  private final String kind;
  private final Map<String, String> params;
  private final long budget;
  private final int receiveWindow;
  private final Condition readable;
  private final Condition writable;
  private final CompletableFuture<Ended> ended = new CompletableFuture<>();
  private final CompletableFuture<Void> accepted = new CompletableFuture<>();
  private final Input input = new Input();
  private final Output output = new Output();

  // Guarded by mux.lock.
  final ArrayDeque<byte[]> in = new ArrayDeque<>();
  int inHead; // bytes of in.peekFirst() already read
  int inBuffered;
  int inUncredited; // bytes received and not yet credited back (at most receiveWindow)
  int consumed; // bytes read since the last credit
  boolean inFin;
  boolean inputClosed;
  final ArrayDeque<byte[]> out = new ArrayDeque<>();
  int outBuffered;
  int sendCredit;
  long unacknowledged; // DATA handed to the link and not yet credited
  long lastCredit; // System.nanoTime() of the last credit (or of the first un-credited DATA)
  boolean finRequested;
  boolean finSent;
  boolean queued; // in the mux's round-robin
  int pendingCredit;
  Ended end;
  long bytesIn;
  long bytesOut;
  volatile long lastActivity;
  private Consumer<JsonNode> controls;
  private List<JsonNode> early = new ArrayList<>();

  TunnelStream(
      TunnelMux mux,
      int id,
      String kind,
      Map<String, String> params,
      long budget,
      int receiveWindow,
      long now) {
    this.mux = mux;
    this.id = id;
    this.kind = kind;
    this.params = Map.copyOf(params);
    this.budget = budget;
    this.receiveWindow = receiveWindow;
    this.readable = mux.lock.newCondition();
    this.writable = mux.lock.newCondition();
    this.lastActivity = now;
  }

  public int id() {
    return id;
  }

  public String kind() {
    return kind;
  }

  public Map<String, String> params() {
    return params;
  }

  /** The byte budget of this stream (both directions together); {@link Long#MAX_VALUE} if none. */
  public long budget() {
    return budget;
  }

  /** DATA from the peer; -1 after its FIN; reading grants the peer credit. */
  public InputStream input() {
    return input;
  }

  /** DATA to the peer; a write blocks while the peer's window is used up; close() sends FIN. */
  public OutputStream output() {
    return output;
  }

  /** Sends FIN once what was written left (the same as closing {@link #output()}). */
  public void closeOutput() {
    mux.fin(this);
  }

  /**
   * Drops what arrives from now on, crediting it so the peer is never stuck (the same as closing
   * {@link #input()}).
   */
  public void closeInput() {
    mux.closeInput(this);
  }

  /**
   * Where CONTROL messages of the peer go (called on the link's thread, must not block); messages
   * that came before are handed over at once.
   */
  public void onControl(Consumer<JsonNode> consumer) {
    List<JsonNode> before;
    mux.lock.lock();
    try {
      controls = consumer;
      before = early;
      early = List.of();
    } finally {
      mux.lock.unlock();
    }
    before.forEach(consumer);
  }

  /** Sends a CONTROL message to the peer's handler. */
  public void control(JsonNode message) throws TunnelException {
    mux.control(this, message);
  }

  /** Ends the stream at once both ways, telling the peer why. Does nothing if already ended. */
  public void reset(ErrorCode code, String message) {
    mux.reset(this, code, message, true);
  }

  /** Completes when the stream ended, cleanly (FIN both ways) or by a reset. */
  public CompletableFuture<Ended> ended() {
    return ended;
  }

  /**
   * Completes when the agent accepted the stream (at once on the agent's side, after {@link
   * #accept}); fails with a {@link TunnelException} if it was refused or reset first.
   */
  public CompletableFuture<Void> accepted() {
    return accepted;
  }

  /** The agent's side: takes the stream, letting the controller send. */
  public void accept() {
    mux.accept(this);
  }

  /** DATA bytes received. */
  public long bytesIn() {
    mux.lock.lock();
    try {
      return bytesIn;
    } finally {
      mux.lock.unlock();
    }
  }

  /** DATA bytes sent (or queued to be). */
  public long bytesOut() {
    mux.lock.lock();
    try {
      return bytesOut;
    } finally {
      mux.lock.unlock();
    }
  }

  /** When the stream last carried DATA or CONTROL either way. */
  public Instant lastActivity() {
    return Instant.ofEpochMilli(lastActivity);
  }

  int receiveWindow() {
    return receiveWindow;
  }

  // Called with mux.lock held.
  void control(JsonNode message, List<Runnable> after) {
    Consumer<JsonNode> c = controls;
    if (c != null) {
      after.add(() -> c.accept(message));
    } else if (early.size() < MAX_EARLY_CONTROLS) {
      early.add(message);
    }
  }

  // Called with mux.lock held; returns false if it had ended already.
  boolean end(Ended how) {
    if (end != null) {
      return false;
    }
    end = how;
    if (!how.clean()) {
      in.clear(); // A reset drops what was not read; a clean end leaves it to be read.
      inBuffered = 0;
    }
    out.clear();
    outBuffered = 0;
    readable.signalAll();
    writable.signalAll();
    return true;
  }

  // Completes the futures; called without the lock.
  void completeEnded() {
    Ended e = end;
    if (e.clean()) {
      accepted.complete(null);
    } else {
      accepted.completeExceptionally(new TunnelException(e.code(), e.message()));
    }
    ended.complete(e);
  }

  void signalReadable() {
    readable.signalAll();
  }

  void signalWritable() {
    writable.signalAll();
  }

  TunnelException failure() {
    return new TunnelException(end.code(), end.message());
  }

  private final class Input extends InputStream {
    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      int n = read(one, 0, 1);
      return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) {
        return 0;
      }
      return mux.read(TunnelStream.this, b, off, len, readable);
    }

    @Override
    public int available() {
      mux.lock.lock();
      try {
        return inBuffered;
      } finally {
        mux.lock.unlock();
      }
    }

    @Override
    public void close() {
      mux.closeInput(TunnelStream.this);
    }
  }

  private final class Output extends OutputStream {
    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      java.util.Objects.checkFromIndexSize(off, len, b.length);
      while (len > 0) {
        int n = mux.write(TunnelStream.this, b, off, len, writable);
        off += n;
        len -= n;
      }
    }

    @Override
    public void close() {
      mux.fin(TunnelStream.this);
    }
  }
}
