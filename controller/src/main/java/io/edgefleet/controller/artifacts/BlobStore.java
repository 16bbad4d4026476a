package io.edgefleet.controller.artifacts;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Where the controller keeps content-addressed bytes: artifacts (K3s binaries, agent releases,
 * mirrored images, VM disks) under their {@code sha256:<hex>} digest, and small side files kept
 * beside a blob (its chunk index). Blobs are immutable: one is written once and read many times, in
 * ranges.
 *
 * <p>Bytes arrive through {@link #write}, which streams them into a local temporary file, bounded,
 * while their digest is computed; the caller inspects that file and then {@link #commit commits} or
 * {@link #discard discards} it, so a reader never sees a partial or refused blob.
 *
 * <p>Two stores: {@link DirectoryBlobStore}, a directory (the default), and an S3-compatible bucket
 * ({@code io.edgefleet.controller.artifacts.s3}), which several controller replicas share.
 * Implementations are thread-safe.
 */
public interface BlobStore {
  /** A well-formed digest: {@code sha256:} and 64 lowercase hex digits. */
  Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");

  /** The side files a blob may have: {@code chunks}, its chunk index. */
  Set<String> SIDE_FILES = Set.of("chunks");

  /** A blob written to a local temporary file, not yet in the store. */
  record Written(Path temp, String digest, long size) {}

  /** Whether {@code digest} is a well-formed {@code sha256:<64 lowercase hex>}. */
  static boolean wellFormed(String digest) {
    return digest != null && DIGEST.matcher(digest).matches();
  }

  /** The 64 hex digits of a well-formed digest. */
  static String hex(String digest) {
    if (!wellFormed(digest)) {
      throw new IllegalArgumentException("not a sha256 digest: " + digest);
    }
    return digest.substring("sha256:".length());
  }

  /**
   * Streams {@code in} into a local temporary file, at most {@code max} bytes, computing its
   * digest.
   *
   * @throws io.edgefleet.controller.common.ControllerException {@code ARTIFACT_TOO_LARGE} when the
   *     stream holds more
   */
  Written write(InputStream in, long max) throws IOException;

  /** Puts a written blob into the store under its digest (a blob already there stays). */
  void commit(Written written) throws IOException;

  /** Drops a written blob that is not wanted. */
  void discard(Written written);

  /** The size of the blob {@code digest}; empty when the store does not hold it. */
  OptionalLong size(String digest) throws IOException;

  /** Whether the store holds the blob {@code digest}. */
  default boolean exists(String digest) throws IOException {
    return wellFormed(digest) && size(digest).isPresent();
  }

  /**
   * Reads {@code count} bytes of the blob {@code digest} from offset {@code from}; the caller
   * closes the stream.
   *
   * @throws java.nio.file.NoSuchFileException when the store does not hold the blob
   */
  InputStream open(String digest, long from, long count) throws IOException;

  /** Deletes a blob and its side files; deleting a blob not held is not an error. */
  void delete(String digest) throws IOException;

  /**
   * The side file {@code name} (one of {@link #SIDE_FILES}) of the blob {@code digest}, if kept.
   */
  Optional<byte[]> side(String digest, String name) throws IOException;

  /** Keeps {@code content} as the side file {@code name} of the blob {@code digest}. */
  void putSide(String digest, String name, byte[] content) throws IOException;

  /** Where the blobs are, for logs and errors: a directory or a bucket URL. */
  String location();
}
