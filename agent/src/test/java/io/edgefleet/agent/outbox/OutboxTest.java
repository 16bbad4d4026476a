package io.edgefleet.agent.outbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.protocol.Telemetry;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OutboxTest {
  static final Instant T0 = Instant.parse("2026-11-21T10:00:00Z");
  static final Clock CLOCK = Clock.fixed(T0, ZoneOffset.UTC);

  @TempDir Path dir;

  Outbox open() {
    return Outbox.open(dir, Outbox.Options.defaults(), CLOCK);
  }

  Outbox open(long max) {
    return Outbox.open(dir, Outbox.Options.bounded(max), CLOCK);
  }

  static Map<String, Telemetry.Stat> sample(double v) {
    return Map.of(
        "cpu.used.percent", new Telemetry.Stat(v, v + 10, v + 5, v + 1, 12),
        "mem.used.bytes", new Telemetry.Stat(1e9, 2e9, 1.5e9, 1.2e9, 12));
  }

  static Telemetry.Metrics metrics(Outbox o, int i) {
    return o.appendMetrics(T0.plusSeconds(60L * i), T0.plusSeconds(60L * (i + 1)), sample(i));
  }

  static Telemetry.DeviceEvent event(Outbox o, int i) {
    return o.appendEvent("app-failed", "error", "web", "failure " + i, T0.plusSeconds(i));
  }

  static List<Telemetry> drainAll(Outbox o) {
    List<Telemetry> all = new ArrayList<>();
    while (true) {
      List<Telemetry> b = o.nextBatch(200, 48 * 1024);
      if (b.isEmpty()) {
        return all;
      }
      all.addAll(b);
      o.acked(b.stream().mapToLong(Telemetry::seq).max().orElseThrow());
    }
  }

  List<Path> segmentFiles() throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.toString().endsWith(".seg")).sorted().toList();
    }
  }

  @Test
  void drainsEventsBeforeMetricsEachBySeqAndOnlyOneBatchInFlight() {
    try (Outbox o = open()) {
      metrics(o, 0); // seq 1
      event(o, 1); // 2
      metrics(o, 2); // 3
      o.appendEvent("restart", "warning", null, "restarted", T0); // 4
      metrics(o, 4); // 5

      List<Telemetry> first = o.nextBatch(3, 48 * 1024);
      assertThat(first).extracting(Telemetry::seq).containsExactly(2L, 4L, 1L);
      assertThat(o.nextBatch(3, 48 * 1024)).as("one batch in flight").isEmpty();
      o.acked(4);
      List<Telemetry> second = o.nextBatch(3, 48 * 1024);
      assertThat(second).extracting(Telemetry::seq).containsExactly(3L, 5L);
      o.acked(5);
      assertThat(o.nextBatch(3, 48 * 1024)).isEmpty();
      assertThat(o.stats().pending()).isZero();
    }
  }

  @Test
  void batchesStayWithinTheByteBudgetButAlwaysCarryOneRecord() {
    try (Outbox o = open()) {
      for (int i = 0; i < 50; i++) {
        event(o, i);
      }
      List<Telemetry> b = o.nextBatch(200, 1000);
      assertThat(b).hasSizeBetween(2, 10);
      o.acked(b.getLast().seq());
      List<Telemetry> tiny = o.nextBatch(200, 1);
      assertThat(tiny).hasSize(1);
    }
  }

  @Test
  void eventsAppendedWhileABatchIsInFlightComeNext() {
    try (Outbox o = open()) {
      for (int i = 0; i < 5; i++) {
        metrics(o, i);
      }
      List<Telemetry> b = o.nextBatch(200, 48 * 1024);
      assertThat(b).hasSize(5);
      Telemetry.DeviceEvent late = event(o, 9);
      o.acked(5);
      assertThat(o.nextBatch(200, 48 * 1024)).containsExactly(late);
    }
  }

  @Test
  void aBatchThatWasNeverAcknowledgedIsSentAgainAfterAReset() {
    try (Outbox o = open()) {
      event(o, 1);
      metrics(o, 2);
      List<Telemetry> b = o.nextBatch(200, 48 * 1024);
      o.resetInFlight();
      assertThat(o.nextBatch(200, 48 * 1024)).isEqualTo(b);
    }
  }

  @Test
  void aPartialAcknowledgementReleasesOnlyWhatItCovers() {
    try (Outbox o = open()) {
      for (int i = 0; i < 4; i++) {
        event(o, i); // 1..4
      }
      o.nextBatch(200, 48 * 1024);
      o.acked(2);
      assertThat(o.nextBatch(200, 48 * 1024)).extracting(Telemetry::seq).containsExactly(3L, 4L);
    }
  }

  @Test
  void seqNumbersKeepIncreasingAcrossRestartsEvenWhenEverythingWasAcknowledged() throws Exception {
    try (Outbox o = open()) {
      for (int i = 0; i < 10; i++) {
        event(o, i);
      }
      drainAll(o);
      assertThat(o.stats().segments()).isZero();
    }
    assertThat(segmentFiles().isEmpty()).isTrue();
    try (Outbox o = open()) {
      assertThat(event(o, 11).seq()).isEqualTo(11);
      assertThat(metrics(o, 12).seq()).isEqualTo(12);
    }
    try (Outbox o = open()) {
      assertThat(o.nextBatch(200, 48 * 1024)).extracting(Telemetry::seq).containsExactly(11L, 12L);
      assertThat(event(o, 13).seq()).isEqualTo(13);
    }
  }

  @Test
  void unacknowledgedRecordsSurviveARestartAndAcknowledgedOnesDoNotReturn() {
    List<Telemetry> written = new ArrayList<>();
    try (Outbox o = open()) {
      for (int i = 0; i < 6; i++) {
        written.add(i % 2 == 0 ? event(o, i) : metrics(o, i));
      }
      List<Telemetry> b = o.nextBatch(2, 48 * 1024);
      o.acked(b.getLast().seq()); // events 1 and 3
    }
    try (Outbox o = open()) {
      assertThat(o.pending())
          .containsExactlyElementsOf(
              written.stream().filter(t -> t.seq() != 1 && t.seq() != 3).toList());
      assertThat(o.stats().pendingEvents()).isEqualTo(1);
      assertThat(o.stats().pendingMetrics()).isEqualTo(3);
    }
  }

  @Test
  void aTornTailIsCutOffSilentlyAndAppendsContinue() throws Exception {
    List<Telemetry> written = new ArrayList<>();
    try (Outbox o = open()) {
      for (int i = 0; i < 5; i++) {
        written.add(event(o, i));
      }
    }
    Path last = segmentFiles().getLast();
    long intact = Files.size(last);
    // Half of a frame, as a kill during write() leaves it.
    ByteBuffer frame = Frames.encode(Frames.EVENT, 6, "{\"k\":\"e\",\"seq\":6}".getBytes());
    byte[] half = new byte[frame.remaining() / 2];
    frame.get(half);
    Files.write(last, half, StandardOpenOption.APPEND);

    try (Outbox o = open()) {
      assertThat(o.recovery().tornBytes()).isEqualTo(half.length);
      assertThat(o.recovery().corruptBytes()).isZero();
      assertThat(Files.size(last)).isEqualTo(intact);
      assertThat(o.pending()).containsExactlyElementsOf(written);
      assertThat(event(o, 6).seq()).isEqualTo(6);
      assertThat(o.pending()).hasSize(6).noneMatch(t -> t instanceof Telemetry.Loss);
    }
  }

  @Test
  void aTornHeaderIsCutOffToo() throws Exception {
    try (Outbox o = open()) {
      event(o, 0);
    }
    Files.write(segmentFiles().getLast(), new byte[] {0, 0, 0}, StandardOpenOption.APPEND);
    try (Outbox o = open()) {
      assertThat(o.recovery().tornBytes()).isEqualTo(3);
      assertThat(o.pending()).hasSize(1);
    }
  }

  @Test
  void corruptionBeforeTheTailIsCutAtTheBadRecordAndAnnouncedWithALossRecord() throws Exception {
    List<Telemetry> written = new ArrayList<>();
    // Small segments, so that corruption lands in a segment that is not the last.
    try (Outbox o = Outbox.open(dir, new Outbox.Options(1024 * 1024, 4096, Duration.ZERO), CLOCK)) {
      for (int i = 0; i < 100; i++) {
        written.add(event(o, i));
      }
    }
    List<Path> files = segmentFiles();
    assertThat(files.size()).isGreaterThan(2);
    Path victim = files.get(1);
    long victimSize = Files.size(victim);
    // Flip one byte in the payload of the victim's third record.
    long pos = 0;
    try (FileChannel ch = FileChannel.open(victim, StandardOpenOption.READ)) {
      for (int r = 0; r < 2; r++) {
        pos = Frames.read(ch, pos, victimSize, true, false).next();
      }
    }
    try (FileChannel ch =
        FileChannel.open(victim, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.allocate(1);
      ch.read(b, pos + Frames.HEADER + 5);
      b.flip();
      byte flipped = (byte) (b.get() ^ 0x40);
      ch.write(ByteBuffer.wrap(new byte[] {flipped}), pos + Frames.HEADER + 5);
    }

    try (Outbox o = open()) {
      assertThat(o.recovery().corruptBytes()).isEqualTo(victimSize - pos);
      assertThat(Files.size(victim)).isEqualTo(pos);
      List<Telemetry> pending = o.pending();
      Telemetry.Loss loss = (Telemetry.Loss) pending.getLast();
      assertThat(loss.reason()).contains("unreadable").contains(String.valueOf(victimSize - pos));
      assertThat(loss.seq()).isEqualTo(101);
      // Every record outside the cut-off part is still there, in order.
      List<Telemetry> kept = pending.subList(0, pending.size() - 1);
      assertThat(written).containsAll(kept);
      assertThat(kept).extracting(Telemetry::seq).isSorted();
      assertThat(kept.getLast()).isEqualTo(written.getLast());
      assertThat(kept.size()).isLessThan(written.size());
    }
  }

  @Test
  void aFullOutboxDownSamplesOldMetricsAndKeepsEveryEventAndEverySample() {
    long max = 64 * 1024;
    long events = 0;
    long samples = 0;
    try (Outbox o = open(max)) {
      for (int i = 0; i < 2000; i++) {
        metrics(o, i);
        samples += 12;
        if (i % 50 == 0) {
          event(o, i);
          events++;
        }
        assertThat(o.stats().bytes()).isLessThanOrEqualTo(max + Outbox.MAX_RECORD_BYTES);
      }
      Outbox.Stats stats = o.stats();
      assertThat(stats.mergedMetrics()).isPositive();
      assertThat(stats.droppedEvents()).isZero();
      assertThat(stats.bytes()).isLessThanOrEqualTo(max);
      List<Telemetry> all = drainAll(o);
      assertThat(all.stream().filter(t -> t instanceof Telemetry.DeviceEvent).count())
          .isEqualTo(events);
      List<Telemetry.Metrics> ms =
          all.stream()
              .filter(t -> t instanceof Telemetry.Metrics)
              .map(t -> (Telemetry.Metrics) t)
              .toList();
      assertThat(ms.size()).isLessThan(2000);
      assertThat(ms.stream().mapToLong(m -> m.metrics().get("cpu.used.percent").count()).sum())
          .as("no sample lost, only coarser")
          .isEqualTo(samples);
      assertThat(ms).extracting(Telemetry::seq).isSorted();
      // Windows are contiguous and cover the whole period.
      assertThat(ms.getFirst().from()).isEqualTo(T0);
      assertThat(ms.getLast().at()).isEqualTo(T0.plusSeconds(60L * 2000));
      for (int i = 1; i < ms.size(); i++) {
        assertThat(ms.get(i).from()).isEqualTo(ms.get(i - 1).at());
      }
      assertThat(ms.stream().mapToDouble(m -> m.metrics().get("cpu.used.percent").max()).max())
          .hasValue(1999 + 10);
    }
  }

  @Test
  void eventsBeyondTheBoundAreDroppedOnlyWithALossRecordThatCountsThem() {
    long max = 64 * 1024;
    int appended = 3000;
    try (Outbox o = open(max)) {
      for (int i = 0; i < appended; i++) {
        event(o, i);
      }
      Outbox.Stats stats = o.stats();
      assertThat(stats.droppedEvents()).isPositive();
      assertThat(stats.bytes()).isLessThanOrEqualTo(max);
      List<Telemetry> all = drainAll(o);
      long kept = all.stream().filter(t -> t instanceof Telemetry.DeviceEvent).count();
      long lost =
          all.stream()
              .filter(t -> t instanceof Telemetry.Loss)
              .mapToLong(t -> ((Telemetry.Loss) t).events())
              .sum();
      assertThat(kept + lost).isEqualTo(appended);
      // What is kept is the newest, in order.
      List<Long> seqs =
          all.stream().filter(t -> t instanceof Telemetry.DeviceEvent).map(Telemetry::seq).toList();
      assertThat(seqs).isSorted();
      assertThat(
              ((Telemetry.DeviceEvent)
                      all.stream()
                          .filter(t -> t instanceof Telemetry.DeviceEvent)
                          .reduce((a, b) -> b)
                          .orElseThrow())
                  .message())
          .isEqualTo("failure " + (appended - 1));
    }
  }

  @Test
  void segmentsLeftBehindByAnInterruptedDownSamplingAreRecognisedAndRemoved() throws Exception {
    long max = 64 * 1024;
    Path before = dir.resolveSibling(dir.getFileName() + "-before");
    List<Telemetry> expected;
    try (Outbox o = open(max)) {
      int i = 0;
      while (o.stats().bytes() < max - 2048) {
        metrics(o, i++);
      }
      o.sync();
      // A copy of the segments just before the write that triggers down-sampling.
      Files.createDirectories(before);
      for (Path p : segmentFiles()) {
        Files.copy(p, before.resolve(p.getFileName()));
      }
      while (o.stats().mergedMetrics() == 0) {
        metrics(o, i++);
      }
      expected = o.pending();
    }
    // Put back every old segment the down-sampling deleted, as if it had crashed right after
    // renaming its result into place.
    int restored = 0;
    try (Stream<Path> old = Files.list(before)) {
      for (Path p : old.toList()) {
        if (!Files.exists(dir.resolve(p.getFileName()))) {
          Files.copy(p, dir.resolve(p.getFileName()));
          restored++;
        }
      }
    }
    assertThat(restored).isPositive();
    try (Outbox o = open(max)) {
      assertThat(o.recovery().leftoverSegments()).isEqualTo(restored);
      assertThat(o.pending()).isEqualTo(expected);
    }
  }

  @Test
  void aTemporaryFileOfAnInterruptedRewriteIsDiscarded() throws Exception {
    try (Outbox o = open()) {
      event(o, 1);
    }
    Files.write(dir.resolve("00000000000000000001.seg.tmp"), new byte[] {1, 2, 3});
    try (Outbox o = open()) {
      assertThat(o.recovery().tempFiles()).isEqualTo(1);
      assertThat(o.pending()).hasSize(1);
    }
  }

  @Test
  void anUnreadableAcknowledgementFileMeansResendingNotLosing() throws Exception {
    try (Outbox o = open()) {
      event(o, 1);
      event(o, 2);
      o.nextBatch(1, 48 * 1024);
      o.acked(1);
    }
    Files.writeString(dir.resolve("acked"), "garbage");
    try (Outbox o = open()) {
      assertThat(o.pending()).extracting(Telemetry::seq).containsExactly(1L, 2L);
      assertThat(event(o, 3).seq()).isEqualTo(3);
    }
  }

  @Test
  void oneProcessAtATime() {
    try (Outbox o = open()) {
      assertThatThrownBy(this::open)
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("open in another process");
    }
  }

  @Test
  void textIsCutToTheLimitsAndUnknownSeveritiesBecomeInfo() {
    try (Outbox o = open()) {
      Telemetry.DeviceEvent e =
          o.appendEvent("k".repeat(500), "LOUD", "a".repeat(500), "m".repeat(10_000), T0);
      assertThat(e.kind()).hasSize(Outbox.MAX_KIND);
      assertThat(e.app()).hasSize(Outbox.MAX_APP);
      assertThat(e.message()).hasSize(Outbox.MAX_MESSAGE);
      assertThat(e.severity()).isEqualTo("info");
    }
  }

  @Test
  void aRecordTooLargeForOneMessageIsRefused() {
    Map<String, Telemetry.Stat> huge = new TreeMap<>();
    for (int i = 0; i < 2000; i++) {
      huge.put("metric.number." + i, new Telemetry.Stat(1, 2, 1.5, 2, 3));
    }
    try (Outbox o = open()) {
      assertThatThrownBy(() -> o.appendMetrics(T0, T0.plusSeconds(60), huge))
          .isInstanceOf(IllegalArgumentException.class);
      assertThat(metrics(o, 1).seq()).as("the refused record used no seq").isEqualTo(1);
    }
  }
}
