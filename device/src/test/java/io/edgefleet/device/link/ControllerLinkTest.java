package io.edgefleet.device.link;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.device.Timeouts;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.Json;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
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
    h.link.received(Json.write(new ControllerMessage.TelemetryAck(7)));
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
    h.link.received(Json.write(new ControllerMessage.Ack()));
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
    answered.link.received(Json.write(new ControllerMessage.Ack()));

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
    assertThat(Timeouts.answerTimeout(Duration.ofSeconds(1))).hasSeconds(5);
    assertThat(Timeouts.answerTimeout(Duration.ofSeconds(12))).hasSeconds(12);
    assertThat(Timeouts.answerTimeout(Duration.ofMinutes(2))).hasSeconds(20);
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
    FakeTransport socket = new FakeTransport();
    link.opened(socket);
    link.received(Json.write(new ControllerMessage.Welcome("dev-1", 1, 0))); // welcomed
    return new Harness(link, socket, closedWith);
  }

  record Harness(ControllerLink link, FakeTransport socket, AtomicReference<String> closedWith) {}

  /** The transport's side: records what the link sends. */
  static final class FakeTransport implements ControllerLink.Transport {
    final List<String> sent = new CopyOnWriteArrayList<>();
    volatile boolean aborted;

    long heartbeats() {
      return sent.stream().filter(s -> s.contains("\"t\":\"hb\"")).count();
    }

    @Override
    public CompletionStage<?> sendText(String text) {
      sent.add(text);
      return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletionStage<?> sendBinary(byte[] message) {
      sent.add("binary");
      return CompletableFuture.completedFuture(null);
    }

    @Override
    public void close(int code, String reason) {}

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
