package io.edgefleet.agent.artifacts;

import static io.edgefleet.agent.artifacts.Blobs4Test.bytes;
import static io.edgefleet.agent.artifacts.Blobs4Test.digest;
import static io.edgefleet.agent.artifacts.Blobs4Test.ref;
import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ArtifactChunks;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.DesiredState;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongConsumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The feature's passes driven one by one, against a source in memory that can corrupt, cut and
 * watch a transfer, with a clock the test moves.
 */
class ArtifactsFeatureTest {
  private static final int CHUNK = 4096;
  private static final Instant NOON = Instant.parse("2026-06-01T12:00:00Z");

  @TempDir Path dir;

  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  private final Blobs4Test.MovingClock clock = new Blobs4Test.MovingClock(NOON);
  private final Source source = new Source();
  private final List<String> events = new ArrayList<>();
  private final AtomicInteger reconciles = new AtomicInteger();
  private final List<ArtifactsFeature> features = new ArrayList<>();
  private final ByteArrayOutputStream log = new ByteArrayOutputStream();

  @AfterEach
  void close() {
    features.forEach(ArtifactsFeature::close);
    timer.shutdownNow();
  }

  @Test
  void appsComeFirstInAppOrderThenTheStagedBlobsEachOnce() throws Exception {
    byte[] shared = source.add(bytes(5000, 1));
    byte[] a = source.add(bytes(9000, 2));
    byte[] b = source.add(bytes(3000, 3));
    byte[] staged = source.add(bytes(7000, 4));
    ArtifactsFeature f = feature();
    f.want(
        state(
            List.of(app("one", ref(a), ref(shared)), app("two", ref(shared), ref(b))),
            List.of(ref(staged), ref(b)),
            null));
    f.pass();

    assertThat(source.order)
        .as(log.toString())
        .containsExactly(digest(a), digest(shared), digest(b), digest(staged));
    for (byte[] x : List.of(a, shared, b, staged)) {
      assertThat(Files.readAllBytes(f.blobs().find(digest(x)).orElseThrow())).isEqualTo(x);
    }
    assertThat(f.stats().received()).isEqualTo(5000 + 9000 + 3000 + 7000);
    AgentMessage.ArtifactReport r = f.status().orElseThrow();
    assertThat(r.held())
        .containsExactlyElementsOf(
            new java.util.TreeSet<>(List.of(digest(a), digest(b), digest(shared), digest(staged))));
    assertThat(r.fetching()).isEmpty();
    assertThat(r.waiting()).isNull();
    // Each app's last artifact asked for a reconcile pass; the staged blob did not.
    assertThat(reconciles).hasValue(2);
  }

  @Test
  void aCorruptedChunkIsCountedReportedAndFetchedAgainAlone() throws Exception {
    byte[] a = source.add(bytes(5 * CHUNK, 5));
    source.corruptOnce(digest(a), 2 * CHUNK + 10);
    ArtifactsFeature f = feature();
    f.want(state(List.of(app("one", ref(a))), List.of(), null));
    f.pass();

    assertThat(f.stats().mismatches()).isEqualTo(1);
    assertThat(events)
        .singleElement()
        .asString()
        .contains("artifact-mismatch")
        .contains("chunk 3 of 5");
    assertThat(f.status().orElseThrow().waiting()).contains("trying again");
    assertThat(f.blobs().find(digest(a))).isEmpty();

    awaitRetry(f, digest(a));
    assertThat(Files.readAllBytes(f.blobs().find(digest(a)).orElseThrow())).isEqualTo(a);
    // The bad chunk (and the buffer in which it ended) came again; the two good ones before it
    // did not.
    assertThat(source.servedFrom).containsExactly(0L, 2L * CHUNK);
  }

  @Test
  void aCutTransferGoesOnFromWhereItStopped() throws Exception {
    byte[] a = source.add(bytes(6 * CHUNK, 6));
    source.cutAfter(digest(a), 3 * CHUNK + 500);
    ArtifactsFeature f = feature();
    f.want(state(List.of(app("one", ref(a))), List.of(), null));
    f.pass();
    assertThat(f.status().orElseThrow().fetching())
        .containsExactly(new AgentMessage.ArtifactProgress(digest(a), a.length, 3L * CHUNK));

    awaitRetry(f, digest(a));
    assertThat(Files.readAllBytes(f.blobs().find(digest(a)).orElseThrow())).isEqualTo(a);
    assertThat(source.servedFrom).containsExactly(0L, 3L * CHUNK + 500);
    assertThat(f.stats().received()).isEqualTo(a.length);
  }

