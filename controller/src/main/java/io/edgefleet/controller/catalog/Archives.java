package io.edgefleet.controller.catalog;

import io.edgefleet.controller.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import java.util.zip.ZipException;

/**
 * Catalog content as file trees: reading uploaded {@code .tar.gz} archives safely, and the
 * canonical encoding whose SHA-256 is the content digest. A file tree maps relative paths ({@code
 * templates/deployment.yaml}) to bytes, sorted by path; nothing else (modes, times, owners) is part
 * of the content. Stateless.
 */
final class Archives {
  /** The most files an archive may hold. */
  static final int MAX_FILES = 2000;

  /** The most bytes all files of an archive may hold together, uncompressed. */
  static final long MAX_BYTES = 64L << 20;

  private static final int BLOCK = 512;
  private static final int MAX_PATH = 1000;
  private static final int MAX_META = 1 << 20;
  private static final byte[] MAGIC = "edgefleet-files-v1\n".getBytes(StandardCharsets.US_ASCII);

  private Archives() {}

  /**
   * The regular files of a gzip-compressed tar archive (ustar, pax and GNU long names), by path
   * with a leading {@code ./} removed; directory entries are skipped.
   *
   * @throws ControllerException {@code CATALOG_CONTENT_INVALID} if the bytes are not a tar.gz, an
   *     entry has an absolute path or one with {@code ..}, is a link, device or FIFO, a path occurs
   *     twice, or the archive holds more than {@value #MAX_FILES} files or {@link #MAX_BYTES} bytes
   */
  static SortedMap<String, byte[]> readTarGz(byte[] tgz) {
    if (tgz.length < 2 || (tgz[0] & 0xff) != 0x1f || (tgz[1] & 0xff) != 0x8b) {
      throw invalid(
          "the archive is not gzip-compressed: send a .tar.gz (such as `helm package` writes)");
    }
    try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(tgz), 64 * 1024)) {
      return readTar(in);
    } catch (ZipException | EOFException e) {
      throw invalid("the archive is not a valid .tar.gz: " + e.getMessage());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static SortedMap<String, byte[]> readTar(InputStream raw) throws IOException {
    DataInputStream in = new DataInputStream(raw);
    TreeMap<String, byte[]> files = new TreeMap<>();
    long total = 0;
    int entries = 0;
    String longName = null;
    String paxPath = null;
    Long paxSize = null;
    byte[] header = new byte[BLOCK];
    while (true) {
      if (!readBlock(in, header)) {
        break; // Archives cut after the last entry are accepted, as tar does.
      }
      if (isZero(header)) {
        break;
      }
      if (++entries > 4 * MAX_FILES + 16) {
        throw invalid("the archive has too many entries; at most " + MAX_FILES + " files");
      }
      checkChecksum(header);
      char type = (char) header[156];
      long size = number(header, 124, 12);
      String name = string(header, 0, 100);
      if (isUstar(header)) {
        String prefix = string(header, 345, 155);
        if (!prefix.isEmpty()) {
          name = prefix + "/" + name;
        }
      }
      if (longName != null) {
        name = longName;
        longName = null;
      }
      if (paxPath != null) {
        name = paxPath;
        paxPath = null;
      }
      if (paxSize != null) {
        size = paxSize;
        paxSize = null;
      }
      if (size < 0) {
        throw invalid("entry '" + name + "' has a negative size");
      }
      switch (type) {
        case 'x' -> {
          Map<String, String> pax = pax(readData(in, size, MAX_META, "pax header"));
          paxPath = pax.get("path");
          if (pax.containsKey("size")) {
            try {
              paxSize = Long.parseLong(pax.get("size"));
            } catch (NumberFormatException e) {
              throw invalid("a pax header has an invalid size '" + pax.get("size") + "'");
            }
          }
        }
        case 'g' -> skip(in, size, MAX_META, "pax global header");
        case 'L' -> longName = cString(readData(in, size, MAX_META, "GNU long name"));
        case 'K' -> skip(in, size, MAX_META, "GNU long link name");
        case '5' -> {
          path(name); // a directory with a bad path is refused too
          skip(in, size, MAX_META, "directory");
        }
        case '0', '\0', '7' -> {
          if (name.endsWith("/") && size == 0) {
            path(name);
            continue;
          }
          String path = path(name);
          if (path.isEmpty()) {
            throw invalid("the archive has a file entry without a name ('" + name + "')");
          }
          if (files.size() >= MAX_FILES) {
            throw invalid("the archive has more than " + MAX_FILES + " files");
          }
          if (total + size > MAX_BYTES) {
            throw invalid(
                "the archive holds more than " + (MAX_BYTES >> 20) + " MiB of files uncompressed");
          }
          byte[] data = readData(in, size, MAX_BYTES, path);
          total += size;
          if (files.put(path, data) != null) {
            throw invalid("'" + path + "' occurs twice in the archive");
          }
        }
        case '1' -> throw invalid("'" + name + "' is a hard link; links are not allowed");
        case '2' -> throw invalid("'" + name + "' is a symbolic link; links are not allowed");
        case '3', '4' ->
            throw invalid("'" + name + "' is a device file; only regular files are allowed");
        case '6' -> throw invalid("'" + name + "' is a FIFO; only regular files are allowed");
        default ->
            throw invalid(
                "'"
                    + name
                    + "' has unsupported tar entry type '"
                    + type
                    + "'; only regular files"
                    + " and directories are allowed");
      }
    }
    return files;
  }

  /**
   * Removes a single top-level directory that holds everything, as in a {@code helm package}
   * archive ({@code mychart/Chart.yaml} becomes {@code Chart.yaml}). Trees with files at the root
   * or several top-level directories are returned as they are.
   */
  static SortedMap<String, byte[]> stripTopDirectory(SortedMap<String, byte[]> files) {
    String top = null;
    for (String path : files.keySet()) {
      int slash = path.indexOf('/');
      if (slash < 0) {
        return files;
      }
      String first = path.substring(0, slash);
      if (top == null) {
        top = first;
      } else if (!top.equals(first)) {
        return files;
      }
    }
    if (top == null) {
      return files;
    }
    TreeMap<String, byte[]> out = new TreeMap<>();
    int cut = top.length() + 1;
    files.forEach((k, v) -> out.put(k.substring(cut), v));
    return out;
  }

  /**
   * The canonical bytes of a file tree: a version line, then per file in path order the UTF-8 path,
   * a NUL byte, the length as 8 bytes big-endian, and the content.
   */
  static byte[] encode(SortedMap<String, byte[]> files) {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(buf)) {
      out.write(MAGIC);
      for (Map.Entry<String, byte[]> f : new TreeMap<>(files).entrySet()) {
        out.write(f.getKey().getBytes(StandardCharsets.UTF_8));
        out.write(0);
        out.writeLong(f.getValue().length);
        out.write(f.getValue());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return buf.toByteArray();
  }

  /** The file tree of {@link #encode}. */
  static SortedMap<String, byte[]> decode(byte[] encoded) {
    TreeMap<String, byte[]> files = new TreeMap<>();
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(encoded))) {
      byte[] magic = in.readNBytes(MAGIC.length);
      if (!java.util.Arrays.equals(magic, MAGIC)) {
        throw new IllegalStateException("stored catalog content has an unknown format");
      }
      while (in.available() > 0) {
        ByteArrayOutputStream path = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) > 0) {
          path.write(b);
        }
        byte[] data = new byte[Math.toIntExact(in.readLong())];
        in.readFully(data);
        files.put(path.toString(StandardCharsets.UTF_8), data);
      }
    } catch (IOException e) {
      throw new IllegalStateException("stored catalog content is corrupt", e);
    }
    return Collections.unmodifiableSortedMap(files);
  }

  /** {@code sha256:<hex>} of {@link #encode}: equal trees, equal digests. */
  static String digest(SortedMap<String, byte[]> files) {
    try {
      return "sha256:"
          + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(encode(files)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static byte[] gzip(byte[] bytes) {
    ByteArrayOutputStream buf = new ByteArrayOutputStream(bytes.length / 4 + 64);
    try (GZIPOutputStream out = new GZIPOutputStream(buf)) {
      out.write(bytes);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return buf.toByteArray();
  }

  static byte[] gunzip(byte[] bytes) {
    try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(bytes))) {
      return in.readAllBytes();
    } catch (IOException e) {
      throw new IllegalStateException("stored catalog content is corrupt", e);
    }
  }

  /** Total bytes of all files. */
  static long size(SortedMap<String, byte[]> files) {
    long n = 0;
    for (byte[] b : files.values()) {
      n += b.length;
    }
    return n;
  }

  /** A few paths for messages: {@code a, b, c and 12 more}. */
  static String sample(java.util.Collection<String> paths) {
    List<String> all = new ArrayList<>(new TreeSet<>(paths));
    if (all.isEmpty()) {
      return "no files";
    }
    int show = Math.min(5, all.size());
    String s = String.join(", ", all.subList(0, show));
    return all.size() > show ? s + " and " + (all.size() - show) + " more" : s;
  }

  // ---------------------------------------------------------------------------------------------

  /** A relative path without {@code ./}, refusing absolute paths, {@code ..} and odd characters. */
  static String path(String name) {
    String p = name;
    while (p.startsWith("./")) {
      p = p.substring(2);
    }
    if (p.endsWith("/")) {
      p = p.substring(0, p.length() - 1);
    }
    if (p.startsWith("/") || (p.length() > 1 && p.charAt(1) == ':')) {
      throw invalid("'" + name + "' has an absolute path; entries must be relative");
    }
    if (p.isEmpty() || p.equals(".")) {
      return "";
    }
    if (p.length() > MAX_PATH) {
      throw invalid("a path in the archive is longer than " + MAX_PATH + " characters");
    }
    if (p.chars().anyMatch(c -> c < 0x20 || c == 0x7f || c == '\\')) {
      throw invalid(
          "'" + name.replaceAll("\\p{Cntrl}", "?") + "' has control characters or backslashes");
    }
    List<String> segments = new ArrayList<>();
    for (String seg : p.split("/")) {
      if (seg.equals("..")) {
        throw invalid("'" + name + "' leaves the archive ('..' is not allowed in paths)");
      }
      if (!seg.isEmpty() && !seg.equals(".")) {
        segments.add(seg);
      }
    }
    return String.join("/", segments);
  }

  private static boolean readBlock(DataInputStream in, byte[] block) throws IOException {
    int n = in.readNBytes(block, 0, BLOCK);
    if (n == 0) {
      return false;
    }
    if (n < BLOCK) {
      throw invalid("the archive ends in the middle of a tar header");
    }
    return true;
  }

  private static byte[] readData(DataInputStream in, long size, long max, String what)
      throws IOException {
    if (size > max) {
      throw invalid(what + " is too large (" + size + " bytes)");
    }
    byte[] data = new byte[(int) size];
    try {
      in.readFully(data);
      in.skipNBytes(padding(size));
    } catch (EOFException e) {
      throw invalid("the archive ends in the middle of '" + what + "'");
    }
    return data;
  }

  private static void skip(DataInputStream in, long size, long max, String what)
      throws IOException {
    if (size > max) {
      throw invalid(what + " is too large (" + size + " bytes)");
    }
    try {
      in.skipNBytes(size + padding(size));
    } catch (EOFException e) {
      throw invalid("the archive ends in the middle of '" + what + "'");
    }
  }

  private static long padding(long size) {
    return (BLOCK - size % BLOCK) % BLOCK;
  }

  private static boolean isZero(byte[] block) {
    for (byte b : block) {
      if (b != 0) {
        return false;
      }
    }
    return true;
  }

  private static boolean isUstar(byte[] h) {
    return h[257] == 'u' && h[258] == 's' && h[259] == 't' && h[260] == 'a' && h[261] == 'r';
  }

  private static void checkChecksum(byte[] h) {
    long want = number(h, 148, 8);
    long unsigned = 0;
    long signed = 0;
    for (int i = 0; i < BLOCK; i++) {
      int b = (i >= 148 && i < 156) ? ' ' : h[i];
      unsigned += b & 0xff;
      signed += b;
    }
    if (want != unsigned && want != signed) {
      throw invalid("the archive is not a valid tar file (a header checksum does not match)");
    }
  }

  /** An octal field, or a base-256 one (high bit set) as GNU tar writes large values. */
  private static long number(byte[] h, int off, int len) {
    if ((h[off] & 0x80) != 0) {
      long v = h[off] & 0x7f;
      for (int i = off + 1; i < off + len; i++) {
        if (v > (Long.MAX_VALUE >> 8)) {
          throw invalid("a tar header has a number that is too large");
        }
        v = (v << 8) | (h[i] & 0xff);
      }
      return v;
    }
    long v = 0;
    boolean digits = false;
    for (int i = off; i < off + len; i++) {
      byte b = h[i];
      if (b == 0 || (b == ' ' && digits)) {
        break;
      }
      if (b == ' ') {
        continue;
      }
      if (b < '0' || b > '7') {
        throw invalid("the archive is not a valid tar file (a header has a malformed number)");
      }
      digits = true;
      if (v > (Long.MAX_VALUE >> 3)) {
        throw invalid("a tar header has a number that is too large");
      }
      v = (v << 3) + (b - '0');
    }
    return v;
  }

  private static String string(byte[] h, int off, int len) {
    int end = off;
    while (end < off + len && h[end] != 0) {
      end++;
    }
    return new String(h, off, end - off, StandardCharsets.UTF_8);
  }

  private static String cString(byte[] data) {
    int end = 0;
    while (end < data.length && data[end] != 0) {
      end++;
    }
    return new String(data, 0, end, StandardCharsets.UTF_8);
  }

  /** Records {@code "<len> <key>=<value>\n"}; the length counts the whole record in bytes. */
  private static Map<String, String> pax(byte[] data) {
    Map<String, String> out = new java.util.HashMap<>();
    int pos = 0;
    while (pos < data.length) {
      int space = pos;
      while (space < data.length && data[space] != ' ') {
        space++;
      }
      int len;
      try {
        len = Integer.parseInt(new String(data, pos, space - pos, StandardCharsets.US_ASCII));
      } catch (NumberFormatException e) {
        throw invalid("the archive has a malformed pax header");
      }
      if (len <= space - pos + 1 || pos + len > data.length) {
        throw invalid("the archive has a malformed pax header");
      }
      String record = new String(data, space + 1, pos + len - space - 2, StandardCharsets.UTF_8);
      int eq = record.indexOf('=');
      if (eq > 0) {
        out.put(record.substring(0, eq), record.substring(eq + 1));
      }
      pos += len;
    }
    return out;
  }

  static ControllerException invalid(String message) {
    return new ControllerException(ErrorCode.CATALOG_CONTENT_INVALID, message);
  }
}
