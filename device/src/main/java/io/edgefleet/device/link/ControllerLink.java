package io.edgefleet.device.link;

import io.edgefleet.device.Timeouts;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.json.JsonCodec;
import io.edgefleet.protocol.tunnel.TunnelFrame;
import io.edgefleet.protocol.tunnel.TunnelMux;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.random.RandomGenerator;

/**
 * One connection to the controller as the device sees it, over whatever carries its messages (the
 * agent's JDK WebSocket, the simulator's shared NIO sockets): the hello, the welcome deadline,
 * heartbeats at the cadence the welcome sets, dead-link detection and the dispatch of the
 * controller's messages. It never waits on the network: sends are queued on the transport, timers
 * run on the scheduler without the caller's lock.
 *
 * <p>Liveness costs bytes on a metered link, so a heartbeat goes only when the link was quiet: a
 * tick at which the device has both sent another message and heard from the controller since the
 * previous tick sends nothing. A heartbeat that gets no answer (anything from the controller)
 * within {@link Timeouts#answerTimeout} means the link is down, and so does silence for three
 * intervals (the backstop when heartbeats cannot even be sent). See decision 0014.
 *
 * <p>The handler's {@code welcomed} and {@code closed} are called at most once each, in that order;
 * {@code received} is called on the transport's thread for every other message and must not block.
 */
public final class ControllerLink {

  /** What the device does with the link's events. */
  public interface Handler {
    void welcomed(ControllerLink link, ControllerMessage.Welcome welcome);

    void received(ControllerLink link, ControllerMessage message);

    void closed(ControllerLink link, int code, String reason);
  }

  /**
   * What carries the messages. Sends are called one at a time, in order, each after the previous
   * one's stage completed.
   */
  public interface Transport {
    /** Sends a whole text message; completes when it left the queue. */
    CompletionStage<?> sendText(String text);

    /** Sends a whole binary message; completes when it left the queue. */
    CompletionStage<?> sendBinary(byte[] message);

    /** Closes politely with a close frame. */
    void close(int code, String reason);

    /** Drops the connection at once. */
    void abort();
  }

  private final Handler handler;
  private final ScheduledExecutorService timer;
  private final Clock clock;
  private final RandomGenerator random;
  private final AgentMessage.Hello hello;
  private final TunnelMux tunnels; // null when the device offers no tunnels
  private volatile Transport transport;
  private volatile Instant lastInbound;
  private volatile Instant lastOutbound;
  private Instant previousTick;
  private volatile Duration interval;
  private volatile boolean welcomed;
  private volatile boolean closed;
  private ScheduledFuture<?> heartbeats;
  private ScheduledFuture<?> welcomeDeadline;
  private ScheduledFuture<?> answerDeadline;
  private CompletableFuture<?> sending = CompletableFuture.completedFuture(null);
  private long seq;
  // When the heartbeats awaiting their answer were queued, and the round trips measured so far.
  private final java.util.ArrayDeque<Instant> asked = new java.util.ArrayDeque<>();
  private final java.util.ArrayDeque<Duration> roundTrips = new java.util.ArrayDeque<>();
  private static final int KEPT_ROUND_TRIPS = 4096;

  public ControllerLink(
      Handler handler,
      ScheduledExecutorService timer,
      Clock clock,
      RandomGenerator random,
      AgentMessage.Hello hello) {
    this(handler, timer, clock, random, hello, null);
  }

  /**
   * A link that carries tunnel streams too: the controller's OPEN frames go to {@code tunnels}, and
   * every stream ends (DEVICE_DISCONNECTED) when the link does.
   *
   * @param tunnels takes or refuses each stream the controller opens; null for none
   */
  public ControllerLink(
      Handler handler,
      ScheduledExecutorService timer,
      Clock clock,
      RandomGenerator random,
      AgentMessage.Hello hello,
      TunnelMux.Acceptor tunnels) {
    this.tunnels =
        tunnels == null
            ? null
            : TunnelMux.agent(this::sendTunnelFrame, tunnels, clock, TunnelMux.MAX_STREAMS);
    this.handler = handler;
    this.timer = timer;
    this.clock = clock;
    this.random = random;
    this.hello = hello;
    this.lastInbound = clock.instant();
    this.lastOutbound = Instant.MIN;
  }

