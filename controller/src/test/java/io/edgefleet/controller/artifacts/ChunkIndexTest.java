package io.edgefleet.controller.artifacts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.protocol.ArtifactChunks;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChunkIndexTest {
  @TempDir Path dir;

  @Test
  void chunksAreTheDigestsOfEachSliceAndTheLastMayBeShorter() throws Exception {
    byte[] bytes = bytes(10_000);
    Path blob = store(bytes);
    ChunkIndex index = new ChunkIndex(4096);

    ArtifactChunks c = index.chunks(digest(bytes), blob);

    assertThat(c.size()).isEqualTo(10_000);
    assertThat(c.chunkSize()).isEqualTo(4096);
    assertThat(c.chunks())
        .containsExactly(
            digest(Arrays.copyOfRange(bytes, 0, 4096)),
            digest(Arrays.copyOfRange(bytes, 4096, 8192)),
            digest(Arrays.copyOfRange(bytes, 8192, 10_000)));
  }

  @Test
  void theIndexIsComputedOnceAndKeptBesideTheBlob() throws Exception {
    byte[] bytes = bytes(9000);
    Path blob = store(bytes);
    ChunkIndex index = new ChunkIndex(4096);
    ArtifactChunks first = index.chunks(digest(bytes), blob);
    Path kept = blob.resolveSibling(blob.getFileName() + ".chunks");
    assertThat(kept).isRegularFile();

    // Later answers come from the index, not from the bytes: a blob damaged on disk (same length)
    // still answers the digests it was pushed with, so devices detect the damage.
    byte[] damaged = bytes.clone();
    damaged[5000] ^= 1;
    Files.write(blob, damaged);
    assertThat(index.chunks(digest(bytes), blob)).isEqualTo(first);
  }

  @Test
  void anIndexOfAnotherChunkSizeOrSizeIsComputedAgain() throws Exception {
    byte[] bytes = bytes(9000);
    Path blob = store(bytes);
    new ChunkIndex(4096).chunks(digest(bytes), blob);

    ArtifactChunks bigger = new ChunkIndex(8192).chunks(digest(bytes), blob);
    assertThat(bigger.chunks()).hasSize(2);

    Files.writeString(blob.resolveSibling(blob.getFileName() + ".chunks"), "{not json");
    assertThat(new ChunkIndex(8192).chunks(digest(bytes), blob)).isEqualTo(bigger);
  }

  @Test
  void anEmptyBlobHasNoChunks() throws Exception {
    Path blob = store(new byte[0]);
    assertThat(new ChunkIndex(4096).chunks(digest(new byte[0]), blob).chunks()).isEmpty();
  }

  @Test
  void theChunkSizeIsAPowerOfTwoInBounds() {
    assertThatThrownBy(() -> new ChunkIndex(5000)).hasMessageContaining("power of two");
    assertThatThrownBy(() -> new ChunkIndex(1024)).hasMessageContaining("power of two");
    assertThatThrownBy(() -> new ChunkIndex(1 << 27)).hasMessageContaining("power of two");
  }

  @Test
  void deletingABlobDeletesItsIndex() throws Exception {
    BlobStore store = new BlobStore(dir.resolve("store"));
    byte[] bytes = bytes(5000);
    BlobStore.Written w = store.write(new java.io.ByteArrayInputStream(bytes), 1 << 20);
    store.commit(w);
    Path blob = store.path(w.digest());
    new ChunkIndex(4096).chunks(w.digest(), blob);
    store.delete(w.digest());
    try (var left = Files.list(blob.getParent())) {
      assertThat(left).isEmpty();
    }
  }

  private Path store(byte[] bytes) throws Exception {
    Path blob = dir.resolve(digest(bytes).substring(7));
    Files.write(blob, bytes);
    return blob;
  }

  static byte[] bytes(int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) (i * 31 + i / 251);
    }
    return b;
  }

  static String digest(byte[] b) throws Exception {
    return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }
}
