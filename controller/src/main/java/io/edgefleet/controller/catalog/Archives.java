package io.edgefleet.controller.catalog;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
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
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarUtils;

/**
 * Catalog content as file trees: reading uploaded {@code .tar.gz} archives safely, and the
 * canonical encoding whose SHA-256 is the content digest. A file tree maps relative paths ({@code
 * templates/deployment.yaml}) to bytes, sorted by path; nothing else (modes, times, owners) is part
 * of the content. Archives are read with Apache Commons Compress's tar reader under this class's
 * limits, which count every byte an archive unpacks to. Stateless.
 */
final class Archives {
  /** The most files an archive may hold. */
  static final int MAX_FILES = 2000;

  /** The most bytes all files of an archive may hold together, uncompressed. */
  static final long MAX_BYTES = 64L << 20;

  /**
   * The most bytes an archive may unpack to, everything counted: files, tar headers, pax headers,
   * GNU long names, padding, entries that are skipped. Room for {@link #MAX_BYTES} of files and the
   * headers of the most entries an archive may have.
   */
  static final long MAX_INFLATED = MAX_BYTES + (16L << 20);

  /** The largest pax header or GNU long name (or long link name) entry. */
  static final int MAX_EXTENSION = 64 << 10;

  /** The most bytes all pax headers and GNU long names of an archive may take together. */
  static final long MAX_EXTENSIONS = 8L << 20;

  /** The most tar headers, directories and extension headers included. */
  private static final int MAX_ENTRIES = 4 * MAX_FILES + 16;

  /**
   * The most headers in a row before an entry: a pax header, a global pax header, a GNU long name
   * and long link name are four; a longer chain is no archive any tool writes.
   */
  private static final int MAX_CHAIN = 8;

  private static final int MAX_PATH = 1000;
  private static final byte[] MAGIC = "edgefleet-files-v1\n".getBytes(StandardCharsets.US_ASCII);

  private Archives() {}

  /**
   * The regular files of a gzip-compressed tar archive (ustar, pax and GNU long names), by path
   * with a leading {@code ./} removed; directory entries are skipped.
   *
   * @throws ControllerException {@code CATALOG_CONTENT_INVALID} if the bytes are not a tar.gz, an
   *     entry has an absolute path or one with {@code ..}, is a link, device, FIFO or sparse file,
   *     a path occurs twice, the archive holds more than {@value #MAX_FILES} files or more than
   *     {@link #MAX_BYTES} bytes of files, has a pax header or GNU long name larger than {@link
   *     #MAX_EXTENSION} or more than {@link #MAX_EXTENSIONS} of them, or unpacks to more than
   *     {@link #MAX_INFLATED} bytes in all
   */
  static SortedMap<String, byte[]> readTarGz(byte[] tgz) {
    if (tgz.length < 2 || (tgz[0] & 0xff) != 0x1f || (tgz[1] & 0xff) != 0x8b) {
      throw notGzip();
    }
    return readTarGz(new ByteArrayInputStream(tgz), MAX_INFLATED);
  }

  /**
   * {@link #readTarGz(byte[])} from a stream, refusing the archive as soon as it has unpacked to
   * more than {@code maxInflated} bytes. The stream is read only as far as needed and is closed.
   */
  static SortedMap<String, byte[]> readTarGz(InputStream compressed, long maxInflated) {
    try (InputStream gz = gunzipping(compressed);
        // Every byte the decompressor produces is counted, whatever the tar reader does with it;
        // the buffer above the count keeps the reader's byte-at-a-time parsing cheap.
        TarReader tar =
            new TarReader(new BufferedInputStream(new Inflation(gz, maxInflated), 64 * 1024))) {
      return read(tar);
    } catch (ZipException | EOFException e) {
      throw invalid("the archive is not a valid .tar.gz: " + e.getMessage());
    } catch (IOException e) {
      throw invalid("the archive is not a valid tar file (" + e.getMessage() + ")");
    }
  }

  private static InputStream gunzipping(InputStream compressed) throws IOException {
    try {
      return new GZIPInputStream(compressed, 64 * 1024);
    } catch (ZipException | EOFException e) {
      throw notGzip();
    }
  }

