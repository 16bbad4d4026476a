package io.edgefleet.protocol;

import java.util.List;

/**
 * An artifact cut into fixed-size chunks, each with its own digest: a device verifies every chunk
 * as it arrives, so a corrupted chunk is fetched again alone and a cut download resumes at the
 * first byte it has not verified. The last chunk may be shorter.
 *
 * @param digest {@code sha256:<hex>} of the whole artifact
 * @param size the artifact's length in bytes
 * @param chunkSize the length of every chunk but the last, a power of two
 * @param chunks {@code sha256:<hex>} of each chunk in order; {@code ceil(size / chunkSize)} of them
 */
public record ArtifactChunks(String digest, long size, int chunkSize, List<String> chunks) {
  public ArtifactChunks {
    chunks = chunks == null ? List.of() : List.copyOf(chunks);
    if (size < 0 || chunkSize <= 0 || Integer.bitCount(chunkSize) != 1) {
      throw new IllegalArgumentException("size must be 0 or more and chunkSize a power of two");
    }
    if (chunks.size() != (size + chunkSize - 1) / chunkSize) {
      throw new IllegalArgumentException(
          "an artifact of "
              + size
              + " bytes in chunks of "
              + chunkSize
              + " has "
              + (size + chunkSize - 1) / chunkSize
              + " chunks, not "
              + chunks.size());
    }
  }
}
