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
  DirectoryBlobStore store;

  @org.junit.jupiter.api.BeforeEach
  void store() {
    store = new DirectoryBlobStore(dir.resolve("store"));
  }

  @Test
  void chunksAreTheDigestsOfEachSliceAndTheLastMayBeShorter() throws Exception {
    byte[] bytes = bytes(10_000);
    String d = store(bytes);
    ChunkIndex index = new ChunkIndex(4096);

    ArtifactChunks c = index.chunks(store, d, bytes.length);

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
    String d = store(bytes);
    ChunkIndex index = new ChunkIndex(4096);
    ArtifactChunks first = index.chunks(store, d, bytes.length);
    Path blob = store.path(d);
    assertThat(blob.resolveSibling(blob.getFileName() + ".chunks")).isRegularFile();

    // Later answers come from the index, not from the bytes: a blob damaged on disk (same length)
    // still answers the digests it was pushed with, so devices detect the damage.
    byte[] damaged = bytes.clone();
    damaged[5000] ^= 1;
    Files.write(blob, damaged);
    assertThat(index.chunks(store, d, bytes.length)).isEqualTo(first);
  }

  @Test
  void anIndexOfAnotherChunkSizeOrSizeIsComputedAgain() throws Exception {
    byte[] bytes = bytes(9000);
    String d = store(bytes);
    new ChunkIndex(4096).chunks(store, d, bytes.length);

    ArtifactChunks bigger = new ChunkIndex(8192).chunks(store, d, bytes.length);
    assertThat(bigger.chunks()).hasSize(2);

    store.putSide(d, "chunks", "{not json".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    assertThat(new ChunkIndex(8192).chunks(store, d, bytes.length)).isEqualTo(bigger);
  }

  @Test
  void aBlobShorterThanItsSizeIsAnErrorNotAShortIndex() throws Exception {
    byte[] bytes = bytes(9000);
    String d = store(bytes);
    assertThatThrownBy(() -> new ChunkIndex(4096).chunks(store, d, 9001))
        .isInstanceOf(java.io.IOException.class);
    assertThat(store.side(d, "chunks")).isEmpty();
  }

  @Test
  void anEmptyBlobHasNoChunks() throws Exception {
    String d = store(new byte[0]);
    assertThat(new ChunkIndex(4096).chunks(store, d, 0).chunks()).isEmpty();
  }

  @Test
  void theChunkSizeIsAPowerOfTwoInBounds() {
    assertThatThrownBy(() -> new ChunkIndex(5000)).hasMessageContaining("power of two");
    assertThatThrownBy(() -> new ChunkIndex(1024)).hasMessageContaining("power of two");
    assertThatThrownBy(() -> new ChunkIndex(1 << 27)).hasMessageContaining("power of two");
  }

  @Test
  void deletingABlobDeletesItsIndex() throws Exception {
    byte[] bytes = bytes(5000);
    String d = store(bytes);
    new ChunkIndex(4096).chunks(store, d, bytes.length);
    Path blob = store.path(d);
    store.delete(d);
    try (var left = Files.list(blob.getParent())) {
      assertThat(left).isEmpty();
    }
  }

  private String store(byte[] bytes) throws Exception {
    BlobStore.Written w = store.write(new java.io.ByteArrayInputStream(bytes), 1 << 20);
    store.commit(w);
    return w.digest();
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
