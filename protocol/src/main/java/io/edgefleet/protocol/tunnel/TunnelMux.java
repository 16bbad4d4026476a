package io.edgefleet.protocol.tunnel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.json.JsonCodec;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The streams of one agent connection, on either end: frames in ({@link #received}), frames out
 * through a {@link Sink} that takes one tunnel frame at a time.
 *
 * <p>Sending is fair: the mux hands the sink its next frame only once the previous one left (its
 * stage completed), so the link's other messages, queued meanwhile, go out before the next tunnel
 * frame and wait behind at most one. Small frames (OPEN, ACCEPT, RESET, CONTROL, CREDIT, FIN) go
 * before DATA, and DATA is taken from the streams round-robin, one frame of at most {@link
 * TunnelFrame#MAX_DATA} bytes each turn.
 *
 * <p>Flow control: a side never has more un-credited DATA in flight than the window the other side
 * granted (OPEN and ACCEPT carry it); a peer that sends more is reset with {@code
 * TUNNEL_PROTOCOL_ERROR}. Memory per stream is thus bounded by the two windows.
 *
 * <p>Thread-safe. {@link #received} never blocks and is meant for the link's reading thread;
 * callbacks ({@link Acceptor}, CONTROL consumers, futures) run on it too and must not block.
 */
public final class TunnelMux {
  /** Takes one whole tunnel frame; the stage completes when it left for the network. */
  @FunctionalInterface
  public interface Sink {
    CompletionStage<?> send(byte[] frame);
  }

  /** The agent's side: decides about a stream the controller opened. */
  @FunctionalInterface
  public interface Acceptor {
    /**
     * Must {@link TunnelStream#accept} or {@link TunnelStream#reset} the stream, and must not block
     * (run the stream's work on another thread).
     */
    void open(TunnelStream stream);
  }

  /** The least un-credited DATA allowed on the link whatever the rate (two small frames). */
  static final int MIN_UNACKNOWLEDGED = 8 * 1024;

  /** How much of the link's recent delivery rate may wait un-credited (socket buffers included). */
  static final double LINK_DELAY_SECONDS = 0.25;

  /** The most streams of one connection, unless told otherwise. */
  public static final int MAX_STREAMS = 16;

  /** The OPEN parameter that sets the stream's byte budget (decimal). */
  public static final String BUDGET = "budget";

  private static final byte[] EMPTY = new byte[0];

  final ReentrantLock lock = new ReentrantLock();
  private final Sink sink;
  private final Acceptor acceptor; // null on the controller's side
  private final Clock clock;
  private final int window;
  private final int maxStreams;
  private final Map<Integer, TunnelStream> streams = new LinkedHashMap<>();
  private final ArrayDeque<byte[]> urgent = new ArrayDeque<>();
  private final LinkedHashSet<TunnelStream> creditDue = new LinkedHashSet<>();
  private final ArrayDeque<TunnelStream> ready = new ArrayDeque<>();
  private boolean inFlight;
  // Link-level pacing: DATA handed to the socket and not yet credited by the peer, over all
  // streams, is kept to about LINK_DELAY of what the link delivers, so that the socket's own
  // buffers never hold seconds of tunnel data ahead of a heartbeat on a slow link.
  private boolean repumpScheduled;
  private double rate; // bytes per second the peer credited lately; 0 before any estimate
  private long rateMark = System.nanoTime();
  private long creditedSinceMark;
  private boolean closed;
  private ErrorCode closedCode;
  private String closedMessage;
  private int nextId = 1;
  private long framesSent;

  private TunnelMux(Sink sink, Acceptor acceptor, Clock clock, int window, int maxStreams) {
    if (window < TunnelFrame.MAX_DATA) {
      throw new IllegalArgumentException("a window is at least " + TunnelFrame.MAX_DATA);
    }
    this.sink = sink;
    this.acceptor = acceptor;
    this.clock = clock;
    this.window = window;
    this.maxStreams = maxStreams;
  }

  /** The controller's end: opens streams. */
  public static TunnelMux controller(Sink sink, Clock clock, int maxStreams) {
    return new TunnelMux(sink, null, clock, TunnelFrame.DEFAULT_WINDOW, maxStreams);
  }

  /** The agent's end: streams are opened by the controller and handed to {@code acceptor}. */
  public static TunnelMux agent(Sink sink, Acceptor acceptor, Clock clock, int maxStreams) {
    return new TunnelMux(sink, acceptor, clock, TunnelFrame.DEFAULT_WINDOW, maxStreams);
  }

  /** Both ends with a given window, for tests. */
  static TunnelMux of(Sink sink, Acceptor acceptor, Clock clock, int window, int maxStreams) {
    return new TunnelMux(sink, acceptor, clock, window, maxStreams);
  }

  /**
   * Opens a stream (the controller's end): sends OPEN and answers the stream at once; {@link
   * TunnelStream#accepted} tells whether the agent took it, and writes wait for that.
   *
   * @throws TunnelException {@code TUNNEL_LIMIT} with {@code maxStreams} open, {@code
   *     DEVICE_DISCONNECTED} once the link is gone
   */
  public TunnelStream open(String kind, Map<String, String> params) throws TunnelException {
    if (acceptor != null) {
      throw new IllegalStateException("streams are opened by the controller");
    }
    long budget = budget(params);
    TunnelStream s;
    lock.lock();
    try {
      if (closed) {
        throw new TunnelException(closedCode, closedMessage);
      }
      if (streams.size() >= maxStreams) {
        throw new TunnelException(
            ErrorCode.TUNNEL_LIMIT,
            "the device has "
                + streams.size()
                + " tunnel streams open, the most it may have; close one and try again");
      }
      int id = nextId++;
      if (nextId <= 0) {
        nextId = 1;
      }
      s = new TunnelStream(this, id, kind, params, budget, window, clock.millis());
      streams.put(id, s);
      ObjectNode open = JsonNodeFactory.instance.objectNode();
      open.put("kind", kind);
      ObjectNode p = open.putObject("params");
      params.forEach(p::put);
      open.put("window", window);
      urgent.add(TunnelFrame.encode(TunnelFrame.OPEN, id, JsonCodec.writeBytes(open)));
    } finally {
      lock.unlock();
    }
    pump();
    return s;
  }

  private static long budget(Map<String, String> params) throws TunnelException {
    String b = params.get(BUDGET);
    if (b == null) {
      return Long.MAX_VALUE;
    }
    try {
      long v = Long.parseLong(b);
      if (v > 0) {
        return v;
      }
    } catch (NumberFormatException e) {
      // below
    }
    throw new TunnelException(
        ErrorCode.TUNNEL_PROTOCOL_ERROR, "the budget '" + b + "' is not a positive byte count");
  }

  /** Streams open now. */
  public int openStreams() {
    lock.lock();
    try {
      return streams.size();
    } finally {
      lock.unlock();
    }
  }

  /** The open streams, for idle checks and listings. */
  public List<TunnelStream> streams() {
    lock.lock();
    try {
      return List.copyOf(streams.values());
    } finally {
      lock.unlock();
    }
  }

  /** Tunnel frames handed to the sink so far. */
  public long framesSent() {
    lock.lock();
    try {
      return framesSent;
    } finally {
      lock.unlock();
    }
  }

  /**
   * The link is gone: every stream ends with {@code code} and {@code message} (nothing is sent),
   * and no stream opens any more.
   */
  public void linkLost(ErrorCode code, String message) {
    List<TunnelStream> ended = new ArrayList<>();
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      closedCode = code;
      closedMessage = message;
      for (TunnelStream s : streams.values()) {
        if (s.end(new TunnelStream.Ended(code, message, false))) {
          ended.add(s);
        }
      }
      streams.clear();
      urgent.clear();
      creditDue.clear();
      ready.clear();
    } finally {
      lock.unlock();
    }
    ended.forEach(TunnelStream::completeEnded);
  }

  /** A tunnel frame from the peer (the whole binary message). */
  public void received(ByteBuffer message) {
    TunnelFrame f;
    try {
      f = TunnelFrame.decode(message);
    } catch (TunnelFrame.MalformedException e) {
      return; // A frame this end cannot read names no stream it could reset safely.
    }
    List<Runnable> after = new ArrayList<>();
    lock.lock();
    try {
      if (!closed) {
        handle(f, after);
      }
    } finally {
      lock.unlock();
    }
    after.forEach(Runnable::run);
    pump();
  }

  private void handle(TunnelFrame f, List<Runnable> after) {
    if (f.type() == TunnelFrame.OPEN) {
      opened(f, after);
      return;
    }
    TunnelStream s = streams.get(f.stream());
    if (s == null) {
      return; // Frames racing a reset or the end of the stream.
    }
    switch (f.type()) {
      case TunnelFrame.ACCEPT -> {
        if (acceptor != null) {
          protocolError(s, "only the agent accepts streams", after);
          return;
        }
        JsonNode a = json(f);
        int w = a == null ? -1 : a.path("window").asInt(-1);
        if (w < TunnelFrame.MAX_DATA) {
          protocolError(s, "ACCEPT without a window of at least 16 KiB", after);
          return;
        }
        s.sendCredit = w;
        s.signalWritable();
        after.add(() -> s.accepted().complete(null));
      }
      case TunnelFrame.DATA -> {
        int n = f.payload().length;
        if (s.inUncredited + n > s.receiveWindow()) {
          protocolError(s, "the peer sent more than the window it was granted", after);
          return;
        }
        s.inUncredited += n;
        s.bytesIn += n;
        s.lastActivity = clock.millis();
        if (s.bytesIn + s.bytesOut > s.budget()) {
          budgetUsed(s, after);
          return;
        }
        if (s.inFin) {
          protocolError(s, "DATA after FIN", after);
          return;
        }
        if (s.inputClosed) {
          credit(s, n); // Nobody reads any more: the data is dropped, the window stays open.
        } else if (n > 0) {
          s.in.add(f.payload());
          s.inBuffered += n;
          s.signalReadable();
        }
      }
      case TunnelFrame.CREDIT -> {
        int c;
        try {
          c = f.credit();
        } catch (TunnelFrame.MalformedException e) {
          protocolError(s, e.getMessage(), after);
          return;
        }
        long total = (long) s.sendCredit + c;
        if (total > Integer.MAX_VALUE) {
          protocolError(s, "credit beyond 2^31-1 bytes", after);
          return;
        }
        s.sendCredit = (int) total;
        s.signalWritable();
        credited(s, c);
      }
      case TunnelFrame.FIN -> {
        s.inFin = true;
        s.signalReadable();
        finishIfDone(s, after);
      }
      case TunnelFrame.RESET -> {
        JsonNode r = json(f);
        ErrorCode code =
            r == null ? ErrorCode.TUNNEL_PROTOCOL_ERROR : ErrorCode.parse(r.path("code").asText());
        String msg = r == null ? "the peer reset the stream" : r.path("message").asText("reset");
        ended(s, new TunnelStream.Ended(code, msg, true), after);
      }
      case TunnelFrame.CONTROL -> {
        JsonNode c = json(f);
        if (c == null || !c.isObject()) {
          protocolError(s, "a CONTROL frame carries a JSON object", after);
          return;
        }
        s.lastActivity = clock.millis();
        s.control(c, after);
      }
      default -> protocolError(s, "unexpected frame type " + f.type(), after);
    }
  }

  private void opened(TunnelFrame f, List<Runnable> after) {
    if (acceptor == null) {
      return; // Only the controller opens streams.
    }
    int id = f.stream();
    JsonNode o = json(f);
    if (streams.containsKey(id)) {
      protocolError(streams.get(id), "OPEN for a stream that is open", after);
      return;
    }
    String kind = o == null ? "" : o.path("kind").asText("");
    int w = o == null ? -1 : o.path("window").asInt(-1);
    Map<String, String> params = new LinkedHashMap<>();
    if (o != null) {
      o.path("params")
          .fields()
          .forEachRemaining(e -> params.put(e.getKey(), e.getValue().asText()));
    }
    if (kind.isEmpty() || w < TunnelFrame.MAX_DATA) {
      urgent.add(reset(id, ErrorCode.TUNNEL_PROTOCOL_ERROR, "OPEN needs a kind and a window"));
      return;
    }
    if (streams.size() >= maxStreams) {
      urgent.add(
          reset(
              id,
              ErrorCode.TUNNEL_LIMIT,
              "the device has " + streams.size() + " tunnel streams open, the most it may have"));
      return;
    }
    long budget;
    try {
      budget = budget(params);
    } catch (TunnelException e) {
      urgent.add(reset(id, e.code(), e.getMessage()));
      return;
    }
    TunnelStream s = new TunnelStream(this, id, kind, params, budget, window, clock.millis());
    s.sendCredit = w;
    streams.put(id, s);
    after.add(
        () -> {
          try {
            acceptor.open(s);
          } catch (RuntimeException e) {
            s.reset(ErrorCode.INTERNAL, "the device could not open the stream: " + e);
          }
        });
  }

  void accept(TunnelStream s) {
    lock.lock();
    try {
      if (acceptor == null || s.end != null) {
        return;
      }
      ObjectNode a = JsonNodeFactory.instance.objectNode().put("window", s.receiveWindow());
      urgent.add(TunnelFrame.encode(TunnelFrame.ACCEPT, s.id(), JsonCodec.writeBytes(a)));
    } finally {
      lock.unlock();
    }
    s.accepted().complete(null);
    pump();
  }

  private static JsonNode json(TunnelFrame f) {
    try {
      byte[] payload = f.payload();
      return payload.length == 0 ? MissingNode.getInstance() : JsonCodec.readTree(payload);
    } catch (Exception e) {
      return null;
    }
  }

  private static byte[] reset(int id, ErrorCode code, String message) {
    ObjectNode r = JsonNodeFactory.instance.objectNode();
    r.put("code", code.name());
    r.put("message", message.length() > 1000 ? message.substring(0, 1000) : message);
    return TunnelFrame.encode(TunnelFrame.RESET, id, JsonCodec.writeBytes(r));
  }

  private void protocolError(TunnelStream s, String why, List<Runnable> after) {
    urgent.add(reset(s.id(), ErrorCode.TUNNEL_PROTOCOL_ERROR, why));
    ended(s, new TunnelStream.Ended(ErrorCode.TUNNEL_PROTOCOL_ERROR, why, false), after);
  }

  private void budgetUsed(TunnelStream s, List<Runnable> after) {
    String why =
        "the stream used up its budget of "
            + s.budget()
            + " bytes; open a new one or ask for a larger budget";
    urgent.add(reset(s.id(), ErrorCode.TUNNEL_BUDGET_EXCEEDED, why));
    ended(s, new TunnelStream.Ended(ErrorCode.TUNNEL_BUDGET_EXCEEDED, why, false), after);
  }

  // With the lock held: the peer read c more bytes of s.
  private void credited(TunnelStream s, int c) {
    s.unacknowledged -= Math.min(c, s.unacknowledged);
    long now = System.nanoTime();
    s.lastCredit = now;
    creditedSinceMark += c;
    long elapsed = now - rateMark;
    if (elapsed >= 100_000_000L) {
      double r = creditedSinceMark / (elapsed / 1e9);
      rate = rate == 0 ? r : 0.5 * rate + 0.5 * r;
      rateMark = now;
      creditedSinceMark = 0;
    }
  }

  /**
   * Un-credited DATA that counts against the link: a stream credited within the last {@link
   * #STALL_NANOS} (one whose reader stalls holds its data in the peer's buffer, not on the link,
   * and must not hold up the other streams).
   */
  private long unacknowledged(long now) {
    long sum = 0;
    for (TunnelStream t : streams.values()) {
      if (t.unacknowledged > 0 && now - t.lastCredit < STALL_NANOS) {
        sum += t.unacknowledged;
      }
    }
    return sum;
  }

  static final long STALL_NANOS = 2_000_000_000L;

  /** How much un-credited DATA the link may carry now. */
  private long unacknowledgedCap() {
    if (rate == 0) {
      return 4L * MIN_UNACKNOWLEDGED; // no estimate yet: a modest start, widened within 100 ms
    }
    return Math.max(MIN_UNACKNOWLEDGED, (long) (rate * LINK_DELAY_SECONDS));
  }

  /** The size of the next DATA frame: smaller on a slow link, so text waits behind less. */
  private int chunk() {
    if (rate == 0) {
      return TunnelFrame.MAX_DATA;
    }
    return (int) Math.clamp((long) (rate * 0.05), 1024L, TunnelFrame.MAX_DATA);
  }

  // With the lock held.
  private void ended(TunnelStream s, TunnelStream.Ended how, List<Runnable> after) {
    s.unacknowledged = 0;
    if (s.end(how)) {
      streams.remove(s.id(), s);
      creditDue.remove(s);
      ready.remove(s);
      s.queued = false;
      after.add(s::completeEnded);
    }
  }

  // With the lock held: FIN both ways and nothing left to send ends the stream cleanly.
  private void finishIfDone(TunnelStream s, List<Runnable> after) {
    if (s.inFin && s.finSent && s.end == null) {
      ended(s, new TunnelStream.Ended(null, "closed", false), after);
    }
  }

  void reset(TunnelStream s, ErrorCode code, String message, boolean send) {
    List<Runnable> after = new ArrayList<>();
    lock.lock();
    try {
      if (s.end != null) {
        return;
      }
      if (send && !closed) {
        urgent.add(reset(s.id(), code, message));
      }
      ended(s, new TunnelStream.Ended(code, message, false), after);
    } finally {
      lock.unlock();
    }
    after.forEach(Runnable::run);
    pump();
  }

  void control(TunnelStream s, JsonNode message) throws TunnelException {
    byte[] payload = JsonCodec.writeBytes(message);
    if (payload.length > TunnelFrame.MAX_JSON) {
      throw new TunnelException(
          ErrorCode.VALIDATION_FAILED,
          "a CONTROL message has at most " + TunnelFrame.MAX_JSON + " bytes");
    }
    lock.lock();
    try {
      if (s.end != null) {
        throw s.failure();
      }
      s.lastActivity = clock.millis();
      urgent.add(TunnelFrame.encode(TunnelFrame.CONTROL, s.id(), payload));
    } finally {
      lock.unlock();
    }
    pump();
  }

  int read(TunnelStream s, byte[] b, int off, int len, Condition readable) throws TunnelException {
    int n = 0;
    lock.lock();
    try {
      while (s.end == null && s.inBuffered == 0 && !s.inFin && !s.inputClosed) {
        readable.awaitUninterruptibly();
      }
      if (s.end != null && !s.end.clean()) {
        throw s.failure();
      }
      if (s.inBuffered == 0) {
        return -1; // FIN, or the input was closed here
      }
      while (n < len && !s.in.isEmpty()) {
        byte[] head = s.in.peekFirst();
        int take = Math.min(len - n, head.length - s.inHead);
        System.arraycopy(head, s.inHead, b, off + n, take);
        n += take;
        s.inHead += take;
        if (s.inHead == head.length) {
          s.in.pollFirst();
          s.inHead = 0;
        }
      }
      s.inBuffered -= n;
      s.consumed += n;
      if (s.consumed >= s.receiveWindow() / 4 || s.inBuffered == 0) {
        int c = s.consumed;
        s.consumed = 0;
        credit(s, c);
      }
    } finally {
      lock.unlock();
    }
    pump();
    return n;
  }

  // With the lock held.
  private void credit(TunnelStream s, int c) {
    if (c <= 0) {
      return;
    }
    s.inUncredited -= c;
    s.pendingCredit += c;
    creditDue.add(s);
  }

  void closeInput(TunnelStream s) {
    lock.lock();
    try {
      if (s.end != null || s.inputClosed) {
        return;
      }
      s.inputClosed = true;
      int c = s.consumed + s.inBuffered;
      s.in.clear();
      s.inBuffered = 0;
      s.inHead = 0;
      s.consumed = 0;
      credit(s, c);
      s.signalReadable();
    } finally {
      lock.unlock();
    }
    pump();
  }

  int write(TunnelStream s, byte[] b, int off, int len, Condition writable) throws TunnelException {
    int n;
    List<Runnable> after = new ArrayList<>();
    lock.lock();
    try {
      while (s.end == null && !s.finRequested && s.sendCredit == 0) {
        writable.awaitUninterruptibly();
      }
      if (s.end != null) {
        throw s.failure();
      }
      if (s.finRequested) {
        throw new TunnelException(ErrorCode.CONFLICT, "the stream's output is closed");
      }
      n = Math.min(len, Math.min(s.sendCredit, TunnelFrame.MAX_DATA));
      if (s.bytesIn + s.bytesOut + n > s.budget()) {
        budgetUsed(s, after);
        TunnelException e = s.failure();
        lock.unlock();
        try {
          after.forEach(Runnable::run);
          pump();
        } finally {
          lock.lock();
        }
        throw e;
      }
      s.out.add(java.util.Arrays.copyOfRange(b, off, off + n));
      s.outBuffered += n;
      s.sendCredit -= n;
      s.bytesOut += n;
      s.lastActivity = clock.millis();
      if (!s.queued) {
        s.queued = true;
        ready.add(s);
      }
    } finally {
      lock.unlock();
    }
    pump();
    return n;
  }

  void fin(TunnelStream s) {
    lock.lock();
    try {
      if (s.end != null || s.finRequested) {
        return;
      }
      s.finRequested = true;
      s.signalWritable();
      if (!s.queued) {
        s.queued = true;
        ready.add(s);
      }
    } finally {
      lock.unlock();
    }
    pump();
  }

  /** Hands the sink the next frame if none is in flight. */
  private void pump() {
    while (true) {
      byte[] frame;
      List<Runnable> after = new ArrayList<>();
      lock.lock();
      try {
        if (inFlight || closed) {
          return;
        }
        frame = next(after);
        if (frame == null) {
          return;
        }
        inFlight = true;
        framesSent++;
      } finally {
        lock.unlock();
      }
      after.forEach(Runnable::run);
      CompletableFuture<?> sent;
      try {
        sent = sink.send(frame).toCompletableFuture();
      } catch (RuntimeException e) {
        sent = CompletableFuture.failedFuture(e);
      }
      if (!sent.isDone()) {
        sent.whenComplete((x, e) -> sentOne(e));
        return;
      }
      if (sent.isCompletedExceptionally()) {
        sentOne(new IllegalStateException("send failed"));
        return;
      }
      lock.lock();
      try {
        inFlight = false;
      } finally {
        lock.unlock();
      }
    }
  }

  private void sentOne(Throwable failure) {
    lock.lock();
    try {
      inFlight = false;
    } finally {
      lock.unlock();
    }
    if (failure == null) {
      pump();
    }
    // A failed send means the socket is going; its end resets the streams (linkLost).
  }

  // With the lock held: small frames first, then credit, then DATA round-robin.
  private byte[] next(List<Runnable> after) {
    byte[] u = urgent.poll();
    if (u != null) {
      return u;
    }
    Iterator<TunnelStream> due = creditDue.iterator();
    while (due.hasNext()) {
      TunnelStream s = due.next();
      due.remove();
      if (s.end == null && s.pendingCredit > 0) {
        int c = s.pendingCredit;
        s.pendingCredit = 0;
        return TunnelFrame.credit(s.id(), c);
      }
    }
    int turns = ready.size();
    while (!ready.isEmpty() && turns-- > 0) {
      TunnelStream s = ready.poll();
      s.queued = false;
      if (s.end != null) {
        continue;
      }
      if (s.outBuffered > 0) {
        long now = System.nanoTime();
        if (unacknowledged(now) >= unacknowledgedCap()) {
          // Paced: the next credit from the peer goes on (received() pumps), or a look shortly
          // after if credits stall.
          s.queued = true;
          ready.addFirst(s);
          if (!repumpScheduled) {
            repumpScheduled = true;
            CompletableFuture.delayedExecutor(100, java.util.concurrent.TimeUnit.MILLISECONDS)
                .execute(
                    () -> {
                      lock.lock();
                      try {
                        repumpScheduled = false;
                      } finally {
                        lock.unlock();
                      }
                      pump();
                    });
          }
          return null;
        }
        byte[] chunk = s.out.poll();
        int max = chunk();
        if (chunk.length > max) {
          s.out.addFirst(java.util.Arrays.copyOfRange(chunk, max, chunk.length));
          chunk = java.util.Arrays.copyOf(chunk, max);
        }
        s.outBuffered -= chunk.length;
        if (s.unacknowledged == 0) {
          s.lastCredit = now;
        }
        s.unacknowledged += chunk.length;
        s.signalWritable();
        if (s.outBuffered > 0 || s.finRequested) {
          s.queued = true;
          ready.add(s);
        }
        return TunnelFrame.encode(TunnelFrame.DATA, s.id(), chunk);
      }
      if (s.finRequested && !s.finSent) {
        s.finSent = true;
        finishIfDone(s, after);
        return TunnelFrame.encode(TunnelFrame.FIN, s.id(), EMPTY);
      }
    }
    return null;
  }
}