  @Test
  void theDaysBudgetStopsDownloadsAndTheNextDayGoesOn() throws Exception {
    byte[] a = source.add(bytes(10 * CHUNK, 7));
    ArtifactsFeature f = feature();
    DesiredState budgeted =
        state(
            List.of(app("one", ref(a))),
            List.of(),
            new DesiredState.DownloadPolicy(4 * CHUNK + 100, List.of(), "UTC"));
    f.want(budgeted);
    f.pass();

    AgentMessage.ArtifactReport r = f.status().orElseThrow();
    assertThat(r.waiting()).contains("budget of " + (4 * CHUNK + 100) + " bytes is spent");
    assertThat(r.fetching())
        .containsExactly(new AgentMessage.ArtifactProgress(digest(a), a.length, 4L * CHUNK));
    assertThat(source.served).isEqualTo(4 * CHUNK + 100);

    // A restart does not hand out the budget again.
    ArtifactsFeature restarted = feature();
    restarted.want(budgeted);
    restarted.pass();
    assertThat(source.served).isEqualTo(4 * CHUNK + 100);
    assertThat(restarted.status().orElseThrow().waiting()).contains("budget");

    clock.set(Instant.parse("2026-06-02T00:00:01Z"));
    restarted.pass();
    restarted.pass();
    clock.set(Instant.parse("2026-06-03T00:00:01Z"));
    restarted.pass();
    assertThat(Files.readAllBytes(restarted.blobs().find(digest(a)).orElseThrow())).isEqualTo(a);
  }

  @Test
  void aDownloadRunningWhenItsWindowEndsPausesAndGoesOnInTheNext() throws Exception {
    byte[] a = source.add(bytes(8 * CHUNK, 8));
    ArtifactsFeature f = feature();
    clock.set(Instant.parse("2026-06-01T01:30:00Z"));
    f.want(
        state(
            List.of(app("one", ref(a))),
            List.of(),
            new DesiredState.DownloadPolicy(0, List.of("02:00-03:00"), "UTC")));
    f.pass();
    assertThat(f.status().orElseThrow().waiting())
        .contains("outside the download windows")
        .contains("2026-06-01T02:00:00Z");
    assertThat(source.served).isZero();

    clock.set(Instant.parse("2026-06-01T02:59:00Z"));
    // The window ends while the bytes flow.
    source.onServed =
        served -> {
          if (served >= 3 * CHUNK) {
            clock.set(Instant.parse("2026-06-01T03:00:00Z"));
          }
        };
    f.pass();
    AgentMessage.ArtifactReport paused = f.status().orElseThrow();
    assertThat(paused.waiting()).contains("outside the download windows");
    assertThat(paused.fetching().getFirst().bytes()).isBetween(3L * CHUNK - CHUNK, 4L * CHUNK);
    long before = source.served;

    source.onServed = served -> {};
    clock.set(Instant.parse("2026-06-02T02:00:00Z"));
    f.pass();
    assertThat(Files.readAllBytes(f.blobs().find(digest(a)).orElseThrow())).isEqualTo(a);
    assertThat(source.served).isEqualTo(a.length).isGreaterThan(before);
  }

  @Test
  void blobsNoLongerNamedGoAfterTheGrace() throws Exception {
    byte[] a = source.add(bytes(5000, 9));
    byte[] b = source.add(bytes(5000, 10));
    ArtifactsFeature f = feature();
    f.want(state(List.of(app("one", ref(a)), app("two", ref(b))), List.of(), null));
    f.pass();
    assertThat(f.blobs().find(digest(b))).isPresent();

    f.want(state(List.of(app("one", ref(a))), List.of(), null));
    f.pass();
    assertThat(f.status().orElseThrow().held()).containsExactly(digest(a));
    assertThat(f.blobs().find(digest(b))).isPresent();
    clock.advance(Duration.ofMinutes(11));
    f.pass();
    assertThat(f.blobs().find(digest(b))).isEmpty();
    assertThat(f.blobs().find(digest(a))).isPresent();
  }

  @Test
  void aDownloadDroppedAndWantedAgainAfterItsGraceStartsOverCleanly() throws Exception {
    byte[] a = source.add(bytes(6 * CHUNK, 13));
    source.cutAfter(digest(a), 2 * CHUNK + 100);
    ArtifactsFeature f = feature();
    DesiredState withA = state(List.of(app("one", ref(a))), List.of(), null);
    f.want(withA);
    f.pass();
    assertThat(f.blobs().find(digest(a))).isEmpty();

    // No longer named: after the grace its partial download is deleted...
    f.want(state(List.of(), List.of(), null));
    f.pass();
    clock.advance(Duration.ofMinutes(11));
    f.pass();
    try (var left = Files.list(dir.resolve("blobs/partial"))) {
      assertThat(left).isEmpty();
    }
    // ... and named again, it is fetched whole and right.
    f.want(withA);
    f.pass();
    assertThat(Files.readAllBytes(f.blobs().find(digest(a)).orElseThrow())).isEqualTo(a);
    assertThat(source.servedFrom).containsExactly(0L, 0L);
  }

