package io.edgefleet.agent.artifacts;

import static io.edgefleet.agent.artifacts.Blobs4Test.bytes;
import static io.edgefleet.agent.artifacts.Blobs4Test.digest;
import static io.edgefleet.agent.artifacts.Blobs4Test.ref;
import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.protocol.ArtifactChunks;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.DesiredState;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ConnectException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The order of sources for a neighbour: the site cache first, the controller when the cache is
 * unreachable, fails, lies or makes no progress; every chunk checked against the controller's
 * digests. Driven through the artifact feature's passes with sources in memory.
 */
class SiteCacheSourceTest {
  private static final int CHUNK = 4096;
  private static final Instant NOON = Instant.parse("2026-06-01T12:00:00Z");

  @TempDir Path dir;

  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  private final Blobs4Test.MovingClock clock = new Blobs4Test.MovingClock(NOON);
  private final ByteArrayOutputStream log = new ByteArrayOutputStream();
  private final Memory controller = new Memory("the controller");
  private final Memory cache = new Memory("the site cache dev-c");
  private final List<ArtifactsFeature> features = new ArrayList<>();

  @AfterEach
  void close() {
    features.forEach(ArtifactsFeature::close);
    timer.shutdownNow();
  }

  @Test
  void theCacheServesTheBytesAndTheControllerOnlyTheChunkList() throws Exception {
    byte[] blob = both(bytes(5 * CHUNK + 123, 1));
    SiteCacheSource source = source(true);
    ArtifactsFeature f = feature(source);

    f.want(state(ref(blob)));
    f.pass();

    assertThat(Files.readAllBytes(f.blobs().find(digest(blob)).orElseThrow())).isEqualTo(blob);
    assertThat(cache.served).isEqualTo(blob.length);
    assertThat(controller.served).isZero();
    assertThat(controller.chunkLists).isEqualTo(1);
    assertThat(cache.chunkLists).isZero();
    assertThat(source.stats()).isEqualTo(new SiteCacheSource.Stats(blob.length, 0, 0, 0));
  }

  @Test
  void withoutACacheOrWithItsOwnCacheTheControllerServes() throws Exception {
    byte[] blob = both(bytes(2 * CHUNK, 2));
    SiteCacheSource source = source(false);
    source.use(new DesiredState.SiteCache("s1", "dev-self", "https://10.0.0.9:7443", true));
    ArtifactsFeature f = feature(source);

    f.want(state(ref(blob)));
    f.pass();

    assertThat(f.blobs().find(digest(blob))).isPresent();
    assertThat(controller.served).isEqualTo(blob.length);
    assertThat(cache.served).isZero();
  }

  @Test
  void anUnreachableCacheFallsBackAtOnceAndIsLeftAloneForAWhile() throws Exception {
    byte[] first = both(bytes(3 * CHUNK, 3));
    byte[] second = both(bytes(2 * CHUNK, 4));
    cache.down = true;
    SiteCacheSource source = source(true);
    ArtifactsFeature f = feature(source);

    f.want(state(ref(first), ref(second)));
    f.pass();

    assertThat(f.blobs().find(digest(first))).isPresent();
    assertThat(f.blobs().find(digest(second))).isPresent();
    assertThat(controller.served).isEqualTo(first.length + second.length);
    // Asked once; the second blob went straight to the controller during the pause.
    assertThat(cache.attempts).isEqualTo(1);
    assertThat(source.stats().fallbacks()).isEqualTo(1);
    assertThat(log.toString()).contains("the site cache dev-c failed for " + digest(first));

    // After the pause the cache is asked again.
    cache.down = false;
    byte[] third = both(bytes(CHUNK, 5));
    clock.advance(SiteCacheSource.PAUSE.plusSeconds(1));
    f.want(state(ref(first), ref(second), ref(third)));
    f.pass();
    assertThat(cache.served).isEqualTo(third.length);
  }

  @Test
  void aCacheCutInTheMiddleLeavesTheRestToTheController() throws Exception {
    byte[] blob = both(bytes(6 * CHUNK, 6));
    cache.cutAt = 2L * CHUNK + 100;
    SiteCacheSource source = source(true);
    ArtifactsFeature f = feature(source);

    f.want(state(ref(blob)));
    f.pass();

    assertThat(Files.readAllBytes(f.blobs().find(digest(blob)).orElseThrow())).isEqualTo(blob);
    // Nothing that arrived from the cache is fetched again.
    assertThat(cache.served).isEqualTo(2L * CHUNK + 100);
    assertThat(controller.served).isEqualTo(blob.length - (2L * CHUNK + 100));
    assertThat(controller.servedFrom).containsExactly(2L * CHUNK + 100);
  }

  @Test
  void aCorruptChunkFromTheCacheIsRefusedAndTheBlobComesFromTheControllerThen() throws Exception {
    byte[] blob = both(bytes(4 * CHUNK, 7));
    // The cache holds a blob whose third chunk is wrong, and keeps serving it.
    cache.blobs.get(digest(blob))[2 * CHUNK + 5] ^= 0x40;
    SiteCacheSource source = source(true);
    ArtifactsFeature f = feature(source);

    f.want(state(ref(blob)));
    f.pass();
    assertThat(f.blobs().find(digest(blob))).isEmpty();
    assertThat(f.stats().mismatches()).isEqualTo(1);
    assertThat(source.stats().mismatches()).isEqualTo(1);

    clock.advance(Duration.ofMinutes(2));
    f.pass();

    assertThat(Files.readAllBytes(f.blobs().find(digest(blob)).orElseThrow())).isEqualTo(blob);
    // The two good chunks from the cache were kept; the rest came from the controller.
    assertThat(controller.servedFrom).containsExactly(2L * CHUNK);
    assertThat(controller.served).isEqualTo(2L * CHUNK);
  }

