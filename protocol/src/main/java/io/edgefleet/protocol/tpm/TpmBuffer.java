package io.edgefleet.protocol.tpm;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;

/**
 * Big-endian TPM 2.0 wire encoding: a growing writer and a bounds-checked reader. Reading past the
 * end, or a size field larger than what is left, throws {@link TpmFormatException} instead of
 * returning garbage, so structures from an untrusted peer fail cleanly.
 */
public final class TpmBuffer {
  private TpmBuffer() {}

  /** Writes TPM structures. Not thread-safe. */
  public static final class Writer {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    public Writer u8(int v) {
      out.write(v & 0xff);
      return this;
    }

    public Writer u16(int v) {
      out.write((v >>> 8) & 0xff);
      out.write(v & 0xff);
      return this;
    }

    public Writer u32(long v) {
      u16((int) (v >>> 16));
      return u16((int) v);
    }

    public Writer u64(long v) {
      u32(v >>> 32);
      return u32(v);
    }

    public Writer bytes(byte[] b) {
      out.writeBytes(b);
      return this;
    }

    /** A TPM2B: 16-bit size, then the bytes. */
    public Writer sized(byte[] b) {
      if (b.length > 0xffff) {
        throw new IllegalArgumentException("a TPM2B holds at most 65535 bytes, got " + b.length);
      }
      u16(b.length);
      return bytes(b);
    }

    public int size() {
      return out.size();
    }

    public byte[] toBytes() {
      return out.toByteArray();
    }
  }

  /** Reads TPM structures from a byte array. Not thread-safe. */
  public static final class Reader {
    private final byte[] data;
    private int pos;

    public Reader(byte[] data) {
      this.data = data;
    }

    public int position() {
      return pos;
    }

    public int remaining() {
      return data.length - pos;
    }

    private void need(int n, String what) {
      if (n < 0 || n > remaining()) {
        throw new TpmFormatException(
            "truncated TPM structure: "
                + what
                + " needs "
                + n
                + " bytes at offset "
                + pos
                + ", "
                + remaining()
                + " left");
      }
    }

    public int u8() {
      need(1, "u8");
      return data[pos++] & 0xff;
    }

    public int u16() {
      need(2, "u16");
      int v = ((data[pos] & 0xff) << 8) | (data[pos + 1] & 0xff);
      pos += 2;
      return v;
    }

    public long u32() {
      need(4, "u32");
      long v = ((long) u16() << 16) | u16();
      return v;
    }

    public long u64() {
      need(8, "u64");
      return (u32() << 32) | u32();
    }

    public byte[] bytes(int n) {
      need(n, "byte string");
      byte[] b = Arrays.copyOfRange(data, pos, pos + n);
      pos += n;
      return b;
    }

    /** A TPM2B: 16-bit size, then that many bytes. */
    public byte[] sized() {
      int n = u16();
      need(n, "TPM2B of " + n + " bytes");
      return bytes(n);
    }

    /** The bytes from {@code from} up to the current position. */
    public byte[] since(int from) {
      return Arrays.copyOfRange(data, from, pos);
    }

    /** Fails unless every byte has been read. */
    public void end(String what) {
      if (remaining() != 0) {
        throw new TpmFormatException(what + " has " + remaining() + " trailing bytes");
      }
    }
  }
}
