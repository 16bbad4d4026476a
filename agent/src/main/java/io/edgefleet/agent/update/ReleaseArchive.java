package io.edgefleet.agent.update;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * Extracts an agent release file (a gzip tar) safely: only regular files and directories with
 * relative names that stay inside the target ({@code ..}, absolute names, links, devices and
 * anything else are refused), at most {@link Limits#maxEntries} entries and {@link Limits#maxBytes}
 * bytes in all, every file flushed to disk. Reads ustar and GNU tar, with pax or GNU long names.
 */
public final class ReleaseArchive {

  /**
   * Bounds of an extraction.
   *
   * @param maxBytes the most bytes of file content
   * @param maxEntries the most entries (files and directories)
   */
  public record Limits(long maxBytes, int maxEntries) {
    /** 256 MiB and 2,000 entries. */
    public static Limits defaults() {
      return new Limits(256L << 20, 2_000);
    }
  }

  /** Why a release file was refused. */
  public static final class Refused extends IOException {
    Refused(String message) {
      super(message);
    }
  }

  private static final int BLOCK = 512;
  private static final int MAX_NAME = 4096;
  private static final long MAX_PAX = 64 * 1024;

  private ReleaseArchive() {}

  /**
   * Extracts {@code archive} into the empty or missing directory {@code target}.
   *
   * @return the regular files written, relative to {@code target}
   * @throws Refused if the archive holds anything but safe regular files and directories, or
   *     exceeds the limits
   * @throws IOException if it cannot be read or written
   */
  public static List<String> extract(Path archive, Path target, Limits limits) throws IOException {
    Files.createDirectories(target);
    List<String> files = new ArrayList<>();
    List<Path> dirs = new ArrayList<>();
    dirs.add(target);
    long bytes = 0;
    int entries = 0;
    byte[] header = new byte[BLOCK];
    try (InputStream raw = Files.newInputStream(archive);
        InputStream in = new GZIPInputStream(raw, 1 << 16)) {
      String longName = null;
      String paxName = null;
      Long paxSize = null;
      while (true) {
        if (!readBlock(in, header)) {
          throw new Refused("the release file ends without the tar end marker: it is truncated");
        }
        if (allZero(header)) {
          break;
        }
        checkSum(header);
        char type = (char) (header[156] == 0 ? '0' : header[156]);
        long size = paxSize != null ? paxSize : octal(header, 124, 12);
        if (size < 0) {
          throw new Refused("the release file has an entry with a negative size");
        }
        String name;
        if (paxName != null) {
          name = paxName;
        } else if (longName != null) {
          name = longName;
        } else {
          name = headerName(header);
        }
        switch (type) {
          case 'L' -> {
            longName = text(readBounded(in, size, MAX_NAME, "a long name"));
            continue;
          }
          case 'x' -> {
            String[] pax = pax(readBounded(in, size, MAX_PAX, "a pax header"));
            paxName = pax[0];
            paxSize = pax[1] == null ? null : Long.parseLong(pax[1]);
            continue;
          }
          case 'g' -> {
            skip(in, padded(size));
            continue;
          }
          default -> {}
        }
        longName = null;
        paxName = null;
        paxSize = null;
        if (++entries > limits.maxEntries()) {
          throw new Refused("the release file has more than " + limits.maxEntries() + " entries");
        }
        String rel = relative(name);
        if (rel.isEmpty()) {
          // "./": the archive's root directory.
          skip(in, padded(size));
          continue;
        }
        Path out = target.resolve(rel).normalize();
        if (!out.startsWith(target) || out.equals(target)) {
          throw new Refused("the release file names a path outside its root: " + name);
        }
        switch (type) {
          case '5' -> {
            Files.createDirectories(out);
            dirs.add(out);
            skip(in, padded(size));
          }
          case '0', '7' -> {
            bytes += size;
            if (bytes > limits.maxBytes()) {
              throw new Refused(
                  "the release file unpacks to more than " + limits.maxBytes() + " bytes");
            }
            Files.createDirectories(out.getParent());
            if (Files.exists(out, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
              throw new Refused("the release file holds " + rel + " twice");
            }
            write(in, out, size);
            skip(in, padded(size) - size);
            files.add(rel);
          }
          case '1', '2' ->
              throw new Refused(
                  "the release file holds a link ("
                      + name
                      + "); releases carry regular files and directories only");
          default ->
              throw new Refused(
                  "the release file holds "
                      + name
                      + " of tar type '"
                      + type
                      + "'; releases carry regular files and directories only");
        }
      }
    } catch (java.util.zip.ZipException e) {
      throw new Refused("the release file is not a gzip file: " + e.getMessage());
    }
    for (Path d : dirs) {
      SlotsFile.syncDirectory(d);
    }
    return files;
  }

  /** The entry's name relative to the archive root; refuses absolute names and {@code ..}. */
  static String relative(String name) throws Refused {
    if (name.isEmpty() || name.indexOf('\0') >= 0 || name.indexOf('\\') >= 0) {
      throw new Refused("the release file has an entry with an unusable name: " + name);
    }
    if (name.startsWith("/")) {
      throw new Refused("the release file names an absolute path: " + name);
    }
    List<String> parts = new ArrayList<>();
    for (String p : name.split("/")) {
      if (p.isEmpty() || p.equals(".")) {
        continue;
      }
      if (p.equals("..")) {
        throw new Refused("the release file names a path with '..': " + name);
      }
      parts.add(p);
    }
    return String.join("/", parts);
  }

  private static void write(InputStream in, Path out, long size) throws IOException {
    byte[] buf = new byte[1 << 16];
    try (FileChannel ch =
            FileChannel.open(out, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        OutputStream os = java.nio.channels.Channels.newOutputStream(ch)) {
      long left = size;
      while (left > 0) {
        int n = in.read(buf, 0, (int) Math.min(buf.length, left));
        if (n < 0) {
          throw new Refused("the release file is truncated inside " + out.getFileName());
        }
        os.write(buf, 0, n);
        left -= n;
      }
      os.flush();
      ch.force(true);
    }
  }

  private static byte[] readBounded(InputStream in, long size, long max, String what)
      throws IOException {
    if (size > max) {
      throw new Refused("the release file has " + what + " of " + size + " bytes");
    }
    byte[] b = in.readNBytes((int) size);
    if (b.length < size) {
      throw new EOFException("the release file is truncated");
    }
    skip(in, padded(size) - size);
    return b;
  }

  /** The path and size of a pax header ({@code null} when absent). */
  private static String[] pax(byte[] data) throws Refused {
    String[] out = new String[2];
    int i = 0;
    while (i < data.length) {
      int space = indexOf(data, (byte) ' ', i);
      if (space < 0) {
        throw new Refused("the release file has a malformed pax header");
      }
      int len;
      try {
        len = Integer.parseInt(new String(data, i, space - i, StandardCharsets.US_ASCII));
      } catch (NumberFormatException e) {
        throw new Refused("the release file has a malformed pax header");
      }
      if (len <= space - i || i + len > data.length) {
        throw new Refused("the release file has a malformed pax header");
      }
      String record = new String(data, space + 1, i + len - space - 2, StandardCharsets.UTF_8);
      int eq = record.indexOf('=');
      if (eq > 0) {
        String key = record.substring(0, eq);
        String value = record.substring(eq + 1);
        if (key.equals("path")) {
          out[0] = value;
        } else if (key.equals("size")) {
          if (!value.matches("[0-9]{1,18}")) {
            throw new Refused("the release file has a malformed pax size");
          }
          out[1] = value;
        } else if (key.equals("linkpath")) {
          throw new Refused("the release file holds a link (" + value + ")");
        }
      }
      i += len;
    }
    return out;
  }

  private static int indexOf(byte[] b, byte v, int from) {
    for (int i = from; i < b.length; i++) {
      if (b[i] == v) {
        return i;
      }
    }
    return -1;
  }

  private static String headerName(byte[] h) {
    String name = cString(h, 0, 100);
    boolean ustar = new String(h, 257, 5, StandardCharsets.US_ASCII).equals("ustar");
    if (ustar) {
      String prefix = cString(h, 345, 155);
      if (!prefix.isEmpty()) {
        return prefix + "/" + name;
      }
    }
    return name;
  }

  private static String cString(byte[] b, int off, int len) {
    int end = off;
    while (end < off + len && b[end] != 0) {
      end++;
    }
    return new String(b, off, end - off, StandardCharsets.UTF_8);
  }

  private static String text(byte[] b) {
    int end = 0;
    while (end < b.length && b[end] != 0) {
      end++;
    }
    return new String(b, 0, end, StandardCharsets.UTF_8);
  }

  private static long octal(byte[] b, int off, int len) throws Refused {
    if ((b[off] & 0x80) != 0) {
      // GNU base-256: only for sizes beyond 8 GiB, far over any limit.
      throw new Refused("the release file has an entry too large to be a release");
    }
    long v = 0;
    int i = off;
    int end = off + len;
    while (i < end && (b[i] == ' ' || b[i] == 0)) {
      i++;
    }
    for (; i < end && b[i] != 0 && b[i] != ' '; i++) {
      if (b[i] < '0' || b[i] > '7') {
        throw new Refused("the release file has a malformed tar header");
      }
      v = v * 8 + (b[i] - '0');
    }
    return v;
  }

  private static void checkSum(byte[] h) throws Refused {
    long want = octal(h, 148, 8);
    long sum = 0;
    for (int i = 0; i < BLOCK; i++) {
      sum += (i >= 148 && i < 156) ? ' ' : (h[i] & 0xff);
    }
    if (sum != want) {
      throw new Refused("the release file has a tar header with a bad checksum: it is damaged");
    }
  }

  private static boolean allZero(byte[] b) {
    for (byte x : b) {
      if (x != 0) {
        return false;
      }
    }
    return true;
  }

  private static boolean readBlock(InputStream in, byte[] block) throws IOException {
    return in.readNBytes(block, 0, BLOCK) == BLOCK;
  }

  private static long padded(long size) {
    return (size + BLOCK - 1) / BLOCK * BLOCK;
  }

  private static void skip(InputStream in, long n) throws IOException {
    long left = n;
    while (left > 0) {
      long s = in.skip(left);
      if (s <= 0) {
        if (in.read() < 0) {
          throw new Refused("the release file is truncated");
        }
        s = 1;
      }
      left -= s;
    }
  }
}
