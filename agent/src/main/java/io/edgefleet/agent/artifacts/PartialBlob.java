package io.edgefleet.agent.artifacts;

import io.edgefleet.protocol.ArtifactChunks;
import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.json.JsonCodec;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import java.util.Set;

/**
 * One download in progress, on disk under {@code partial/}: {@code <hex>} holds the bytes, {@code
 * <hex>.chunks} the chunk list they are checked against and {@code <hex>.verified} how many leading
 * bytes were checked (a whole number of chunks). Bytes are written where they belong as they arrive
 * and hashed on the way; each completed chunk is compared with its digest: a match is synced and
 * recorded, a mismatch is cut off the file again and reported ({@link ChunkMismatch}), so that only
 * that chunk is fetched again.
 *
 * <p>After a crash (kill -9, power loss) the download goes on at the first unverified byte: {@link
 * #open} cuts the file back to the recorded length, whatever the crash left after it. A running
 * digest of the whole blob goes along; on a resume it is primed by reading the verified part once.
 * Not thread-safe: one download has one writer.
 */
final class PartialBlob implements AutoCloseable {

  /** A chunk did not match its digest; its bytes were dropped. */
  static final class ChunkMismatch extends IOException {
    private final int chunk;

    ChunkMismatch(int chunk, String message) {
      super(message);
      this.chunk = chunk;
    }

    /** The chunk's index. */
    int chunk() {
      return chunk;
    }
  }

  private final Path data;
  private final Path verifiedFile;
  private final ArtifactChunks chunks;
  private final FileChannel channel;
  private final MessageDigest chunkSha = sha256();
  private MessageDigest wholeAtVerified = sha256();
  private MessageDigest whole;
  private volatile long verified;
  private long position;

  private PartialBlob(
      Path data, Path verifiedFile, ArtifactChunks chunks, FileChannel channel, long verified)
      throws IOException {
    this.data = data;
    this.verifiedFile = verifiedFile;
    this.chunks = chunks;
    this.channel = channel;
    this.verified = verified;
    this.position = verified;
    if (verified > 0) {
      byte[] buffer = new byte[64 * 1024];
      try (InputStream in = Files.newInputStream(data)) {
        long left = verified;
        while (left > 0) {
          int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
          if (n < 0) {
            throw new IOException("the partial download " + data + " is shorter than recorded");
          }
          wholeAtVerified.update(buffer, 0, n);
          left -= n;
        }
      }
    }
    this.whole = copy(wholeAtVerified);
  }

