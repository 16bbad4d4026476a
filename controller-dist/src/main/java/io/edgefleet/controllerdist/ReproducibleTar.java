package io.edgefleet.controllerdist;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.TreeMap;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Writes tar archives reproducibly: entries sorted by path, every parent directory present, numeric
 * owners only and one fixed modification time for all, so the same inputs give the same bytes (and
 * an image layer the same digest).
 */
final class ReproducibleTar {
  private ReproducibleTar() {}

  /** The entries sorted by path with their missing parent directories added. */
  static List<Node> complete(List<Node> entries) {
    TreeMap<String, Node> byPath = new TreeMap<>();
    for (Node e : entries) {
      if (byPath.put(e.path(), e) != null) {
        throw new IllegalArgumentException("two archive entries for " + e.path());
      }
    }
    for (Node e : new ArrayList<>(byPath.values())) {
      String p = e.path();
      for (int i = p.indexOf('/'); i > 0; i = p.indexOf('/', i + 1)) {
        String parent = p.substring(0, i);
        Node existing = byPath.get(parent);
        if (existing == null) {
          byPath.put(parent, Node.directory(parent));
        } else if (!existing.isDirectory()) {
          throw new IllegalArgumentException(parent + " is a file and the parent of " + p);
        }
      }
    }
    List<Node> sorted = new ArrayList<>(byPath.values());
    sorted.sort(Comparator.comparing(Node::path));
    return sorted;
  }

  /** Writes {@code entries} (completed and sorted here) as an uncompressed tar to {@code out}. */
  static void write(OutputStream out, List<Node> entries, long mtime) throws IOException {
    // Not closed: the caller owns the stream (finish() writes the end-of-archive blocks).
    TarArchiveOutputStream tar = new TarArchiveOutputStream(out, "UTF-8");
    tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
    tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
    byte[] buffer = new byte[1 << 16];
    for (Node e : complete(entries)) {
      TarArchiveEntry t =
          new TarArchiveEntry(
              e.path() + (e.isDirectory() ? "/" : ""),
              e.isDirectory() ? TarArchiveEntry.LF_DIR : TarArchiveEntry.LF_NORMAL);
      t.setMode(e.mode());
      t.setUserId(e.owner());
      t.setGroupId(e.owner());
      t.setUserName("");
      t.setGroupName("");
      t.setModTime(mtime * 1000);
      long size = e.isDirectory() ? 0 : e.size();
      t.setSize(size);
      tar.putArchiveEntry(t);
      if (!e.isDirectory()) {
        long copied = 0;
        try (InputStream in = e.open()) {
          for (int n; (n = in.read(buffer)) > 0; ) {
            tar.write(buffer, 0, n);
            copied += n;
          }
        }
        if (copied != size) {
          throw new IOException(e.path() + " changed while it was archived");
        }
      }
      tar.closeArchiveEntry();
    }
    tar.finish();
  }
}
