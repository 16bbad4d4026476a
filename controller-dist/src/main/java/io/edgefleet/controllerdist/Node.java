package io.edgefleet.controllerdist;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One entry of a distribution archive or image layer: a directory, or a regular file whose bytes
 * come from memory or from a file on disk. Paths are relative, use {@code /} and never end with
 * one.
 *
 * @param path where the entry goes inside the archive
 * @param mode its permission bits, e.g. {@code 0644}
 * @param owner its numeric owner and group (0 for root)
 * @param bytes the contents of a file given in memory, else null
 * @param source the file whose contents this entry carries, else null
 */
record Node(String path, int mode, int owner, byte[] bytes, Path source) {
  Node {
    if (path.isEmpty()
        || path.startsWith("/")
        || path.endsWith("/")
        || path.contains("//")
        || ("/" + path + "/").contains("/../")
        || ("/" + path + "/").contains("/./")) {
      throw new IllegalArgumentException("not a clean relative archive path: '" + path + "'");
    }
    if (bytes != null && source != null) {
      throw new IllegalArgumentException(path + ": bytes or a source file, not both");
    }
  }

  static Node directory(String path) {
    return new Node(path, 0755, 0, null, null);
  }

  static Node file(String path, int mode, byte[] bytes) {
    return new Node(path, mode, 0, bytes, null);
  }

  static Node file(String path, int mode, Path source) {
    return new Node(path, mode, 0, null, source);
  }

  boolean isDirectory() {
    return bytes == null && source == null;
  }

  long size() {
    if (bytes != null) {
      return bytes.length;
    }
    try {
      return source == null ? 0 : Files.size(source);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  InputStream open() throws IOException {
    return bytes != null ? new ByteArrayInputStream(bytes) : Files.newInputStream(source);
  }

  /** The same entry under {@code prefix/}. */
  Node under(String prefix) {
    return new Node(prefix + "/" + path, mode, owner, bytes, source);
  }

  /** The same entry with another mode and owner. */
  Node ownedBy(int uid, int newMode) {
    return new Node(path, newMode, uid, bytes, source);
  }
}
