package io.edgefleet.agent.airgap;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** Writes small ustar archives byte by byte, including broken ones, for the reader's tests. */
final class Tars {
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();

  Tars file(String name, byte[] content) {
    return entry(name, (byte) '0', content, "");
  }

  Tars file(String name, String content) {
    return file(name, content.getBytes(StandardCharsets.UTF_8));
  }

  Tars entry(String name, byte type, byte[] content, String prefix) {
    out.writeBytes(header(name, type, content.length, prefix));
    out.writeBytes(content);
    out.writeBytes(new byte[(512 - content.length % 512) % 512]);
    return this;
  }

  /** The archive with its end marker. */
  byte[] end() {
    out.writeBytes(new byte[1024]);
    return out.toByteArray();
  }

  /** The archive without an end marker. */
  byte[] cut() {
    return out.toByteArray();
  }

  static byte[] header(String name, byte type, long size, String prefix) {
    byte[] h = new byte[512];
    put(h, 0, name);
    put(h, 100, "0000600");
    put(h, 108, "0000000");
    put(h, 116, "0000000");
    put(h, 124, String.format("%011o", size));
    put(h, 136, String.format("%011o", 0));
    h[156] = type;
    put(h, 257, "ustar");
    put(h, 263, "00");
    put(h, 345, prefix);
    for (int i = 148; i < 156; i++) {
      h[i] = ' ';
    }
    long sum = 0;
    for (byte b : h) {
      sum += b & 0xff;
    }
    put(h, 148, String.format("%06o", sum));
    h[154] = 0;
    return h;
  }

  private static void put(byte[] h, int at, String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    System.arraycopy(b, 0, h, at, b.length);
  }
}
