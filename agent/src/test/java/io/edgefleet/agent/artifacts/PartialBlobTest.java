package io.edgefleet.agent.artifacts;

import static io.edgefleet.agent.artifacts.Blobs4Test.bytes;
import static io.edgefleet.agent.artifacts.Blobs4Test.chunks;
import static io.edgefleet.agent.artifacts.Blobs4Test.digest;
import static io.edgefleet.agent.artifacts.Blobs4Test.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.protocol.ArtifactChunks;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PartialBlobTest {
  private static final int CHUNK = 4096;

  @TempDir Path dir;

  @Test
  void eachCompletedChunkIsVerifiedAndRecorded() throws Exception {
    byte[] b = bytes(10_000, 1);
    BlobCache cache = cache();
    try (PartialBlob p = cache.partial(chunks(b, CHUNK))) {
      p.take(slice(b, 0, 3000));
      assertThat(p.verified()).isZero();
      assertThat(p.position()).isEqualTo(3000);
      // One buffer across a chunk boundary: the first chunk completes inside it.
      p.take(slice(b, 3000, 5000));
      assertThat(p.verified()).isEqualTo(CHUNK);
      assertThat(cache.verified(digest(b))).isEqualTo(CHUNK);
      p.take(slice(b, 5000, 10_000));
      assertThat(p.complete()).isTrue();
      cache.commit(p);
    }
    Path blob = cache.find(digest(b)).orElseThrow();
    assertThat(Files.readAllBytes(blob)).isEqualTo(b);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(blob)))
        .isEqualTo("r--------");
    try (var left = Files.list(dir.resolve("blobs/partial"))) {
      assertThat(left).isEmpty();
    }
  }

  @Test
  void aChunkThatDoesNotMatchIsDroppedAndTakenAgain() throws Exception {
    byte[] b = bytes(10_000, 2);
    byte[] bad = b.clone();
    bad[5000] ^= 0x40;
    BlobCache cache = cache();
    try (PartialBlob p = cache.partial(chunks(b, CHUNK))) {
      p.take(slice(bad, 0, 4500));
      assertThatThrownBy(() -> p.take(slice(bad, 4500, 10_000)))
          .isInstanceOf(PartialBlob.ChunkMismatch.class)
          .hasMessageContaining("chunk 2 of 3")
          .hasMessageContaining("fetched again");
      // Back at the start of the bad chunk; the first chunk stays.
      assertThat(p.verified()).isEqualTo(CHUNK);
      assertThat(p.position()).isEqualTo(CHUNK);
      assertThat(Files.size(p.data())).isEqualTo(CHUNK);
      p.take(slice(b, CHUNK, 10_000));
      cache.commit(p);
    }
    assertThat(Files.readAllBytes(cache.find(digest(b)).orElseThrow())).isEqualTo(b);
  }

  @Test
  void afterACrashTheDownloadGoesOnAtTheFirstUnverifiedByte() throws Exception {
    byte[] b = bytes(3 * CHUNK + 100, 3);
    ArtifactChunks c = chunks(b, CHUNK);
    PartialBlob first = cache().partial(c);
    first.take(slice(b, 0, 2 * CHUNK + 1000));
    // The process dies here (nothing is closed or flushed beyond what take() did); a new run
    // opens the cache afresh.
    BlobCache again = cache();
    assertThat(again.verified(digest(b))).isEqualTo(2 * CHUNK);
    try (PartialBlob p = again.partial(c)) {
      assertThat(p.position()).isEqualTo(2 * CHUNK);
      assertThat(Files.size(p.data())).isEqualTo(2 * CHUNK);
      p.take(slice(b, 2 * CHUNK, b.length));
      again.commit(p);
    }
    first.close();
    assertThat(Files.readAllBytes(again.find(digest(b)).orElseThrow())).isEqualTo(b);
  }

  @Test
  void garbageAfterTheVerifiedBytesIsCutOff() throws Exception {
    byte[] b = bytes(2 * CHUNK, 4);
    ArtifactChunks c = chunks(b, CHUNK);
    try (PartialBlob p = cache().partial(c)) {
      p.take(slice(b, 0, CHUNK));
    }
    // A crash left half-written junk behind the verified chunk.
    Path data = dir.resolve("blobs/partial").resolve(digest(b).substring(7));
    Files.write(data, new byte[100], java.nio.file.StandardOpenOption.APPEND);
    BlobCache cache = cache();
    try (PartialBlob p = cache.partial(c)) {
      assertThat(p.position()).isEqualTo(CHUNK);
      p.take(slice(b, CHUNK, 2 * CHUNK));
      cache.commit(p);
    }
    assertThat(Files.readAllBytes(cache.find(digest(b)).orElseThrow())).isEqualTo(b);
  }

  @Test
  void anotherChunkListStartsOver() throws Exception {
    byte[] b = bytes(3 * CHUNK, 5);
    try (PartialBlob p = cache().partial(chunks(b, CHUNK))) {
      p.take(slice(b, 0, 2 * CHUNK));
    }
    try (PartialBlob p = cache().partial(chunks(b, 2 * CHUNK))) {
      assertThat(p.position()).isZero();
    }
  }

  @Test
  void aBlobWhoseChunksMatchButNotItsDigestIsDiscarded() throws Exception {
    byte[] b = bytes(2 * CHUNK, 6);
    byte[] other = bytes(2 * CHUNK, 7);
    // A chunk list that lies about the whole digest.
    ArtifactChunks lying =
        new ArtifactChunks(digest(b), other.length, CHUNK, chunks(other, CHUNK).chunks());
    BlobCache cache = cache();
    PartialBlob p = cache.partial(lying);
    p.take(slice(other, 0, other.length));
    assertThatThrownBy(() -> cache.commit(p))
        .isInstanceOf(BlobCache.BlobMismatch.class)
        .hasMessageContaining("starts over");
    assertThat(cache.find(digest(b))).isEmpty();
    assertThat(cache.verified(digest(b))).isZero();
  }

  @Test
  void moreBytesThanTheBlobHoldsAreRefused() throws Exception {
    byte[] b = bytes(100, 8);
    try (PartialBlob p = cache().partial(chunks(b, CHUNK))) {
      p.take(slice(b, 0, 100));
      assertThatThrownBy(() -> p.take(slice(b, 0, 1))).hasMessageContaining("more bytes");
    }
  }

  private BlobCache cache() {
    return new BlobCache(dir.resolve("blobs"), 0, p -> Long.MAX_VALUE, p -> false);
  }
}
