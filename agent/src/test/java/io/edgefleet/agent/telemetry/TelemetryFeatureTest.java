package io.edgefleet.agent.telemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.AgentFeature;
import io.edgefleet.agent.outbox.Outbox;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.CompactTelemetry;
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
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
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
            options
                .withSampleEvery(Duration.ZERO)
                .withCheckpointDir(
                    options.checkpointDir() != null
                        ? options.checkpointDir()
                        : dir.resolve("memory")),
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

  TelemetryFeature restart(TelemetryFeature.Options options) {
    return start(options);
  }

  static List<Telemetry.Metrics> summaries(Outbox outbox) {
    return outbox.pending().stream()
        .filter(t -> t instanceof Telemetry.Metrics)
        .map(t -> (Telemetry.Metrics) t)
        .toList();
  }

  @Test
  void aGracefulStopKeepsThePartialWindowAndARestartLeavesNoGapBeyondTheDowntime() {
    TelemetryFeature.Options options =
        TelemetryFeature.Options.defaults().withDefaultWindow(Duration.ofSeconds(60));
    start(options);
    ticks(12, Duration.ofSeconds(5)); // one whole window: [T0, T0+60s]
    ticks(7, Duration.ofSeconds(5)); // seven samples of the next one
    clock.advance(Duration.ofSeconds(3));
    Instant stoppedAt = clock.instant(); // T0+98s
    feature.close();
    feature = null;

    clock.advance(Duration.ofSeconds(40)); // down for 40 s
    Instant restartedAt = clock.instant(); // T0+138s
    restart(options);
    List<Telemetry.Metrics> kept = summaries(feature.outbox());
    assertThat(kept).hasSize(2);
    Telemetry.Metrics partial = kept.get(1);
    assertThat(partial.partial()).isTrue();
    assertThat(partial.from()).isEqualTo(T0.plusSeconds(60));
    assertThat(partial.at()).isEqualTo(stoppedAt);
    assertThat(partial.metrics().get("cpu.used.percent").count()).isEqualTo(7);
    assertThat(kept.getFirst().partial()).isFalse();

    // Sampling resumes at once (a sample at the restart, then on the 5 s grid from T0, as start()
    // schedules them); the first window after the restart starts at the restart and ends on the
    // grid of the windows before the stop (T0 + n x 60 s), here at T0+180s: the boundary at
    // T0+120s was passed while down, and ending at the next one would leave a window of 2 s.
    feature.tick();
    clock.advance(Duration.ofSeconds(2));
    feature.tick();
    while (summaries(feature.outbox()).size() < 3) {
      clock.advance(Duration.ofSeconds(5));
      feature.tick();
    }
    Telemetry.Metrics next = summaries(feature.outbox()).get(2);
    assertThat(next.partial()).isFalse();
    assertThat(next.from()).isEqualTo(restartedAt);
    assertThat(Duration.between(partial.at(), next.from())).isEqualTo(Duration.ofSeconds(40));
    assertThat(next.at()).isEqualTo(T0.plusSeconds(180));
  }

  @Test
  void afterACrashTheOpenWindowIsKeptUpToItsLastSave() {
    TelemetryFeature.Options options = TelemetryFeature.Options.defaults().withCheckpointEvery(12);
    start(options);
    ticks(30, Duration.ofSeconds(5)); // 2.5 min into a 5 min window; saved at 60 s and 120 s
    // A crash: nothing is closed, nothing flushed; the process's files are simply let go.
    feature.outbox().close();
    feature = null;

    clock.advance(Duration.ofSeconds(20));
    start(options);
    List<Telemetry.Metrics> kept = summaries(feature.outbox());
    assertThat(kept)
        .singleElement()
        .satisfies(
            m -> {
              assertThat(m.partial()).isTrue();
              assertThat(m.from()).isEqualTo(T0);
              assertThat(m.at()).isEqualTo(T0.plusSeconds(120));
              assertThat(m.metrics().get("cpu.used.percent").count()).isEqualTo(24);
            });
    assertThat(feature.stats().partialSummaries()).isEqualTo(1);
    // Recovered once only: the next start finds nothing to recover.
    feature.outbox().close();
    feature = null;
    start(options);
    assertThat(summaries(feature.outbox())).hasSize(1);
    ticks(1, Duration.ZERO);
    assertThat(feature.stats().samples()).isEqualTo(1);
  }

  @Test
  void aClosedWindowIsNotRecoveredAgainAfterACrash() {
    start(
        TelemetryFeature.Options.defaults()
            .withDefaultWindow(Duration.ofSeconds(60))
            .withCheckpointEvery(2));
    ticks(12, Duration.ofSeconds(5)); // saves during the window, then the window closes
    assertThat(summaries(feature.outbox())).hasSize(1);
    feature.outbox().close();
    feature = null;
    start(TelemetryFeature.Options.defaults().withDefaultWindow(Duration.ofSeconds(60)));
    assertThat(summaries(feature.outbox())).hasSize(1);
  }

  @Test
  void withoutSavesACrashLosesTheOpenWindowButAGracefulStopDoesNot() {
    TelemetryFeature.Options options = TelemetryFeature.Options.defaults().withCheckpointEvery(0);
    start(options);
    ticks(30, Duration.ofSeconds(5));
    feature.outbox().close();
    feature = null;
    start(options);
    assertThat(summaries(feature.outbox())).isEmpty();
    ticks(3, Duration.ofSeconds(5));
    feature.close();
    feature = null;
    start(options);
    assertThat(summaries(feature.outbox())).singleElement().matches(Telemetry.Metrics::partial);
  }

  @Test
  void corruptWindowFilesAreIgnored() throws Exception {
    java.nio.file.Files.writeString(dir.resolve(WindowCheckpoint.GRID_FILE), "not a grid at all");
    java.nio.file.Files.createDirectories(dir.resolve("memory"));
    java.nio.file.Files.write(
        dir.resolve("memory").resolve(WindowCheckpoint.OPEN_FILE), new byte[] {0, 0, 0, 9, 1, 2});
    start(TelemetryFeature.Options.defaults().withDefaultWindow(Duration.ofSeconds(60)));
    ticks(12, Duration.ofSeconds(5));
    assertThat(summaries(feature.outbox()))
        .singleElement()
        .satisfies(m -> assertThat(m.from()).isEqualTo(T0));
  }

  @Test
  void samplingStartsAtOnceThenFollowsTheGrid() {
    List<Long> delays = new CopyOnWriteArrayList<>();
    ScheduledExecutorService recording =
        new java.util.concurrent.ScheduledThreadPoolExecutor(1) {
          @Override
          public java.util.concurrent.ScheduledFuture<?> scheduleAtFixedRate(
              Runnable command,
              long initialDelay,
              long period,
              java.util.concurrent.TimeUnit unit) {
            delays.add(unit.toMillis(initialDelay));
            return super.scheduleAtFixedRate(command, initialDelay, period, unit);
          }
        };
    try {
      // A grid from an earlier run: origin T0, windows of 60 s. Now is T0+62.5s.
      new WindowCheckpoint(dir, null).saveGrid(new WindowCheckpoint.Grid(T0, 60));
      clock.advance(Duration.ofMillis(62_500));
      Outbox outbox = Outbox.open(dir, Outbox.Options.defaults(), clock);
      feature =
          new TelemetryFeature(
              outbox,
              () -> Map.of("cpu.used.percent", 1.0),
              List::of,
              recording,
              clock,
              TelemetryFeature.Options.defaults().withCheckpointDir(dir.resolve("memory")),
              nanos::get);
      feature.start();
      await().until(() -> feature.stats().samples() == 1);
      assertThat(delays).containsExactly(2_500L); // the next sample at T0+65s, on the grid
    } finally {
      feature.close();
      feature = null;
      recording.shutdownNow();
    }
  }

  /** A connection that carries binary messages, read back as the controller reads them. */
  static final class BinaryWire implements AgentFeature.Channel {
    final CompactTelemetry.Decoder decoder = new CompactTelemetry.Decoder();
    final List<byte[]> frames = new CopyOnWriteArrayList<>();
    final List<List<Telemetry>> batches = new CopyOnWriteArrayList<>();
    final List<AgentMessage> json = new CopyOnWriteArrayList<>();

    @Override
    public boolean send(AgentMessage message) {
      json.add(message);
      return true;
    }

    @Override
    public boolean binary() {
      return true;
    }

    @Override
    public boolean sendBinary(byte[] message) {
      frames.add(message);
      try {
        batches.add(decoder.decode(java.nio.ByteBuffer.wrap(message)));
      } catch (CompactTelemetry.MalformedException e) {
        batches.add(List.of());
      }
      return true;
    }

    long lastSeq() {
      return batches.getLast().stream().mapToLong(Telemetry::seq).max().orElseThrow();
    }
  }

  static ControllerMessage.Welcome compactWelcome(int telemetrySeconds) {
    return new ControllerMessage.Welcome(
        "dev-1", 30, 0, telemetrySeconds, false, List.of(CompactTelemetry.ENCODING));
  }

  @Test
  void batchesGoCompactWhenTheControllerTakesItAndNamesOnlyUntilAcknowledged() {
    start(TelemetryFeature.Options.defaults().withDefaultWindow(Duration.ofSeconds(60)));
    BinaryWire wire = new BinaryWire();
    feature.connected(wire, compactWelcome(60));
    ticks(12, Duration.ofSeconds(5));
    await().until(() -> wire.frames.size() == 1);
    List<Telemetry> first = wire.batches.getFirst();
    assertThat(first).isEqualTo(feature.outbox().pending());
    int named = wire.frames.getFirst().length;

    feature.handle(new ControllerMessage.TelemetryAck(wire.lastSeq()));
    ticks(12, Duration.ofSeconds(5));
    await().until(() -> wire.frames.size() == 2);
    assertThat(wire.frames.get(1).length).as("ids only").isLessThan(named - 10);
    assertThat(wire.batches.get(1)).singleElement().isInstanceOf(Telemetry.Metrics.class);
    assertThat(wire.json).isEmpty();
    assertThat(feature.stats().compactBatches()).isEqualTo(2);
    assertThat(feature.stats().bytesSent())
        .isEqualTo(wire.frames.get(0).length + wire.frames.get(1).length);
  }

  @Test
  void aReconnectStartsWithNoNamesKnown() {
    start(TelemetryFeature.Options.defaults().withDefaultWindow(Duration.ofSeconds(60)));
    BinaryWire first = new BinaryWire();
    feature.connected(first, compactWelcome(60));
    ticks(12, Duration.ofSeconds(5));
    await().until(() -> first.frames.size() == 1);
    feature.handle(new ControllerMessage.TelemetryAck(first.lastSeq()));
    feature.disconnected();

    BinaryWire second = new BinaryWire(); // a new connection: a new decoder on the controller
    feature.connected(second, compactWelcome(60));
    ticks(12, Duration.ofSeconds(5));
    await().until(() -> second.frames.size() == 1);
    assertThat(second.batches.getFirst())
        .singleElement()
        .isInstanceOf(Telemetry.Metrics.class)
        .as("decoded by a decoder that knew no names");
  }

  /**
   * A scheduler whose delayed tasks (the acknowledgement deadlines) run only when the test fires
   * them, so a slow machine cannot make a deadline pass before the test answers.
   */
  static final class ManualTimers extends ScheduledThreadPoolExecutor {
    private final List<Runnable> timers = new CopyOnWriteArrayList<>();

    ManualTimers() {
      super(1);
    }

    @Override
    public ScheduledFuture<?> schedule(Runnable task, long delay, TimeUnit unit) {
      if (delay <= 0) {
        return super.schedule(task, 0, TimeUnit.NANOSECONDS); // execute() comes here too
      }
      timers.add(task);
      return super.schedule(() -> {}, 365, TimeUnit.DAYS);
    }

    /** Runs every deadline set so far, as if its time had come. */
    void fire() {
      List<Runnable> due = List.copyOf(timers);
      timers.removeAll(due);
      due.forEach(t -> super.schedule(t, 0, TimeUnit.NANOSECONDS));
    }
  }

  @Test
  void anOverdueAcknowledgementSendsEveryNameAgain() {
    scheduler.shutdownNow();
    ManualTimers timers = new ManualTimers();
    scheduler = timers;
    start(
        new TelemetryFeature.Options(
            Duration.ZERO,
            Duration.ofSeconds(60),
            200,
            48 * 1024,
            1 << 20,
            Duration.ofMillis(200),
            300));
    BinaryWire wire = new BinaryWire();
    feature.connected(wire, compactWelcome(60));
    ticks(12, Duration.ofSeconds(5));
    await().until(() -> wire.frames.size() == 1);
    feature.handle(new ControllerMessage.TelemetryAck(wire.lastSeq()));
    // The controller refuses the next frame as a whole (it never answers): after the timeout the
    // frame goes again with its names, which a decoder that never bound them can read.
    ticks(12, Duration.ofSeconds(5));
    await().until(() -> wire.frames.size() == 2);
    // The deadline of the second frame is set right after it is sent: fire until it has passed.
    await()
        .until(
            () -> {
              timers.fire();
              return wire.frames.size() >= 3;
            });
    CompactTelemetry.Decoder fresh = new CompactTelemetry.Decoder();
    assertThat(feature.stats().resends()).isPositive();
    org.assertj.core.api.Assertions.assertThatCode(
            () -> fresh.decode(java.nio.ByteBuffer.wrap(wire.frames.get(2))))
        .doesNotThrowAnyException();
  }

  @Test
  void jsonGoesToAControllerThatListsNoCompactFormAndWhenTurnedOff() {
    start(TelemetryFeature.Options.defaults().withDefaultWindow(Duration.ofSeconds(60)));
    BinaryWire wire = new BinaryWire();
    feature.connected(wire, welcome(60)); // an older controller
    ticks(12, Duration.ofSeconds(5));
    await().until(() -> wire.json.size() == 1);
    assertThat(wire.frames).isEmpty();
    feature.close();

    feature = null;
    java.nio.file.Path other = dir.resolve("other");
    Outbox outbox = Outbox.open(other, Outbox.Options.defaults(), clock);
    feature =
        new TelemetryFeature(
            outbox,
            () -> Map.of("cpu.used.percent", 1.0),
            () -> apps,
            scheduler,
            clock,
            TelemetryFeature.Options.defaults()
                .withSampleEvery(Duration.ZERO)
                .withDefaultWindow(Duration.ofSeconds(60))
                .withCheckpointDir(other.resolve("memory"))
                .withCompact(false),
            nanos::get);
    BinaryWire off = new BinaryWire();
    feature.connected(off, compactWelcome(60));
    ticks(12, Duration.ofSeconds(5));
    await().until(() -> off.json.size() == 1);
    assertThat(off.frames).isEmpty();
  }

  @Test
  void openWindowsAreSavedInMemoryInADirectoryOfThisUserOnly() throws Exception {
    java.nio.file.Path outboxDir = dir.resolve("outbox-" + System.nanoTime());
    java.nio.file.Files.createDirectories(outboxDir);
    java.util.Optional<java.nio.file.Path> memory = WindowCheckpoint.memoryDirFor(outboxDir);
    try {
      assertThat(memory).hasValueSatisfying(m -> assertThat(m.startsWith("/dev/shm")).isTrue());
      assertThat(java.nio.file.Files.getPosixFilePermissions(memory.get()))
          .isEqualTo(java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
      assertThat(WindowCheckpoint.memoryDirFor(outboxDir)).isEqualTo(memory);
      // Someone made it open to others: it is not used.
      java.nio.file.Files.setPosixFilePermissions(
          memory.get(), java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
      assertThat(WindowCheckpoint.memoryDirFor(outboxDir)).isEmpty();
    } finally {
      if (memory.isPresent()) {
        java.nio.file.Files.deleteIfExists(memory.get());
      }
    }
  }

  @Test
  void aGracefulStopLeavesNoSavedWindowBehind() throws Exception {
    start(TelemetryFeature.Options.defaults().withCheckpointEvery(2));
    ticks(5, Duration.ofSeconds(5));
    java.nio.file.Path saved = dir.resolve("memory").resolve(WindowCheckpoint.OPEN_FILE);
    assertThat(saved).exists();
    feature.close();
    feature = null;
    assertThat(saved).doesNotExist();
    assertThat(dir.resolve(WindowCheckpoint.GRID_FILE)).exists();
  }
}
