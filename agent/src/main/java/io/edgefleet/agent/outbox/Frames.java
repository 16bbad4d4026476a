package io.edgefleet.agent.outbox;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.zip.CRC32;

/**
 * The on-disk framing of one outbox record: {@code [int length][int crc32][byte kind][long seq]}
 * followed by {@code length} bytes of JSON. The CRC covers kind, seq and payload, so a torn or
 * flipped record is recognised; kind and seq sit in the header so that scans skip payloads they do
 * not need without parsing them.
 */
final class Frames {
  static final int HEADER = 4 + 4 + 1 + 8;

  /** Larger lengths are corruption, not records: the outbox refuses to write them. */
  static final int MAX_PAYLOAD = 256 * 1024;

  static final byte MARKER = 0;
  static final byte EVENT = 1;
  static final byte LOSS = 2;
  static final byte METRICS = 3;

  private Frames() {}

  static ByteBuffer encode(byte kind, long seq, byte[] payload) {
    ByteBuffer b = ByteBuffer.allocate(HEADER + payload.length);
    b.putInt(payload.length).putInt(crc(kind, seq, payload)).put(kind).putLong(seq).put(payload);
    return b.flip();
  }

  static int crc(byte kind, long seq, byte[] payload) {
    CRC32 c = new CRC32();
    ByteBuffer h = ByteBuffer.allocate(9).put(kind).putLong(seq).flip();
    c.update(h);
    c.update(payload);
    return (int) c.getValue();
  }

  /** What a read at a position found. */
  enum Status {
    OK,
    /** Clean end of the data. */
    END,
    /** The frame runs past the end of the file: an append that did not complete. */
    INCOMPLETE,
    /** The frame is complete but its length or checksum is wrong. */
    CORRUPT
  }

  /** A frame header read from a file; {@code payload} is null when not requested. */
  record Frame(Status status, long position, byte kind, long seq, int length, byte[] payload) {
    long next() {
      return position + HEADER + length;
    }

    boolean isRecord() {
      return kind == EVENT || kind == LOSS || kind == METRICS;
    }
  }

  /**
   * Reads the frame at {@code pos} of a file whose valid data ends at {@code size}. The payload is
   * always read to check the CRC when {@code verify}; otherwise only when {@code withPayload}.
   */
  static Frame read(FileChannel ch, long pos, long size, boolean verify, boolean withPayload)
      throws IOException {
    if (pos >= size) {
      return new Frame(Status.END, pos, (byte) -1, 0, 0, null);
    }
    if (pos + HEADER > size) {
      return new Frame(Status.INCOMPLETE, pos, (byte) -1, 0, 0, null);
    }
    ByteBuffer h = ByteBuffer.allocate(HEADER);
    readFully(ch, h, pos);
    h.flip();
    int length = h.getInt();
    int crc = h.getInt();
    byte kind = h.get();
    long seq = h.getLong();
    if (length < 0 || length > MAX_PAYLOAD || kind < MARKER || kind > METRICS) {
      // A length beyond the file may also be a torn header; a bad kind never is.
      boolean torn = kind >= MARKER && kind <= METRICS && pos + HEADER + (long) length > size;
      return new Frame(torn ? Status.INCOMPLETE : Status.CORRUPT, pos, kind, seq, 0, null);
    }
    if (pos + HEADER + length > size) {
      return new Frame(Status.INCOMPLETE, pos, kind, seq, length, null);
    }
    byte[] payload = null;
    if (verify || withPayload) {
      ByteBuffer p = ByteBuffer.allocate(length);
      readFully(ch, p, pos + HEADER);
      payload = p.array();
      if (crc(kind, seq, payload) != crc) {
        return new Frame(Status.CORRUPT, pos, kind, seq, length, null);
      }
    }
    return new Frame(Status.OK, pos, kind, seq, length, withPayload ? payload : null);
  }

  private static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
    long p = pos;
    while (b.hasRemaining()) {
      int n = ch.read(b, p);
      if (n < 0) {
        throw new IOException("unexpected end of file at " + p);
      }
      p += n;
    }
  }
}
