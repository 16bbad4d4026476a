package io.edgefleet.agent.telemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.AgentFeature;
import io.edgefleet.agent.outbox.Outbox;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.Telemetry;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TelemetryFeatureTest {
  static final Instant T0 = Instant.parse("2026-11-21T10:00:00Z");

  /** A clock that moves only when told. */
  static final class StepClock extends Clock {
    final AtomicLong millis = new AtomicLong(T0.toEpochMilli());

    void advance(Duration d) {
      millis.addAndGet(d.toMillis());
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(millis.get());
    }
  }

  /** The agent's connection as the feature sees it. */
  static final class Wire implements AgentFeature.Channel {
    final List<AgentMessage.TelemetryBatch> sent = new CopyOnWriteArrayList<>();

    @Override
    public boolean send(AgentMessage message) {
      sent.add((AgentMessage.TelemetryBatch) message);
      return true;
    }

    AgentMessage.TelemetryBatch last() {
      return sent.getLast();
    }

    long lastSeq() {
      return last().records().stream().mapToLong(Telemetry::seq).max().orElseThrow();
    }
  }

  @TempDir Path dir;
  ScheduledExecutorService scheduler;
  StepClock clock = new StepClock();
  AtomicLong nanos = new AtomicLong(1);
  double cpu = 10;
  List<AppState> apps = new ArrayList<>();
  TelemetryFeature feature;

  @BeforeEach
  void setUp() {
    scheduler = Executors.newSingleThreadScheduledExecutor();
  }

  @AfterEach
  void tearDown() {
    if (feature != null) {
      feature.close();
    }
    scheduler.shutdownNow();
  }

  TelemetryFeature start(TelemetryFeature.Options options) {
    Outbox outbox = Outbox.open(dir, Outbox.Options.defaults(), clock);
    feature =
        new TelemetryFeature(
            outbox,
            () -> Map.of("cpu.used.percent", cpu += 1),
            () -> apps,
            scheduler,
            clock,
            options.withSampleEvery(Duration.ZERO),
            nanos::get);
    return feature;
  }

  void ticks(int n, Duration every) {
    for (int i = 0; i < n; i++) {
      clock.advance(every);
      feature.tick();
    }
  }

  static ControllerMessage.Welcome welcome(int telemetrySeconds) {
    return new ControllerMessage.Welcome("dev-1", 30, 0, telemetrySeconds);
  }

  @Test
  void samplesAreSummarisedPerWindowWithAppReadiness() {
    start(TelemetryFeature.Options.defaults().withDefaultWindow(Duration.ofSeconds(60)));
    apps.add(new AppState("web", "r1", AppState.Phase.READY, null));
    apps.add(new AppState("db", "r1", AppState.Phase.FAILED, "crash"));
    ticks(11, Duration.ofSeconds(5));
    assertThat(feature.stats().summaries()).isZero();
    ticks(1, Duration.ofSeconds(5));

    List<Telemetry> pending = feature.outbox().pending();
    assertThat(pending).hasSize(1);
    Telemetry.Metrics m = (Telemetry.Metrics) pending.getFirst();
    assertThat(m.from()).isEqualTo(T0);
    assertThat(m.at()).isEqualTo(T0.plusSeconds(60));
    Telemetry.Stat c = m.metrics().get("cpu.used.percent");
    assertThat(c.count()).isEqualTo(12);
    assertThat(c.min()).isEqualTo(11);
    assertThat(c.max()).isEqualTo(22);
    assertThat(c.last()).isEqualTo(22);
    assertThat(c.mean()).isEqualTo(16.5);
    assertThat(m.metrics().get("app.web.ready").last()).isEqualTo(1.0);
    assertThat(m.metrics().get("app.db.ready").max()).isEqualTo(0.0);
  }

  @Test
  void theControllerSetsTheWindow() {
    start(TelemetryFeature.Options.defaults());
    Wire wire = new Wire();
    feature.connected(wire, welcome(10));
    ticks(2, Duration.ofSeconds(5));
    await().until(() -> wire.sent.size() == 1);
    Telemetry.Metrics m = (Telemetry.Metrics) wire.last().records().getFirst();
    assertThat(Duration.between(m.from(), m.at())).isEqualTo(Duration.ofSeconds(10));
  }

  @Test
  void whatAccumulatesOfflineDrainsAfterConnectEventsFirstOneBatchPerAck() {
    start(
        TelemetryFeature.Options.defaults()
            .withDefaultWindow(Duration.ofSeconds(60))
            .withBatch(5, 48 * 1024));
    ticks(12 * 10, Duration.ofSeconds(5)); // ten windows while offline
    for (int i = 0; i < 3; i++) {
      assertThat(feature.event("app-failed", "error", "web", "boom " + i, clock.instant()))
          .isTrue();
    }
    assertThat(feature.outbox().stats().pending()).isEqualTo(13);

    Wire wire = new Wire();
    feature.connected(wire, welcome(60));
    await().until(() -> wire.sent.size() == 1);
    List<Telemetry> first = wire.last().records();
    assertThat(first).hasSize(5);
    assertThat(first.subList(0, 3)).allMatch(t -> t instanceof Telemetry.DeviceEvent);
    assertThat(first.subList(3, 5)).allMatch(t -> t instanceof Telemetry.Metrics);

    List<Telemetry> received = new ArrayList<>(first);
    while (received.size() < 13) {
      int before = wire.sent.size();
      feature.drain();
      assertThat(wire.sent).as("nothing more before the ack").hasSize(before);
      feature.handle(new ControllerMessage.TelemetryAck(wire.lastSeq()));
      await()
          .until(() -> wire.sent.size() == before + 1 || feature.outbox().stats().pending() == 0);
      if (wire.sent.size() == before + 1) {
        received.addAll(wire.last().records());
      }
    }
    feature.handle(new ControllerMessage.TelemetryAck(wire.lastSeq()));
    assertThat(feature.outbox().stats().pending()).isZero();
    List<Long> metricSeqs =
        received.stream().filter(t -> t instanceof Telemetry.Metrics).map(Telemetry::seq).toList();
    assertThat(metricSeqs).hasSize(10).isSorted().doesNotHaveDuplicates();
  }

  @Test
  void theByteBudgetHoldsBackTheNextBatchUntilTimeHasPaid() {
    // A budget of 1 KiB/s and batches of one ~200-byte record: after the burst is spent,
    // a batch goes only once enough time passed.
    start(TelemetryFeature.Options.defaults().withBatch(1, 48 * 1024).withBytesPerSecond(1024));
    for (int i = 0; i < 400; i++) {
      feature.event("e", "info", null, "x".repeat(150), clock.instant());
    }
    Wire wire = new Wire();
    feature.connected(wire, welcome(60));
    // Spend the burst (48 KiB) acking as fast as possible with time standing still.
    int guard = 0;
    while (guard++ < 1000) {
      int before = wire.sent.size();
      feature.handle(new ControllerMessage.TelemetryAck(wire.lastSeq()));
      feature.drain();
      if (wire.sent.size() == before) {
        break;
      }
    }
    int held = wire.sent.size();
    long bytes = feature.stats().bytesSent();
    assertThat(bytes).isBetween(48L * 1024, 48L * 1024 + 400);
    assertThat(held).isLessThan(400);
    feature.drain();
    assertThat(wire.sent).hasSize(held);

    nanos.addAndGet(Duration.ofSeconds(1).toNanos());
    feature.drain();
    assertThat(wire.sent.size()).isEqualTo(held + 1);
  }

  @Test
  void aBatchThatIsNeverAcknowledgedIsSentAgain() {
    start(
        new TelemetryFeature.Options(
            Duration.ZERO,
            Duration.ofSeconds(60),
            200,
            48 * 1024,
            1 << 20,
            Duration.ofMillis(200),
            300));
    feature.event("e", "info", null, "lost ack", clock.instant());
    Wire wire = new Wire();
    feature.connected(wire, welcome(60));
    await().atMost(Duration.ofSeconds(10)).until(() -> wire.sent.size() >= 2);
    assertThat(wire.sent.get(1)).isEqualTo(wire.sent.get(0));
    assertThat(feature.stats().resends()).isPositive();
  }

  @Test
  void aDisconnectPutsTheBatchInFlightBackAndAReconnectSendsItAgain() {
    start(TelemetryFeature.Options.defaults());
    feature.event("e", "info", null, "one", clock.instant());
    Wire first = new Wire();
    feature.connected(first, welcome(60));
    await().until(() -> first.sent.size() == 1);
    feature.disconnected();
    feature.event("e", "info", null, "two", clock.instant());
    Wire second = new Wire();
    feature.connected(second, welcome(60));
    await().until(() -> second.sent.size() == 1);
    assertThat(second.last().records())
        .extracting(t -> ((Telemetry.DeviceEvent) t).message())
        .containsExactly("one", "two");
  }

  @Test
  void otherControllerMessagesAreNotTaken() {
    start(TelemetryFeature.Options.defaults());
    assertThat(feature.handle(new ControllerMessage.Ack())).isFalse();
    assertThat(feature.handle(new ControllerMessage.TelemetryAck(1))).isTrue();
  }
}
