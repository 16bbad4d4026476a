package io.edgefleet.controller.catalog;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * A gzip stream of the same tar bytes repeated many times and then two zero blocks, produced as it
 * is read: the unit is compressed once (ending in a full flush, so its compressed form can simply
 * be repeated), so a stream that unpacks to gigabytes costs nothing until someone reads it. Counts
 * what was read.
 */
final class RepeatedTarGz extends InputStream {
  private static final byte[] GZIP_HEADER = {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, 0, (byte) 0xff};

  private final byte[] unit;
  private final byte[] deflatedUnit;
  private final long repeat;
  private final CRC32 crc = new CRC32();
  private long units;
  private long unpacked;
  private long compressed;
  private byte[] chunk = GZIP_HEADER;
  private int pos;
  private int stage; // 0 header, 1 units, 2 end, 3 trailer, 4 done

  RepeatedTarGz(byte[] unit, long repeat) {
    this.unit = unit;
    this.repeat = repeat;
    this.deflatedUnit = deflate(unit, false);
  }

  /** Compressed bytes read so far. */
  long compressedRead() {
    return compressed;
  }

  /** How many bytes the units handed out so far unpack to. */
  long unpackedServed() {
    return unpacked;
  }

  /** How many bytes the whole stream unpacks to. */
  long unpackedTotal() {
    return unit.length * repeat + 1024;
  }

  @Override
  public int read() {
    byte[] one = new byte[1];
    return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) {
    if (len == 0) {
      return 0;
    }
    while (pos == chunk.length) {
      if (!next()) {
        return -1;
      }
    }
    int n = Math.min(len, chunk.length - pos);
    System.arraycopy(chunk, pos, b, off, n);
    pos += n;
    compressed += n;
    return n;
  }

  private boolean next() {
    pos = 0;
    if (stage == 0) {
      stage = 1;
    }
    if (stage == 1) {
      if (units < repeat) {
        units++;
        unpacked += unit.length;
        crc.update(unit);
        chunk = deflatedUnit;
        return true;
      }
      stage = 2;
      byte[] zeros = new byte[1024];
      crc.update(zeros);
      unpacked += zeros.length;
      chunk = deflate(zeros, true);
      return true;
    }
    if (stage == 2) {
      stage = 3;
      long crcValue = crc.getValue();
      long size = unpacked;
      chunk = new byte[8];
      for (int i = 0; i < 4; i++) {
        chunk[i] = (byte) (crcValue >>> (8 * i));
        chunk[4 + i] = (byte) (size >>> (8 * i));
      }
      return true;
    }
    stage = 4;
    chunk = new byte[0];
    return false;
  }

  private static byte[] deflate(byte[] plain, boolean last) {
    Deflater d = new Deflater(Deflater.BEST_COMPRESSION, true);
    try {
      d.setInput(plain);
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      byte[] buf = new byte[64 * 1024];
      if (last) {
        d.finish();
        while (!d.finished()) {
          out.write(buf, 0, d.deflate(buf));
        }
      } else {
        int n;
        do {
          n = d.deflate(buf, 0, buf.length, Deflater.FULL_FLUSH);
          out.write(buf, 0, n);
        } while (n == buf.length || !d.needsInput());
      }
      return out.toByteArray();
    } finally {
      d.end();
    }
  }
}
