package io.edgefleet.agent;

import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.net.http.WebSocket;
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
 * One WebSocket to the controller and its timers: the hello, the welcome deadline, heartbeats at
 * the cadence the welcome sets, and dead-link detection. It never waits on the network: sends are
 * queued on the socket, timers run on the scheduler without the agent's lock.
 *
 * <p>Liveness costs bytes on a metered link, so a heartbeat goes only when the link was quiet: a
 * tick at which the agent has both sent another message and heard from the controller since the
 * previous tick sends nothing. A heartbeat that gets no answer (anything from the controller)
 * within {@link #answerTimeout} means the link is down, and so does silence for three intervals
 * (the backstop when heartbeats cannot even be sent). See decision 0014.
 *
 * <p>The handler's {@code welcomed} and {@code closed} are called at most once each, in that order;
 * {@code received} is called on the socket's thread for every other message and must not block.
 */
final class ControllerLink implements WebSocket.Listener {

  /** What the agent does with the link's events. */
  interface Handler {
    void welcomed(ControllerLink link, ControllerMessage.Welcome welcome);

    void received(ControllerLink link, ControllerMessage message);

    void closed(ControllerLink link, int code, String reason);
  }

  /** How long an open socket may wait for the controller's welcome. */
  static final Duration WELCOME_TIMEOUT = Duration.ofSeconds(30);

  private final Handler handler;
  private final ScheduledExecutorService timer;
  private final Clock clock;
  private final RandomGenerator random;
  private final AgentMessage.Hello hello;
  private final StringBuilder partial = new StringBuilder();
  private volatile WebSocket ws;
  private volatile Instant lastInbound;
  private volatile Instant lastOutbound;
  private Instant previousTick;
  private volatile Duration interval;
  private volatile boolean welcomed;
  private volatile boolean closed;
  private ScheduledFuture<?> heartbeats;
  private ScheduledFuture<?> welcomeDeadline;
  private ScheduledFuture<?> answerDeadline;
  private CompletableFuture<WebSocket> sending = CompletableFuture.completedFuture(null);
  private long seq;

  ControllerLink(
      Handler handler,
      ScheduledExecutorService timer,
      Clock clock,
      RandomGenerator random,
      AgentMessage.Hello hello) {
    this.handler = handler;
    this.timer = timer;
    this.clock = clock;
    this.random = random;
    this.hello = hello;
    this.lastInbound = clock.instant();
    this.lastOutbound = Instant.MIN;
  }

  /**
   * How long a heartbeat may wait for an answer: the interval, at least 5 s (a loaded machine) and
   * at most 20 s (a few round trips and loss recovery even on a satellite link).
   */
  static Duration answerTimeout(Duration interval) {
    return Duration.ofMillis(Math.clamp(interval.toMillis(), 5_000, 20_000));
  }

  @Override
  public void onOpen(WebSocket webSocket) {
    ws = webSocket;
    lastInbound = clock.instant();
    send(hello);
    webSocket.request(1);
    // Heartbeats start with the welcome: a socket that never gets one must not stay forever.
    welcomeDeadline =
        timer.schedule(
            () -> {
              if (!welcomed) {
                end(
                    1006,
                    "no welcome from the controller within " + WELCOME_TIMEOUT.toSeconds() + "s");
              }
            },
            WELCOME_TIMEOUT.toMillis(),
            TimeUnit.MILLISECONDS);
  }

  @Override
  public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
    lastInbound = clock.instant();
    partial.append(data);
    if (last) {
      String text = partial.toString();
      partial.setLength(0);
      handle(text);
    }
    webSocket.request(1);
    return null;
  }

  @Override
  public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
    closedBy(statusCode, reason == null ? "" : reason);
    return null;
  }

  @Override
  public void onError(WebSocket webSocket, Throwable error) {
    closedBy(1006, LinkProblem.of(error, "the controller").message());
  }

  private void handle(String text) {
    ControllerMessage msg;
    try {
      msg = Json.mapper().readValue(text, ControllerMessage.class);
    } catch (IOException e) {
      return; // A newer controller may send messages this agent does not know.
    }
    if (closed) {
      return;
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

  /** Starts heartbeats every {@code interval}, the first one jittered into its interval. */
  void heartbeatEvery(Duration interval) {
    if (heartbeats != null) {
      heartbeats.cancel(false);
    }
    long ms = Math.max(1000, interval.toMillis());
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
    if (silent.compareTo(interval.multipliedBy(3)) > 0) {
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
   * Makes sure the socket still carries: another part of the agent saw the link fail (a download
   * stalled, a connection timed out). A socket whose data sat unacknowledged through an outage
   * waits for the kernel's backed-off retransmission, which can take a minute after the link
   * returns; a heartbeat now, unanswered within the answer deadline, replaces such a socket with a
   * fresh one instead. Does nothing before the welcome or while a heartbeat awaits its answer.
   */
  void verify() {
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

  /** Sends a heartbeat whose answer must come within {@link #answerTimeout}. */
  private void ask(Duration interval) {
    Instant sent = clock.instant();
    CompletableFuture<WebSocket> queued = queue(new AgentMessage.Heartbeat(++seq));
    if (queued == null) {
      return;
    }
    // The answer's clock starts when the heartbeat left the queue, not behind a long message.
    Duration answer = answerTimeout(interval);
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
  boolean send(AgentMessage msg) {
    if (queue(msg) == null) {
      return false;
    }
    if (!(msg instanceof AgentMessage.Heartbeat) && !(msg instanceof AgentMessage.Hello)) {
      lastOutbound = clock.instant();
    }
    return true;
  }

  /** Queues a binary message (a compact telemetry batch) behind the others. False if gone. */
  synchronized boolean sendBinary(byte[] message) {
    WebSocket w = ws;
    if (w == null || closed) {
      return false;
    }
    sending =
        sending
            .handle((x, e) -> null)
            .thenCompose(x -> w.sendBinary(ByteBuffer.wrap(message), true));
    lastOutbound = clock.instant();
    return true;
  }

  /** Queues a text message; the future completes when it left the queue. Null if gone. */
  private synchronized CompletableFuture<WebSocket> queue(AgentMessage msg) {
    WebSocket w = ws;
    if (w == null || closed) {
      return null;
    }
    String text = Json.write(msg);
    sending = sending.handle((x, e) -> null).thenCompose(x -> w.sendText(text, true));
    return sending;
  }

  boolean isOpen() {
    return !closed && ws != null;
  }

  /** Closes the socket politely (agent stopping); the handler is not called. */
  void close() {
    closed = true;
    stopTimers();
    WebSocket w = ws;
    if (w != null) {
      w.sendClose(WebSocket.NORMAL_CLOSURE, "agent stopping")
          .orTimeout(2, TimeUnit.SECONDS)
          .whenComplete((x, e) -> w.abort());
    }
  }

  /** Gives the link up from this side (dead link, no welcome) and tells the handler. */
  private void end(int code, String reason) {
    WebSocket w = ws;
    if (w != null) {
      w.abort();
    }
    closedBy(code, reason);
  }

  private void closedBy(int code, String reason) {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    stopTimers();
    handler.closed(this, code, reason);
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
