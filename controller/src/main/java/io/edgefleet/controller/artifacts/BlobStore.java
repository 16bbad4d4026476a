package io.edgefleet.controller.artifacts;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * Content-addressed bytes on disk: {@code <root>/sha256/<hex>}. A blob is written to a temporary
 * file while it streams in (bounded), synced, and renamed into place only after its digest is
 * known, so a reader never sees a partial blob. Thread-safe: blobs are immutable and a rename is
 * atomic.
 */
public final class BlobStore {
  static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");
  private static final int CHUNK = 64 * 1024;

  private final Path root;

  /** A blob written to a temporary file, not yet in place. */
  public record Written(Path temp, String digest, long size) {}

  public BlobStore(Path root) {
    this.root = root;
    try {
      Files.createDirectories(root.resolve("sha256"));
      Files.createDirectories(root.resolve("tmp"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the artifact directory " + root, e);
    }
  }

  /** Whether {@code digest} is a well-formed {@code sha256:<64 lowercase hex>}. */
  public static boolean wellFormed(String digest) {
    return digest != null && DIGEST.matcher(digest).matches();
  }

  /**
   * Streams {@code in} into a temporary file, at most {@code max} bytes.
   *
   * @throws ControllerException {@code ARTIFACT_TOO_LARGE} when the stream holds more
   */
  public Written write(InputStream in, long max) throws IOException {
    Path temp = Files.createTempFile(root.resolve("tmp"), "upload-", ".part");
    MessageDigest sha = sha256();
    long size = 0;
    boolean ok = false;
    try (DigestInputStream digesting = new DigestInputStream(in, sha);
        FileChannel out =
            FileChannel.open(
                temp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
      byte[] buffer = new byte[CHUNK];
      int n;
      while ((n = digesting.read(buffer)) > 0) {
        size += n;
        if (size > max) {
          throw new ControllerException(
              ErrorCode.ARTIFACT_TOO_LARGE,
              "the artifact is larger than "
                  + max
                  + " bytes, the most this controller takes (--max-artifact-bytes)");
        }
        out.write(java.nio.ByteBuffer.wrap(buffer, 0, n));
      }
      out.force(true);
      ok = true;
    } finally {
      if (!ok) {
        Files.deleteIfExists(temp);
      }
    }
    return new Written(temp, "sha256:" + HexFormat.of().formatHex(sha.digest()), size);
  }

  /** Moves a written blob into place under its digest (a blob already there stays). */
  public void commit(Written written) throws IOException {
    Path target = path(written.digest());
    if (Files.exists(target)) {
      Files.deleteIfExists(written.temp());
      return;
    }
    try {
      Files.move(written.temp(), target, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(written.temp(), target, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** Drops a written blob that is not wanted. */
  public void discard(Written written) {
    try {
      Files.deleteIfExists(written.temp());
    } catch (IOException e) {
      // A leftover temporary file is harmless; the next start does not read tmp/.
    }
  }

  /** Where the blob of {@code digest} lives (it may not exist). */
  public Path path(String digest) {
    if (!wellFormed(digest)) {
      throw new IllegalArgumentException("not a sha256 digest: " + digest);
    }
    return root.resolve("sha256").resolve(digest.substring("sha256:".length()));
  }

  public boolean exists(String digest) {
    return wellFormed(digest) && Files.isRegularFile(path(digest));
  }

  /** Deletes a blob and the chunk index kept beside it. */
  public void delete(String digest) throws IOException {
    Path blob = path(digest);
    Files.deleteIfExists(blob);
    Files.deleteIfExists(ChunkIndex.indexOf(blob));
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
