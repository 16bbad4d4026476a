package io.edgefleet.agentdist;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One entry of an archive: a directory, or a regular file whose bytes come from memory or from a
 * file on disk. Paths are relative, use {@code /} and never end with one.
 *
 * @param path where the entry goes inside the archive
 * @param mode its permission bits, e.g. {@code 0644}
 * @param bytes the contents of a file given in memory, else null
 * @param source the file whose contents this entry carries, else null
 */
record Entry(String path, int mode, byte[] bytes, Path source) {
  Entry {
    if (path.isEmpty()
        || path.startsWith("/")
        || path.endsWith("/")
        || path.contains("//")
        || ("/" + path + "/").contains("/../")
        || ("/" + path + "/").contains("/./")) {
      throw new IllegalArgumentException("not a clean relative archive path: '" + path + "'");
    }
  }

  static Entry directory(String path) {
    return new Entry(path, 0755, null, null);
  }

  static Entry file(String path, int mode, byte[] bytes) {
    return new Entry(path, mode, bytes, null);
  }

  static Entry file(String path, int mode, Path source) {
    return new Entry(path, mode, null, source);
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
    return bytes != null ? new java.io.ByteArrayInputStream(bytes) : Files.newInputStream(source);
  }

  Entry under(String prefix) {
    return new Entry(prefix + "/" + path, mode, bytes, source);
  }
}
