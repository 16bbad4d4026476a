package io.edgefleet.controller.artifacts;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The local directory where incoming blobs are streamed before a {@link BlobStore} keeps them: each
 * upload goes to its own temporary file, bounded, synced, with its SHA-256 computed on the way.
 * Files left behind by a crash are removed at start.
 */
public final class BlobStaging {
  private static final int BUFFER = 64 * 1024;

  private final Path dir;

  public BlobStaging(Path dir) {
    this.dir = dir;
    try {
      Files.createDirectories(dir);
      try (var leftovers = Files.list(dir)) {
        for (Path p : leftovers.toList()) {
          if (p.getFileName().toString().startsWith("upload-")) {
            Files.deleteIfExists(p);
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot prepare the artifact staging directory " + dir, e);
    }
  }

  /** The staging directory (for a store that moves staged files within the same file system). */
  public Path dir() {
    return dir;
  }

  /** See {@link BlobStore#write}. */
  public BlobStore.Written write(InputStream in, long max) throws IOException {
    Path temp = Files.createTempFile(dir, "upload-", ".part");
    MessageDigest sha = sha256();
    long size = 0;
    boolean ok = false;
    try (DigestInputStream digesting = new DigestInputStream(in, sha);
        FileChannel out =
            FileChannel.open(
                temp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
      byte[] buffer = new byte[BUFFER];
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
        out.write(ByteBuffer.wrap(buffer, 0, n));
      }
      out.force(true);
      ok = true;
    } finally {
      if (!ok) {
        Files.deleteIfExists(temp);
      }
    }
    return new BlobStore.Written(temp, "sha256:" + HexFormat.of().formatHex(sha.digest()), size);
  }

  /** Deletes a staged file; a leftover is harmless (removed at the next start). */
  public void discard(BlobStore.Written written) {
    try {
      Files.deleteIfExists(written.temp());
    } catch (IOException e) {
      // Removed at the next start.
    }
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
