package io.edgefleet.agent.artifacts;

import static io.edgefleet.agent.artifacts.Blobs4Test.bytes;
import static io.edgefleet.agent.artifacts.Blobs4Test.chunks;
import static io.edgefleet.agent.artifacts.Blobs4Test.digest;
import static io.edgefleet.agent.artifacts.Blobs4Test.slice;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BlobCacheTest {
  @TempDir Path dir;

  @Test
  void unnamedBlobsGoAfterTheGracePeriodButNotWhileOpen() throws Exception {
    Set<Path> open = new HashSet<>();
    BlobCache cache = new BlobCache(dir.resolve("blobs"), 0, p -> Long.MAX_VALUE, open::contains);
    byte[] a = bytes(5000, 1);
    byte[] b = bytes(6000, 2);
    byte[] c = bytes(9000, 3);
    put(cache, a);
    put(cache, b);
    // A partial download of c.
    try (PartialBlob p = cache.partial(chunks(c, 4096))) {
      p.take(slice(c, 0, 4096));
    }
    Instant t0 = Instant.parse("2026-05-01T00:00:00Z");
    Duration grace = Duration.ofMinutes(10);

    assertThat(cache.collect(Set.of(digest(a)), t0, grace)).isEmpty();
    open.add(cache.find(digest(b)).orElseThrow());
    assertThat(cache.collect(Set.of(digest(a)), t0.plus(Duration.ofMinutes(9)), grace)).isEmpty();
    // Past the grace: c's partial goes, b stays while a process holds it open.
    assertThat(cache.collect(Set.of(digest(a)), t0.plus(grace), grace)).containsExactly(digest(c));
    assertThat(cache.verified(digest(c))).isZero();
    assertThat(cache.find(digest(b))).isPresent();
    open.clear();
    assertThat(cache.collect(Set.of(digest(a)), t0.plus(grace), grace)).containsExactly(digest(b));
    assertThat(cache.held()).containsExactly(digest(a));
  }

  @Test
  void aBlobNamedAgainWithinTheGraceStaysAndItsClockStartsOver() throws Exception {
    BlobCache cache = new BlobCache(dir.resolve("blobs"), 0, p -> Long.MAX_VALUE, p -> false);
    byte[] a = bytes(5000, 4);
    put(cache, a);
    Instant t0 = Instant.parse("2026-05-01T00:00:00Z");
    Duration grace = Duration.ofMinutes(10);
    cache.collect(Set.of(), t0, grace);
    cache.collect(Set.of(digest(a)), t0.plus(Duration.ofMinutes(5)), grace);
    assertThat(cache.collect(Set.of(), t0.plus(Duration.ofMinutes(11)), grace)).isEmpty();
    assertThat(cache.collect(Set.of(), t0.plus(Duration.ofMinutes(21)), grace))
        .containsExactly(digest(a));
  }

  @Test
  void theReserveOfFreeSpaceIsKept() {
    BlobCache cache = new BlobCache(dir.resolve("blobs"), 1000, p -> 5000, p -> false);
    assertThat(cache.room(4000)).isEmpty();
    assertThat(cache.room(4001).orElseThrow())
        .contains("too full")
        .contains("4001 bytes are still to download")
        .contains("1000 stay free");
  }

  @Test
  void findAnswersOnlyWellFormedDigestsOfVerifiedBlobs() throws Exception {
    BlobCache cache = new BlobCache(dir.resolve("blobs"), 0, p -> Long.MAX_VALUE, p -> false);
    byte[] a = bytes(100, 5);
    assertThat(cache.find(digest(a))).isEmpty();
    assertThat(cache.find("sha256:../../etc/passwd")).isEmpty();
    put(cache, a);
    assertThat(cache.find(digest(a))).isPresent();
    assertThat(cache.holds(digest(a), 100)).isTrue();
    assertThat(cache.holds(digest(a), 101)).isFalse();
  }

  static void put(BlobCache cache, byte[] b) throws Exception {
    PartialBlob p = cache.partial(chunks(b, 4096));
    p.take(slice(b, 0, b.length));
    cache.commit(p);
  }
}