  /**
   * Opens the download of {@code chunks.digest()} in {@code dir}, going on from what an earlier run
   * verified when it was checked against the same chunk list, else from the start.
   */
  static PartialBlob open(Path dir, ArtifactChunks chunks) throws IOException {
    SecureFiles.createPrivateDirectories(dir);
    String hex = hex(chunks.digest());
    Path data = dir.resolve(hex);
    Path list = dir.resolve(hex + ".chunks");
    Path verifiedFile = dir.resolve(hex + ".verified");
    long verified = 0;
    if (storedChunks(dir, chunks.digest()).filter(chunks::equals).isPresent()) {
      verified = recorded(verifiedFile, chunks);
    } else {
      SecureFiles.writeSecret(list, JsonCodec.writeBytes(chunks));
      SecureFiles.writeSecret(verifiedFile, "0");
    }
    FileChannel channel =
        FileChannel.open(
            data,
            Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ),
            SecureFiles.ownerOnlyFile());
    try {
      if (channel.size() < verified) {
        // The bytes are shorter than recorded (a file system that lost them): start over.
        verified = 0;
        SecureFiles.writeSecret(verifiedFile, "0");
      }
      // Whatever follows the verified bytes was never checked: it is fetched again.
      channel.truncate(verified);
      return new PartialBlob(data, verifiedFile, chunks, channel, verified);
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  /** The chunk list an earlier run kept for {@code digest}, if any and readable. */
  static Optional<ArtifactChunks> storedChunks(Path dir, String digest) {
    Path list = dir.resolve(hex(digest) + ".chunks");
    try {
      if (!Files.isRegularFile(list)) {
        return Optional.empty();
      }
      ArtifactChunks c = JsonCodec.read(Files.readAllBytes(list), ArtifactChunks.class);
      return digest.equals(c.digest()) ? Optional.of(c) : Optional.empty();
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /** How many bytes of {@code digest}'s download in {@code dir} are verified (0 if none). */
  static long verifiedOf(Path dir, String digest) {
    return storedChunks(dir, digest)
        .map(c -> recorded(dir.resolve(hex(digest) + ".verified"), c))
        .orElse(0L);
  }

  /** Deletes the download of {@code digest} in {@code dir}: its bytes and records. */
  static void delete(Path dir, String digest) throws IOException {
    String hex = hex(digest);
    for (String name : new String[] {hex, hex + ".chunks", hex + ".verified"}) {
      Files.deleteIfExists(dir.resolve(name));
    }
  }

  private static long recorded(Path verifiedFile, ArtifactChunks chunks) {
    try {
      long v = Long.parseLong(Files.readString(verifiedFile, StandardCharsets.US_ASCII).trim());
      // Only a whole number of chunks (or the whole blob) is ever recorded.
      if (v < 0 || v > chunks.size() || (v % chunks.chunkSize() != 0 && v != chunks.size())) {
        return 0;
      }
      return v;
    } catch (IOException | NumberFormatException e) {
      return 0;
    }
  }

  ArtifactChunks chunks() {
    return chunks;
  }

  /** The bytes checked against their chunk digests. */
  long verified() {
    return verified;
  }

  /** The next byte wanted: the verified bytes and those of the chunk under way. */
  long position() {
    return position;
  }

  /** Whether every byte arrived and was verified. */
  boolean complete() {
    return verified == chunks.size();
  }

  /** The file holding the bytes. */
  Path data() {
    return data;
  }

  /**
   * Takes the bytes that follow {@link #position()}.
   *
   * @throws ChunkMismatch when a chunk completed with the wrong digest: its bytes are gone, and
   *     {@link #position()} is back at its start
   * @throws IOException when more bytes arrive than the blob holds, or the disk fails
   */
  void take(ByteBuffer bytes) throws IOException {
    while (bytes.hasRemaining()) {
      int chunk = (int) (position / chunks.chunkSize());
      if (position >= chunks.size()) {
        throw new IOException(
            "more bytes arrived than the " + chunks.size() + " of " + chunks.digest());
      }
      long chunkEnd = Math.min(chunks.size(), (long) (chunk + 1) * chunks.chunkSize());
      int n = (int) Math.min(bytes.remaining(), chunkEnd - position);
      ByteBuffer slice = bytes.slice(bytes.position(), n);
      bytes.position(bytes.position() + n);
      chunkSha.update(slice.duplicate());
      whole.update(slice.duplicate());
      long at = position;
      while (slice.hasRemaining()) {
        at += channel.write(slice, at);
      }
      position += n;
      if (position == chunkEnd) {
        String got = "sha256:" + HexFormat.of().formatHex(chunkSha.digest());
        if (!got.equals(chunks.chunks().get(chunk))) {
          drop();
          throw new ChunkMismatch(
              chunk,
              "chunk "
                  + (chunk + 1)
                  + " of "
                  + chunks.chunks().size()
                  + " of "
                  + chunks.digest()
                  + " (bytes "
                  + verified
                  + "-"
                  + (chunkEnd - 1)
                  + ") arrived with digest "
                  + got
                  + ", not "
                  + chunks.chunks().get(chunk)
                  + "; it was dropped and is fetched again");
        }
        channel.force(false);
        verified = position;
        wholeAtVerified = copy(whole);
        SecureFiles.writeSecret(verifiedFile, Long.toString(verified));
      }
    }
  }

  /** Drops the bytes after the verified ones (a bad chunk, or one cut short that is not wanted). */
  private void drop() throws IOException {
    channel.truncate(verified);
    position = verified;
    chunkSha.reset();
    whole = copy(wholeAtVerified);
  }

  /** The digest of every byte taken, once {@link #complete()}. */
  String wholeDigest() {
    if (!complete()) {
      throw new IllegalStateException("the download of " + chunks.digest() + " is not complete");
    }
    return "sha256:" + HexFormat.of().formatHex(copy(whole).digest());
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }

  static String hex(String digest) {
    return digest.substring("sha256:".length());
  }

  private static MessageDigest copy(MessageDigest d) {
    try {
      return (MessageDigest) d.clone();
    } catch (CloneNotSupportedException e) {
      throw new IllegalStateException("SHA-256 digests of this JDK cannot be copied", e);
    }
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