  /** The transport is open: says hello and waits {@link Timeouts#WELCOME} for the welcome. */
  public void opened(Transport t) {
    transport = t;
    lastInbound = clock.instant();
    send(hello);
    // Heartbeats start with the welcome: a socket that never gets one must not stay forever.
    welcomeDeadline =
        timer.schedule(
            () -> {
              if (!welcomed) {
                end(
                    1006,
                    "no welcome from the controller within " + Timeouts.WELCOME.toSeconds() + "s");
              }
            },
            Timeouts.WELCOME.toMillis(),
            TimeUnit.MILLISECONDS);
  }

  /** Something arrived from the controller (a part of a message counts). */
  public void heard() {
    lastInbound = clock.instant();
  }

  /** A whole text message arrived: the welcome, or one for the handler. */
  public void received(String text) {
    lastInbound = clock.instant();
    ControllerMessage msg;
    try {
      msg = JsonCodec.read(text, ControllerMessage.class);
    } catch (IOException e) {
      return; // A newer controller may send messages this device does not know.
    }
    if (closed) {
      return;
    }
    if (msg instanceof ControllerMessage.Ack) {
      answered();
    }
    if (msg instanceof ControllerMessage.Welcome w) {
      if (!welcomed) {
        welcomed = true;
        if (welcomeDeadline != null) {
          welcomeDeadline.cancel(false);
        }
        handler.welcomed(this, w);
      }
      return;
    }
    handler.received(this, msg);
  }

  /**
   * A whole binary message arrived: a tunnel frame goes to the link's streams; others (none is sent
   * to devices today) are ignored.
   */
  public void receivedBinary(ByteBuffer message) {
    lastInbound = clock.instant();
    TunnelMux t = tunnels;
    if (t != null && !closed && TunnelFrame.isTunnelFrame(message)) {
      t.received(message);
    }
  }

  /** The link's tunnel streams; null if the device offers none. */
  public TunnelMux tunnels() {
    return tunnels;
  }

  /**
   * Queues one tunnel frame behind the messages already queued. The mux hands over the next frame
   * only once this one left, so a message queued meanwhile waits behind at most one frame. Tunnel
   * frames do not count as traffic that makes a heartbeat unnecessary: liveness stays measured by
   * heartbeats while a stream flows.
   */
  private synchronized CompletableFuture<?> sendTunnelFrame(byte[] frame) {
    Transport t = transport;
    if (t == null || closed) {
      return CompletableFuture.failedFuture(new IOException("the link is closed"));
    }
    sending = sending.handle((x, e) -> null).thenCompose(x -> t.sendBinary(frame));
    return sending;
  }

  /** Starts heartbeats every {@code interval}, the first one jittered into its interval. */
  public void heartbeatEvery(Duration interval) {
    if (heartbeats != null) {
      heartbeats.cancel(false);
    }
    long ms = Math.max(Timeouts.MIN_HEARTBEAT.toMillis(), interval.toMillis());
    this.interval = Duration.ofMillis(ms);
    previousTick = clock.instant();
    // Spread the first beat so devices that connected together do not beat together.
    long first = ms / 2 + random.nextLong(ms / 2 + 1);
    heartbeats =
        timer.scheduleAtFixedRate(
            () -> beat(Duration.ofMillis(ms)), first, ms, TimeUnit.MILLISECONDS);
  }

  // Package-private for tests, which drive the ticks themselves.
  void beat(Duration interval) {
    if (closed) {
      return;
    }
    Instant now = clock.instant();
    Duration silent = Duration.between(lastInbound, now);
    if (silent.compareTo(interval.multipliedBy(Timeouts.SILENT_INTERVALS)) > 0) {
      end(
          1006,
          "no answer from the controller for "
              + silent.toSeconds()
              + "s (three heartbeat intervals): the link is down");
      return;
    }
    Instant since = previousTick;
    previousTick = now;
    if (lastInbound.isAfter(since) && lastOutbound.isAfter(since)) {
      return; // Both directions carried messages since the last tick: that is liveness enough.
    }
    ask(interval);
  }

  /**
   * Makes sure the socket still carries: another part of the device saw the link fail (a download
   * stalled, a connection timed out). A socket whose data sat unacknowledged through an outage
   * waits for the kernel's backed-off retransmission, which can take a minute after the link
   * returns; a heartbeat now, unanswered within the answer deadline, replaces such a socket with a
   * fresh one instead. Does nothing before the welcome or while a heartbeat awaits its answer.
   */
  public void verify() {
    Duration i = interval;
    if (closed || !welcomed || i == null) {
      return;
    }
    synchronized (this) {
      if (answerDeadline != null && !answerDeadline.isDone()) {
        return;
      }
    }
    ask(i);
  }