  @Test
  void aFullDiskIsWaitedOnAndSaid() throws Exception {
    byte[] a = source.add(bytes(5000, 11));
    ArtifactsFeature f =
        feature(new BlobCache(dir.resolve("blobs"), 10_000, p -> 12_000, p -> false));
    f.want(state(List.of(app("one", ref(a))), List.of(), null));
    f.pass();
    assertThat(f.status().orElseThrow().waiting()).contains("disk is too full");
    assertThat(source.served).isZero();
  }

  @Test
  void aMalformedDownloadPolicyStopsDownloadsAndSaysWhy() throws Exception {
    byte[] a = source.add(bytes(5000, 12));
    ArtifactsFeature f = feature();
    f.want(
        state(
            List.of(app("one", ref(a))),
            List.of(),
            new DesiredState.DownloadPolicy(0, List.of("late"), null)));
    f.pass();
    assertThat(f.status().orElseThrow().waiting())
        .contains("download policy cannot be used")
        .contains("'late'");
    assertThat(source.served).isZero();
  }

  /** Passes within the pause after a failure do not try again; the first after it does. */
  private void awaitRetry(ArtifactsFeature f, String digest) {
    long before = source.served;
    f.pass();
    assertThat(source.served).as(log.toString()).isEqualTo(before);
    clock.advance(Duration.ofMinutes(1));
    f.pass();
    assertThat(f.blobs().find(digest)).as(log.toString()).isPresent();
  }

  private ArtifactsFeature feature() {
    return feature(new BlobCache(dir.resolve("blobs"), 0, p -> Long.MAX_VALUE, p -> false));
  }

  private ArtifactsFeature feature(BlobCache cache) {
    ArtifactsFeature f =
        new ArtifactsFeature(
            cache,
            source,
            ArtifactsFeature.Options.defaults()
                .withTick(Duration.ofHours(1))
                .withGrace(Duration.ofMinutes(10))
                .withRetry(Duration.ofMinutes(1), Duration.ofMinutes(1)),
            timer,
            clock,
            new PrintStream(log, true),
            (kind, severity, app, message) -> {
              synchronized (events) {
                events.add(kind + " " + severity + " " + app + " " + message);
              }
            },
            reconciles::incrementAndGet);
    features.add(f);
    return f;
  }

  private static DesiredState state(
      List<DesiredState.DesiredApp> apps,
      List<ArtifactRef> stage,
      DesiredState.DownloadPolicy policy) {
    return new DesiredState("d1", 1, NOON, apps, List.of(), List.of()).withDownloads(stage, policy);
  }

  private static DesiredState.DesiredApp app(String name, ArtifactRef... refs) {
    return new DesiredState.DesiredApp(
        name,
        "git",
        "main",
        digest(name.getBytes()),
        10,
        "c0ffee",
        false,
        "container",
        List.of(refs));
  }

  /** Blobs in memory, served in 1000-byte buffers, with faults to order. */
  private static final class Source implements ArtifactSource {
    final Map<String, byte[]> blobs = new HashMap<>();
    final List<String> order = new ArrayList<>();
    final List<Long> servedFrom = new ArrayList<>();
    final Map<String, Integer> corruptAt = new HashMap<>();
    final Map<String, Long> cutAt = new HashMap<>();
    volatile long served;
    volatile LongConsumer onServed = s -> {};

    byte[] add(byte[] b) {
      blobs.put(digest(b), b);
      return b;
    }

    void corruptOnce(String digest, int offset) {
      corruptAt.put(digest, offset);
    }

    void cutAfter(String digest, long offset) {
      cutAt.put(digest, offset);
    }

    @Override
    public String name() {
      return "the test source";
    }

    @Override
    public ArtifactChunks chunks(String digest) throws IOException {
      byte[] b = blobs.get(digest);
      if (b == null) {
        throw new IOException("no such blob");
      }
      return Blobs4Test.chunks(b, CHUNK);
    }

    @Override
    public long range(String digest, long from, long end, Receiver receiver) throws IOException {
      byte[] b = blobs.get(digest).clone();
      if (!order.contains(digest)) {
        order.add(digest);
      }
      servedFrom.add(from);
      Integer bad = corruptAt.remove(digest);
      if (bad != null) {
        b[bad] ^= 0x01;
      }
      Long cut = cutAt.remove(digest);
      long at = from;
      while (at < end) {
        if (cut != null && at >= cut) {
          throw new IOException("connection reset");
        }
        int n = (int) Math.min(1000, end - at);
        if (cut != null) {
          n = (int) Math.min(n, cut - at);
        }
        receiver.take(ByteBuffer.wrap(b, (int) at, n).slice());
        at += n;
        served += n;
        onServed.accept(served);
      }
      return at - from;
    }
  }
}
