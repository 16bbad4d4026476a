package io.edgefleet.agentdist;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.TreeMap;
import java.util.zip.GZIPOutputStream;

/**
 * Writes POSIX ustar archives, gzip-compressed, reproducibly: entries sorted by path, every parent
 * directory present, owner root:root and one fixed modification time for all.
 */
final class Tar {
  private static final int BLOCK = 512;
  private static final int RECORD = 20 * BLOCK;

  private Tar() {}

  /**
   * The entries sorted by path with their missing parent directories added; {@code dotSlash} gives
   * every path the {@code ./} prefix (and adds {@code ./} itself), as Debian packages have them.
   */
  static List<Entry> complete(List<Entry> entries) {
    TreeMap<String, Entry> byPath = new TreeMap<>();
    for (Entry e : entries) {
      if (byPath.put(e.path(), e) != null) {
        throw new IllegalArgumentException("two archive entries for " + e.path());
      }
    }
    for (Entry e : new ArrayList<>(byPath.values())) {
      String p = e.path();
      for (int i = p.indexOf('/'); i > 0; i = p.indexOf('/', i + 1)) {
        String parent = p.substring(0, i);
        Entry existing = byPath.get(parent);
        if (existing == null) {
          byPath.put(parent, Entry.directory(parent));
        } else if (!existing.isDirectory()) {
          throw new IllegalArgumentException(parent + " is a file and the parent of " + p);
        }
      }
    }
    List<Entry> sorted = new ArrayList<>(byPath.values());
    sorted.sort(Comparator.comparing(Entry::path));
    return sorted;
  }

  /** Writes {@code entries} (completed and sorted) as a gzip tar. */
  static void writeGzip(OutputStream out, List<Entry> entries, long mtime, boolean dotSlash)
      throws IOException {
    // GZIPOutputStream writes no file name and a zero time into its header: reproducible.
    GZIPOutputStream gz = new GZIPOutputStream(out, 1 << 16);
    write(gz, entries, mtime, dotSlash);
    gz.finish();
  }

  static void write(OutputStream out, List<Entry> entries, long mtime, boolean dotSlash)
      throws IOException {
    long written = 0;
    if (dotSlash) {
      out.write(header("./", 0755, 0, mtime, true));
      written += BLOCK;
    }
    byte[] buffer = new byte[1 << 16];
    for (Entry e : complete(entries)) {
      String name = (dotSlash ? "./" : "") + e.path() + (e.isDirectory() ? "/" : "");
      long size = e.isDirectory() ? 0 : e.size();
      out.write(header(name, e.mode(), size, mtime, e.isDirectory()));
      written += BLOCK;
      if (!e.isDirectory()) {
        long copied = 0;
        try (InputStream in = e.open()) {
          for (int n; (n = in.read(buffer)) > 0; ) {
            out.write(buffer, 0, n);
            copied += n;
          }
        }
        if (copied != size) {
          throw new IOException(e.path() + " changed while it was archived");
        }
        int pad = (int) ((BLOCK - size % BLOCK) % BLOCK);
        out.write(new byte[pad]);
        written += size + pad;
      }
    }
    out.write(new byte[2 * BLOCK]);
    written += 2 * BLOCK;
    out.write(new byte[(int) ((RECORD - written % RECORD) % RECORD)]);
  }

  private static byte[] header(String name, int mode, long size, long mtime, boolean directory) {
    byte[] h = new byte[BLOCK];
    byte[] full = name.getBytes(StandardCharsets.UTF_8);
    String prefix = "";
    String rest = name;
    if (full.length > 100) {
      // ustar: a long path splits at a '/' into prefix (155 bytes) and name (100 bytes).
      int cut = -1;
      for (int i = name.indexOf('/');
          i >= 0 && i < name.length() - 1;
          i = name.indexOf('/', i + 1)) {
        if (utf8(name.substring(0, i)) <= 155 && utf8(name.substring(i + 1)) <= 100) {
          cut = i;
          break;
        }
      }
      if (cut < 0) {
        throw new IllegalArgumentException("path too long for a ustar archive: " + name);
      }
      prefix = name.substring(0, cut);
      rest = name.substring(cut + 1);
    }
    put(h, 0, 100, rest.getBytes(StandardCharsets.UTF_8));
    octal(h, 100, 8, mode);
    octal(h, 108, 8, 0);
    octal(h, 116, 8, 0);
    octal(h, 124, 12, size);
    octal(h, 136, 12, mtime);
    h[156] = (byte) (directory ? '5' : '0');
    put(h, 257, 6, "ustar\0".getBytes(StandardCharsets.US_ASCII));
    put(h, 263, 2, "00".getBytes(StandardCharsets.US_ASCII));
    put(h, 265, 32, "root".getBytes(StandardCharsets.US_ASCII));
    put(h, 297, 32, "root".getBytes(StandardCharsets.US_ASCII));
    octal(h, 329, 8, 0);
    octal(h, 337, 8, 0);
    put(h, 345, 155, prefix.getBytes(StandardCharsets.UTF_8));
    for (int i = 148; i < 156; i++) {
      h[i] = ' ';
    }
    long sum = 0;
    for (byte b : h) {
      sum += b & 0xff;
    }
    octal(h, 148, 7, sum);
    return h;
  }

  private static int utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8).length;
  }

  private static void put(byte[] h, int at, int length, byte[] value) {
    if (value.length > length) {
      throw new IllegalArgumentException("tar header field too long: " + new String(value));
    }
    System.arraycopy(value, 0, h, at, value.length);
  }

  /** An octal number, zero-padded to {@code length - 1} digits and ended by NUL. */
  private static void octal(byte[] h, int at, int length, long value) {
    String s = Long.toOctalString(value);
    if (s.length() > length - 1) {
      throw new IllegalArgumentException("value too large for a tar header: " + value);
    }
    s = "0".repeat(length - 1 - s.length()) + s;
    put(h, at, length, (s + "\0").getBytes(StandardCharsets.US_ASCII));
  }
}