  @Test
  void aBusyCacheIsAskedAgainWhileItMakesProgressAndLeftWhenItStops() throws Exception {
    byte[] blob = both(bytes(2 * CHUNK, 8));
    cache.busy = new ArrayList<>(List.of(100L, 2000L, 5000L));
    SiteCacheSource source = source(true);
    ArtifactsFeature f = feature(source);
    f.want(state(ref(blob)));
    f.pass();
    assertThat(f.blobs().find(digest(blob))).isPresent();
    assertThat(cache.served).isEqualTo(blob.length);
    assertThat(controller.served).isZero();

    byte[] stuck = both(bytes(2 * CHUNK, 9));
    cache.busy = new ArrayList<>(List.of(10L, 10L, 10L, 10L, 10L, 10L));
    f.want(state(ref(blob), ref(stuck)));
    f.pass();
    assertThat(f.blobs().find(digest(stuck))).isPresent();
    assertThat(controller.served).isEqualTo(stuck.length);
    // One answer with progress, then MAX_IDLE_BUSY without.
    assertThat(cache.busy).hasSize(6 - 1 - SiteCacheSource.MAX_IDLE_BUSY);
  }

  @Test
  void theCachesChunkListIsUsedOnlyWhenTheControllerCannotBeReached() throws Exception {
    byte[] blob = both(bytes(3 * CHUNK, 10));
    controller.down = true;
    SiteCacheSource source = source(true);
    ArtifactsFeature f = feature(source);

    f.want(state(ref(blob)));
    f.pass();

    assertThat(Files.readAllBytes(f.blobs().find(digest(blob)).orElseThrow())).isEqualTo(blob);
    assertThat(cache.chunkLists).isEqualTo(1);
    assertThat(controller.served).isZero();
  }

  private byte[] both(byte[] b) {
    controller.blobs.put(digest(b), b.clone());
    cache.blobs.put(digest(b), b.clone());
    return b;
  }

  private SiteCacheSource source(boolean withCache) {
    SiteCacheSource s =
        new SiteCacheSource(controller, clock, new PrintStream(log, true), Optional::empty);
    if (withCache) {
      s.use(Optional.of(cache));
    }
    return s;
  }

  private ArtifactsFeature feature(ArtifactSource source) {
    ArtifactsFeature f =
        new ArtifactsFeature(
            new BlobCache(dir.resolve("blobs"), 0, p -> Long.MAX_VALUE, p -> false),
            source,
            ArtifactsFeature.Options.defaults()
                .withTick(Duration.ofHours(1))
                .withRetry(Duration.ofMinutes(1), Duration.ofMinutes(1)),
            timer,
            clock,
            new PrintStream(log, true),
            (kind, severity, app, message) -> {},
            () -> {});
    features.add(f);
    return f;
  }

  private static DesiredState state(ArtifactRef... refs) {
    return new DesiredState("d1", 1, NOON, List.of(), List.of(), List.of())
        .withDownloads(List.of(refs), null);
  }

  /** A source in memory that can be down, cut a transfer, or answer busy. */
  static final class Memory implements ArtifactSource {
    final String name;
    final Map<String, byte[]> blobs = new HashMap<>();
    final List<Long> servedFrom = new ArrayList<>();
    final List<String> order = new ArrayList<>();
    volatile boolean down;
    volatile Long cutAt;
    volatile List<Long> busy = new ArrayList<>();
    long served;
    int attempts;
    int chunkLists;

    Memory(String name) {
      this.name = name;
    }

    @Override
    public String name() {
      return name;
    }

    List<String> order() {
      return order;
    }

    @Override
    public ArtifactChunks chunks(String digest) throws IOException {
      if (down) {
        throw new ConnectException("Connection refused");
      }
      chunkLists++;
      byte[] b = blobs.get(digest);
      if (b == null) {
        throw new IOException("HTTP 404");
      }
      return Blobs4Test.chunks(b, CHUNK);
    }

    @Override
    public long range(String digest, long from, long end, Receiver receiver) throws IOException {
      attempts++;
      if (down) {
        throw new ConnectException("Connection refused");
      }
      if (!busy.isEmpty()) {
        long verified = busy.removeFirst();
        throw new SiteCacheClient.Busy("HTTP 503: fetching", verified);
      }
      servedFrom.add(from);
      byte[] b = blobs.get(digest);
      long at = from;
      while (at < end) {
        Long cut = cutAt;
        if (cut != null && at >= cut) {
          cutAt = null;
          throw new IOException("connection reset");
        }
        int n = (int) Math.min(1000, end - at);
        if (cut != null) {
          n = (int) Math.min(n, cut - at);
        }
        receiver.take(ByteBuffer.wrap(b, (int) at, n).slice());
        at += n;
        served += n;
      }
      return at - from;
    }
  }
}