  /** A heartbeat's answer (the controller answers each one in order) came. */
  private synchronized void answered() {
    Instant at = asked.poll();
    if (at != null) {
      if (roundTrips.size() == KEPT_ROUND_TRIPS) {
        roundTrips.poll();
      }
      roundTrips.add(Duration.between(at, clock.instant()));
    }
  }

  /**
   * The round trips of the recent heartbeats (at most 4096): from queueing the heartbeat to its
   * answer, so they include any wait behind other messages and tunnel frames.
   */
  public synchronized java.util.List<Duration> heartbeatRoundTrips() {
    return java.util.List.copyOf(roundTrips);
  }

  /** Sends a heartbeat whose answer must come within {@link Timeouts#answerTimeout}. */
  private void ask(Duration interval) {
    Instant sent = clock.instant();
    synchronized (this) {
      if (asked.size() < 64) {
        asked.add(sent);
      }
    }
    CompletableFuture<?> queued = queue(new AgentMessage.Heartbeat(++seq));
    if (queued == null) {
      return;
    }
    // The answer's clock starts when the heartbeat left the queue, not behind a long message.
    Duration answer = Timeouts.answerTimeout(interval);
    queued.thenRun(
        () -> {
          Instant left = clock.instant();
          synchronized (this) {
            // An earlier heartbeat still awaiting its answer keeps its deadline: moving it on
            // with every tick would let a dead link live as long as ticks come.
            if (closed || (answerDeadline != null && !answerDeadline.isDone())) {
              return;
            }
            answerDeadline =
                timer.schedule(
                    () -> unanswered(left.isAfter(sent) ? left : sent, answer),
                    answer.toMillis(),
                    TimeUnit.MILLISECONDS);
          }
        });
  }

  private void unanswered(Instant sentAt, Duration answer) {
    if (!closed && !lastInbound.isAfter(sentAt)) {
      end(1006, "no answer to a heartbeat within " + answer.toSeconds() + "s: the link is down");
    }
  }

  /** Queues a message; messages leave in order. False if the link is gone. */
  public boolean send(AgentMessage msg) {
    if (queue(msg) == null) {
      return false;
    }
    if (!(msg instanceof AgentMessage.Heartbeat) && !(msg instanceof AgentMessage.Hello)) {
      lastOutbound = clock.instant();
    }
    return true;
  }

  /** Queues a binary message (a compact telemetry batch) behind the others. False if gone. */
  public synchronized boolean sendBinary(byte[] message) {
    Transport t = transport;
    if (t == null || closed) {
      return false;
    }
    sending = sending.handle((x, e) -> null).thenCompose(x -> t.sendBinary(message));
    lastOutbound = clock.instant();
    return true;
  }

  /** Queues a text message; the future completes when it left the queue. Null if gone. */
  private synchronized CompletableFuture<?> queue(AgentMessage msg) {
    Transport t = transport;
    if (t == null || closed) {
      return null;
    }
    String text = JsonCodec.write(msg);
    sending = sending.handle((x, e) -> null).thenCompose(x -> t.sendText(text));
    return sending;
  }

  public boolean isOpen() {
    return !closed && transport != null;
  }

  /** Closes the connection politely (the device stopping); the handler is not called. */
  public void close(int code, String reason) {
    closed = true;
    stopTimers();
    endTunnels("the device closed its connection" + (reason.isEmpty() ? "" : ": " + reason));
    Transport t = transport;
    if (t != null) {
      t.close(code, reason);
    }
  }

  /** Gives the link up from this side (dead link, no welcome) and tells the handler. */
  private void end(int code, String reason) {
    Transport t = transport;
    if (t != null) {
      t.abort();
    }
    closedBy(code, reason);
  }

  /** The transport closed or failed; the handler is told once. */
  public void closedBy(int code, String reason) {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    stopTimers();
    endTunnels(reason);
    handler.closed(this, code, reason);
  }

  private void endTunnels(String reason) {
    if (tunnels != null) {
      tunnels.linkLost(
          ErrorCode.DEVICE_DISCONNECTED, "link lost" + (reason.isEmpty() ? "" : ": " + reason));
    }
  }

  private void stopTimers() {
    if (heartbeats != null) {
      heartbeats.cancel(false);
    }
    if (welcomeDeadline != null) {
      welcomeDeadline.cancel(false);
    }
    synchronized (this) {
      if (answerDeadline != null) {
        answerDeadline.cancel(false);
      }
    }
  }
}