  private static SortedMap<String, byte[]> read(TarReader tar) throws IOException {
    TreeMap<String, byte[]> files = new TreeMap<>();
    long total = 0;
    TarReader.Entry entry;
    while ((entry = tar.next()) != null) {
      String name = entry.name();
      TarArchiveEntry e = entry.header();
      long size = e.getSize();
      char type = (char) e.getLinkFlag();
      switch (type) {
        case '5' -> directory(name, size);
        case '0', '\0', '7' -> {
          if (name.endsWith("/")) {
            directory(name, size);
            continue;
          }
          String path = path(name);
          if (path.isEmpty()) {
            throw invalid("the archive has a file entry without a name ('" + name + "')");
          }
          if (e.isSparse()) {
            throw invalid("'" + name + "' is a sparse file; only regular files are allowed");
          }
          if (files.size() >= MAX_FILES) {
            throw invalid("the archive has more than " + MAX_FILES + " files");
          }
          if (size < 0 || total + size > MAX_BYTES) {
            throw invalid(
                "the archive holds more than " + (MAX_BYTES >> 20) + " MiB of files uncompressed");
          }
          byte[] data = tar.data(path, (int) size);
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

  /** A directory entry: nothing is kept, but a bad path is refused like a file's. */
  private static void directory(String name, long size) {
    path(name);
    if (size != 0) {
      throw invalid("'" + name + "' is a directory with content; the archive is malformed");
    }
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

  static ControllerException invalid(String message) {
    return new ControllerException(ErrorCode.CATALOG_CONTENT_INVALID, message);
  }

  private static ControllerException notGzip() {
    return invalid(
        "the archive is not gzip-compressed: send a .tar.gz (such as `helm package` writes)");
  }

  /** Counts what the decompressor produces and refuses the archive past a limit. */
  private static final class Inflation extends FilterInputStream {
    private final long limit;
    private long inflated;

    Inflation(InputStream in, long limit) {
      super(in);
      this.limit = limit;
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      if (b >= 0) {
        add(1);
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = super.read(b, off, len);
      if (n > 0) {
        add(n);
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      // Skipping inflates just the same; it is counted in slices so a huge skip stops at the limit.
      long skipped = super.skip(Math.min(n, limit - inflated + 1));
      add(skipped);
      return skipped;
    }

    private void add(long n) {
      inflated += n;
      if (inflated > limit) {
        throw invalid(
            "the archive unpacks to more than "
                + (limit >> 20)
                + " MiB (files, tar headers and padding together); at most "
                + (MAX_BYTES >> 20)
                + " MiB of files are allowed");
      }
    }
  }

  /**
   * Commons Compress's tar reader with this reader's limits applied where only it can see them:
   * every header's checksum is verified and headers are counted; pax headers and GNU long names are
   * limited in size, alone and together, and chains of them are kept short (the library reads them
   * recursively); and the names they carry are kept as written, because the library quietly makes
   * absolute names relative and such archives are refused here instead.
   */
  private static final class TarReader extends TarArchiveInputStream {
    /** An entry, with its name as the archive wrote it. */
    record Entry(String name, TarArchiveEntry header) {}

    private int headers;
    private int depth;
    private long extensionBytes;
    private TarArchiveEntry capturing;
    private TarArchiveEntry captured;
    private final ByteArrayOutputStream capture = new ByteArrayOutputStream();
    private String paxPath;
    private String globalPaxPath;
    private String longName;

    TarReader(InputStream in) {
      super(in, "UTF-8");
    }

    /** The next entry that is not a pax header or GNU long name, or null at the end. */
    Entry next() throws IOException {
      paxPath = null;
      longName = null;
      TarArchiveEntry e = getNextEntry();
      if (e == null) {
        return null;
      }
      String name = e.getName();
      if (paxPath != null) {
        name = paxPath;
      } else if (longName != null) {
        name = longName;
      } else if (globalPaxPath != null) {
        name = globalPaxPath;
      }
      return new Entry(name, e);
    }

    /** The content of the current entry, which has {@code size} bytes. */
    byte[] data(String path, int size) throws IOException {
      byte[] data = new byte[size];
      try {
        if (readNBytes(data, 0, size) < size) {
          throw invalid("the archive ends in the middle of '" + path + "'");
        }
      } catch (ZipException | EOFException e) {
        throw e;
      } catch (IOException e) {
        throw invalid("the archive ends in the middle of '" + path + "' (" + e.getMessage() + ")");
      }
      return data;
    }

    @Override
    public TarArchiveEntry getNextEntry() throws IOException {
      // The library calls this again for the entry after each pax header or long name.
      endCapture();
      if (++depth > MAX_CHAIN) {
        throw invalid(
            "the archive has more than "
                + (MAX_CHAIN - 1)
                + " pax headers or GNU long names in a row");
      }
      try {
        return super.getNextEntry();
      } finally {
        depth--;
        endCapture();
      }
    }

    @Override
    protected byte[] readRecord() throws IOException {
      long before = getBytesRead();
      byte[] record = super.readRecord();
      if (isAtEOF()) {
        return record; // after the end-of-archive block: what follows is ignored, as tar does
      }
      if (record == null) {
        if (getBytesRead() > before) {
          throw invalid("the archive ends in the middle of a tar header");
        }
        return null; // archives cut after the last entry are accepted, as tar does
      }
      if (isEOFRecord(record)) {
        return record;
      }
      if (++headers > MAX_ENTRIES) {
        throw invalid("the archive has too many entries; at most " + MAX_FILES + " files");
      }
      boolean ok;
      try {
        ok = TarUtils.verifyCheckSum(record);
      } catch (IllegalArgumentException e) {
        ok = false;
      }
      if (!ok) {
        throw invalid("the archive is not a valid tar file (a header checksum does not match)");
      }
      return record;
    }

    @Override
    public int read(byte[] buf, int off, int len) throws IOException {
      TarArchiveEntry e = getCurrentEntry();
      boolean extension = isExtension(e);
      if (extension) {
        startCapture(e);
      }
      int n = super.read(buf, off, len);
      if (extension && n > 0) {
        extensionBytes += n;
        if (extensionBytes > MAX_EXTENSIONS) {
          throw invalid(
              "the archive's pax headers and GNU long names take more than "
                  + (MAX_EXTENSIONS >> 20)
                  + " MiB");
        }
        capture.write(buf, off, n);
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      TarArchiveEntry e = getCurrentEntry();
      if (isExtension(e)) {
        startCapture(e);
      }
      return super.skip(n);
    }

    private static boolean isExtension(TarArchiveEntry e) {
      return e != null
          && (e.isPaxHeader()
              || e.isGlobalPaxHeader()
              || e.isGNULongNameEntry()
              || e.isGNULongLinkEntry());
    }

    private void startCapture(TarArchiveEntry e) {
      if (e == capturing || e == captured) {
        return; // reading on, or skipping what is left after the library read it
      }
      endCapture();
      if (e.getSize() > MAX_EXTENSION) {
        throw invalid(
            "the archive has a pax header or GNU long name larger than "
                + (MAX_EXTENSION >> 10)
                + " KiB ("
                + e.getSize()
                + " bytes)");
      }
      capturing = e;
      capture.reset();
    }

    /** Keeps the name an extension entry that was just read carries, as written. */
    private void endCapture() {
      TarArchiveEntry e = capturing;
      if (e == null) {
        return;
      }
      capturing = null;
      captured = e;
      byte[] data = capture.toByteArray();
      capture.reset();
      if (e.isPaxHeader()) {
        paxPath = paxValue(data, "path");
      } else if (e.isGlobalPaxHeader()) {
        globalPaxPath = paxValue(data, "path");
      } else if (e.isGNULongNameEntry()) {
        longName = cString(data);
      }
    }
  }

  private static String cString(byte[] data) {
    int end = 0;
    while (end < data.length && data[end] != 0) {
      end++;
    }
    return new String(data, 0, end, StandardCharsets.UTF_8);
  }

  /**
   * The value of a key in pax records ({@code "<len> <key>=<value>\n"}, the length counting the
   * whole record in bytes), the last one if it occurs more than once, or null. The library has
   * already parsed the same bytes and refused malformed ones; this reads them only for the name.
   */
  private static String paxValue(byte[] data, String key) {
    String value = null;
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
        return value;
      }
      if (len <= space - pos + 1 || pos + len > data.length) {
        return value;
      }
      String record = new String(data, space + 1, pos + len - space - 2, StandardCharsets.UTF_8);
      int eq = record.indexOf('=');
      if (eq > 0 && record.substring(0, eq).equals(key)) {
        value = record.substring(eq + 1);
      }
      pos += len;
    }
    return value;
  }
}
