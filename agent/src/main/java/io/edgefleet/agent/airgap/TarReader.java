package io.edgefleet.agent.airgap;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Reads a tar archive from an untrusted stream, one entry at a time, with bounded memory: only the
 * 512-byte header is buffered, an entry's content is read through {@link Entry#content()}, and what
 * the caller does not read is skipped. Plain ustar only: regular files, names within the 100-byte
 * name field matching {@code names}, at most {@code maxEntries} entries. Anything else (links,
 * devices, directories, long-name or pax extensions, bad checksums) is refused, so no name in an
 * archive can point outside what the caller expects. Not thread-safe.
 */
final class TarReader {
  static final int BLOCK = 512;

  /** An archive this reader refuses; the message says what is wrong with it. */
  static final class Malformed extends IOException {
    Malformed(String message) {
      super(message);
    }
  }

  /** One entry: its name, its declared size, and a stream of exactly that many bytes. */
  record Entry(String name, long size, InputStream content) {}

  private final InputStream in;
  private final Pattern names;
  private final int maxEntries;
  private final byte[] header = new byte[BLOCK];
  private int entries;
  private long left;
  private long padding;
  private boolean ended;

  TarReader(InputStream in, Pattern names, int maxEntries) {
    this.in = in;
    this.names = names;
    this.maxEntries = maxEntries;
  }

  /** The next entry, skipping what is left of the previous one; empty at the archive's end. */
  Optional<Entry> next() throws IOException {
    if (ended) {
      return Optional.empty();
    }
    skip(left + padding);
    left = 0;
    padding = 0;
    if (!readBlock()) {
      throw new Malformed("the archive ends without its end marker: it is cut short");
    }
    if (allZero(header)) {
      ended = true;
      return Optional.empty();
    }
    if (++entries > maxEntries) {
      throw new Malformed("the archive holds more than " + maxEntries + " entries");
    }
    checkSum();
    String magic = new String(header, 257, 5, StandardCharsets.US_ASCII);
    if (!magic.equals("ustar")) {
      throw new Malformed("entry " + entries + " is not a ustar header");
    }
    byte type = header[156];
    String name = text(0, 100);
    String prefix = text(345, 155);
    if (!prefix.isEmpty()) {
      throw new Malformed("entry " + entries + " has a long name, which this format never uses");
    }
    if (type != '0' && type != 0) {
      throw new Malformed(
          "entry "
              + entries
              + " ("
              + printable(name)
              + ") is not a regular file (type "
              + type
              + ")");
    }
    if (!names.matcher(name).matches()) {
      throw new Malformed("entry " + entries + " has an unexpected name: " + printable(name));
    }
    long size = octal(124, 12);
    left = size;
    padding = (BLOCK - size % BLOCK) % BLOCK;
    return Optional.of(new Entry(name, size, new Content()));
  }

  /** The bytes of the current entry; ends at the entry's end. */
  private final class Content extends InputStream {
    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (left == 0) {
        return -1;
      }
      int n = in.read(b, off, (int) Math.min(len, left));
      if (n < 0) {
        throw new EOFException("the archive is cut short inside an entry");
      }
      left -= n;
      return n;
    }
  }

  private boolean readBlock() throws IOException {
    int got = in.readNBytes(header, 0, BLOCK);
    if (got == 0) {
      return false;
    }
    if (got < BLOCK) {
      throw new Malformed("the archive is cut short inside a header");
    }
    return true;
  }

  private void skip(long n) throws IOException {
    byte[] buffer = new byte[8192];
    while (n > 0) {
      int got = in.read(buffer, 0, (int) Math.min(buffer.length, n));
      if (got < 0) {
        throw new Malformed("the archive is cut short inside an entry");
      }
      n -= got;
    }
  }

  private void checkSum() throws Malformed {
    long stored = octal(148, 8);
    long sum = 0;
    for (int i = 0; i < BLOCK; i++) {
      sum += (i >= 148 && i < 156) ? ' ' : (header[i] & 0xff);
    }
    if (sum != stored) {
      throw new Malformed("entry " + entries + " has a damaged header (checksum mismatch)");
    }
  }

  private long octal(int offset, int length) throws Malformed {
    long v = 0;
    int i = offset;
    int end = offset + length;
    while (i < end && (header[i] == ' ' || header[i] == 0)) {
      i++;
    }
    boolean digits = false;
    for (; i < end; i++) {
      byte b = header[i];
      if (b == 0 || b == ' ') {
        break;
      }
      if (b < '0' || b > '7') {
        throw new Malformed("entry " + entries + " has a malformed number in its header");
      }
      v = (v << 3) + (b - '0');
      digits = true;
    }
    if (!digits) {
      throw new Malformed("entry " + entries + " has an empty number in its header");
    }
    return v;
  }

  private String text(int offset, int length) {
    int end = offset;
    while (end < offset + length && header[end] != 0) {
      end++;
    }
    return new String(header, offset, end - offset, StandardCharsets.UTF_8);
  }

  private static boolean allZero(byte[] b) {
    for (byte x : b) {
      if (x != 0) {
        return false;
      }
    }
    return true;
  }

  private static String printable(String s) {
    return s.replaceAll("[^\\x20-\\x7e]", "?");
  }
}
