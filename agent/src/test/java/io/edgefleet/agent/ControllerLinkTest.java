package io.edgefleet.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.Json;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Liveness on a metered link: heartbeats only when the link was quiet, and answered in time. */
class ControllerLinkTest {
  static final Duration INTERVAL = Duration.ofSeconds(1);

  final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  final MutableClock clock = new MutableClock();

  @AfterEach
  void stop() {
    timer.shutdownNow();
  }

  @Test
  void aQuietLinkSendsAHeartbeat() {
    Harness h = open();
    h.link.heartbeatEvery(Duration.ofHours(1)); // the test drives the ticks
    clock.advance(INTERVAL);
    h.link.beat(INTERVAL);
    assertThat(h.socket.heartbeats()).isEqualTo(1);
  }

  @Test
  void noHeartbeatWhenBothDirectionsCarriedMessagesSinceTheLastTick() {
    Harness h = open();
    h.link.heartbeatEvery(Duration.ofHours(1));
    clock.advance(Duration.ofMillis(300));
    h.link.send(new AgentMessage.Event("k", "m", clock.instant()));
    h.link.onText(h.socket, Json.write(new ControllerMessage.TelemetryAck(7)), true);
    clock.advance(INTERVAL);
    h.link.beat(INTERVAL);
    assertThat(h.socket.heartbeats()).isZero();

    // Only this side spoke since that tick: the controller may be gone, so ask.
    clock.advance(Duration.ofMillis(300));
    h.link.send(new AgentMessage.Event("k", "m", clock.instant()));
    clock.advance(INTERVAL);
    h.link.beat(INTERVAL);
    assertThat(h.socket.heartbeats()).isEqualTo(1);

    // Only the controller spoke since that tick: it may not hear us, so say something.
    clock.advance(Duration.ofMillis(300));
    h.link.onText(h.socket, Json.write(new ControllerMessage.Ack()), true);
    clock.advance(INTERVAL);
    h.link.beat(INTERVAL);
    assertThat(h.socket.heartbeats()).isEqualTo(2);
  }

  @Test
  void anUnansweredHeartbeatEndsTheLinkWellBeforeThreeIntervalsOfSilence() {
    Duration interval = Duration.ofSeconds(5);
    Harness answered = open();
    Harness unanswered = open();
    answered.link.heartbeatEvery(Duration.ofHours(1));
    unanswered.link.heartbeatEvery(Duration.ofHours(1));
    clock.advance(interval);
    answered.link.beat(interval);
    unanswered.link.beat(interval);
    clock.advance(Duration.ofMillis(700));
    answered.link.onText(answered.socket, Json.write(new ControllerMessage.Ack()), true);

    // The answer deadline is 5 s of real time here, not three intervals (15 s).
    await()
        .atMost(Duration.ofSeconds(12))
        .untilAsserted(() -> assertThat(unanswered.closedWith.get()).isNotNull());
    assertThat(unanswered.closedWith.get())
        .isEqualTo("1006 no answer to a heartbeat within 5s: the link is down");
    assertThat(unanswered.socket.aborted).isTrue();
    // Its deadline came first on the same timer: it passed, and the link stays.
    assertThat(answered.closedWith.get()).isNull();
    assertThat(answered.link.isOpen()).isTrue();
  }

  @Test
  void verifyingAskAtOnceOnceAndReplacesAStuckSocket() {
    Harness h = open();
    h.link.heartbeatEvery(Duration.ofSeconds(5));
    h.link.verify();
    h.link.verify(); // one question at a time
    assertThat(h.socket.heartbeats()).isEqualTo(1);
    await()
        .atMost(Duration.ofSeconds(12))
        .untilAsserted(() -> assertThat(h.closedWith.get()).isNotNull());
    assertThat(h.closedWith.get()).contains("no answer to a heartbeat within 5s");
  }

  @Test
  void theAnswerDeadlineScalesWithTheIntervalWithinBounds() {
    assertThat(ControllerLink.answerTimeout(Duration.ofSeconds(1))).hasSeconds(5);
    assertThat(ControllerLink.answerTimeout(Duration.ofSeconds(12))).hasSeconds(12);
    assertThat(ControllerLink.answerTimeout(Duration.ofMinutes(2))).hasSeconds(20);
  }

  Harness open() {
    AtomicReference<String> closedWith = new AtomicReference<>();
    ControllerLink link =
        new ControllerLink(
            new ControllerLink.Handler() {
              @Override
              public void welcomed(ControllerLink l, ControllerMessage.Welcome w) {}

              @Override
              public void received(ControllerLink l, ControllerMessage m) {}

              @Override
              public void closed(ControllerLink l, int code, String reason) {
                closedWith.set(code + " " + reason);
              }
            },
            timer,
            clock,
            new Random(1),
            new AgentMessage.Hello("test", 1L));
    FakeSocket socket = new FakeSocket();
    link.onOpen(socket);
    link.onText(socket, Json.write(new ControllerMessage.Welcome("dev-1", 1, 0)), true); // welcomed
    return new Harness(link, socket, closedWith);
  }

  record Harness(ControllerLink link, FakeSocket socket, AtomicReference<String> closedWith) {}

  /** The socket's side of the JDK WebSocket: records what the link sends. */
  static final class FakeSocket implements WebSocket {
    final List<String> sent = new CopyOnWriteArrayList<>();
    volatile boolean aborted;

    long heartbeats() {
      return sent.stream().filter(s -> s.contains("\"t\":\"hb\"")).count();
    }

    @Override
    public CompletableFuture<WebSocket> sendText(CharSequence data, boolean last) {
      sent.add(data.toString());
      return CompletableFuture.completedFuture(this);
    }

    @Override
    public CompletableFuture<WebSocket> sendBinary(ByteBuffer data, boolean last) {
      sent.add("binary");
      return CompletableFuture.completedFuture(this);
    }

    @Override
    public CompletableFuture<WebSocket> sendPing(ByteBuffer message) {
      return CompletableFuture.completedFuture(this);
    }

    @Override
    public CompletableFuture<WebSocket> sendPong(ByteBuffer message) {
      return CompletableFuture.completedFuture(this);
    }

    @Override
    public CompletableFuture<WebSocket> sendClose(int statusCode, String reason) {
      return CompletableFuture.completedFuture(this);
    }

    @Override
    public void request(long n) {}

    @Override
    public String getSubprotocol() {
      return "";
    }

    @Override
    public boolean isOutputClosed() {
      return aborted;
    }

    @Override
    public boolean isInputClosed() {
      return aborted;
    }

    @Override
    public void abort() {
      aborted = true;
    }
  }

  static final class MutableClock extends Clock {
    private volatile Instant now = Instant.parse("2026-12-04T10:00:00Z");

    void advance(Duration d) {
      now = now.plus(d);
    }

    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }
}
