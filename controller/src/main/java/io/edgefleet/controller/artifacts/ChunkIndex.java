package io.edgefleet.controller.artifacts;

import io.edgefleet.protocol.ArtifactChunks;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * The chunk digests of the blobs in a {@link BlobStore}, computed once per blob and kept beside it
 * as its side file {@code chunks} (JSON {@link ArtifactChunks}), so a request never hashes a blob:
 * it reads the small index. The first request for a blob streams it once through SHA-256 (never
 * more than one read buffer in memory, so a disk image of several GB costs no heap); computations
 * run one at a time, so many devices asking for new blobs at once cost one core, not all of them.
 *
 * <p>An index whose chunk size differs from this one's, or whose size no longer matches the blob,
 * is computed again. Thread-safe.
 */
public final class ChunkIndex {
  /** The default chunk size: 1 MiB. */
  public static final int DEFAULT_CHUNK_BYTES = 1 << 20;

  /** The smallest chunk size taken: 4 KiB (smaller chunks cost more in digests than they save). */
  public static final int MIN_CHUNK_BYTES = 1 << 12;

  /** The largest chunk size taken: 64 MiB. */
  public static final int MAX_CHUNK_BYTES = 1 << 26;

  private static final String SIDE = "chunks";
  private static final int BUFFER = 64 * 1024;

  private final int chunkBytes;
  private final Object computing = new Object();

  /**
   * @param chunkBytes a power of two between {@link #MIN_CHUNK_BYTES} and {@link #MAX_CHUNK_BYTES}
   */
  public ChunkIndex(int chunkBytes) {
    if (Integer.bitCount(chunkBytes) != 1
        || chunkBytes < MIN_CHUNK_BYTES
        || chunkBytes > MAX_CHUNK_BYTES) {
      throw new IllegalArgumentException(
          "the artifact chunk size must be a power of two from "
              + MIN_CHUNK_BYTES
              + " to "
              + MAX_CHUNK_BYTES
              + " bytes, got "
              + chunkBytes);
    }
    this.chunkBytes = chunkBytes;
  }

  public int chunkBytes() {
    return chunkBytes;
  }

  /**
   * The chunks of the blob {@code digest} of {@code size} bytes in {@code store}: read from its
   * index, or computed and kept when there is none (or a stale one).
   *
   * @throws IOException if the blob cannot be read
   */
  public ArtifactChunks chunks(BlobStore store, String digest, long size) throws IOException {
    Optional<ArtifactChunks> kept = read(store, digest, size);
    if (kept.isPresent()) {
      return kept.get();
    }
    synchronized (computing) {
      // Another request may have computed it while this one waited.
      kept = read(store, digest, size);
      if (kept.isPresent()) {
        return kept.get();
      }
      ArtifactChunks computed = compute(store, digest, size);
      store.putSide(digest, SIDE, Json.mapper().writeValueAsBytes(computed));
      return computed;
    }
  }

  private Optional<ArtifactChunks> read(BlobStore store, String digest, long size)
      throws IOException {
    Optional<byte[]> index = store.side(digest, SIDE);
    if (index.isEmpty()) {
      return Optional.empty();
    }
    try {
      ArtifactChunks c = Json.mapper().readValue(index.get(), ArtifactChunks.class);
      if (c.digest().equals(digest) && c.size() == size && c.chunkSize() == chunkBytes) {
        return Optional.of(c);
      }
    } catch (IOException | IllegalArgumentException e) {
      // A damaged or foreign index is computed again below.
    }
    return Optional.empty();
  }

  private ArtifactChunks compute(BlobStore store, String digest, long size) throws IOException {
    List<String> chunks = new ArrayList<>((int) Math.min(1 << 20, size / chunkBytes + 1));
    MessageDigest sha = BlobStaging.sha256();
    byte[] buffer = new byte[BUFFER];
    long inChunk = 0;
    long total = 0;
    try (InputStream in = store.open(digest, 0, size)) {
      int n;
      while ((n = in.read(buffer, 0, (int) Math.min(buffer.length, chunkBytes - inChunk))) > 0) {
        sha.update(buffer, 0, n);
        inChunk += n;
        total += n;
        if (inChunk == chunkBytes) {
          chunks.add(hex(sha));
          inChunk = 0;
        }
      }
    }
    if (inChunk > 0) {
      chunks.add(hex(sha));
    }
    if (total != size) {
      throw new IOException("the blob " + digest + " changed while its chunks were computed");
    }
    return new ArtifactChunks(digest, size, chunkBytes, chunks);
  }

  private static String hex(MessageDigest sha) {
    return "sha256:" + HexFormat.of().formatHex(sha.digest());
  }
}
