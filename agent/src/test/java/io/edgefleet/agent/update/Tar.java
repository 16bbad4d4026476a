package io.edgefleet.agent.update;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.zip.GZIPOutputStream;

/** Writes gzip tar files entry by entry, good and bad ones alike, for the extraction tests. */
final class Tar {
  private final ByteArrayOutputStream tar = new ByteArrayOutputStream();

  Tar file(String name, byte[] content) {
    header(name, '0', content.length, "");
    body(content);
    return this;
  }

  Tar file(String name, String content) {
    return file(name, content.getBytes(StandardCharsets.UTF_8));
  }

  Tar dir(String name) {
    header(name, '5', 0, "");
    return this;
  }

  Tar symlink(String name, String target) {
    header(name, '2', 0, target);
    return this;
  }

  Tar hardlink(String name, String target) {
    header(name, '1', 0, target);
    return this;
  }

  Tar fifo(String name) {
    header(name, '6', 0, "");
    return this;
  }

  /** A pax extended header naming the next entry {@code path}. */
  Tar paxPath(String path) {
    String rec = " path=" + path + "\n";
    int len = rec.length();
    String withLen = len + rec;
    while (withLen.length() != Integer.parseInt(withLen.substring(0, withLen.indexOf(' ')))) {
      len++;
      withLen = len + rec;
    }
    byte[] b = withLen.getBytes(StandardCharsets.UTF_8);
    header("PaxHeader", 'x', b.length, "");
    body(b);
    return this;
  }

  /** A GNU long-name header naming the next entry {@code path}. */
  Tar gnuLongName(String path) {
    byte[] b = (path + "\0").getBytes(StandardCharsets.UTF_8);
    header("././@LongLink", 'L', b.length, "");
    body(b);
    return this;
  }

  /** The tar with its end marker, gzipped. */
  byte[] gzip() {
    return gzip(true);
  }

  byte[] gzip(boolean endMarker) {
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
        gz.write(tar.toByteArray());
        if (endMarker) {
          gz.write(new byte[1024]);
        }
      }
      return out.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void header(String name, char type, long size, String link) {
    byte[] h = new byte[512];
    put(h, 0, 100, name);
    put(h, 100, 8, type == '5' ? "0000755" : "0000644");
    put(h, 108, 8, "0000000");
    put(h, 116, 8, "0000000");
    put(h, 124, 12, String.format("%011o", size));
    put(h, 136, 12, String.format("%011o", 1_700_000_000L));
    h[156] = (byte) type;
    put(h, 157, 100, link);
    put(h, 257, 6, "ustar");
    put(h, 263, 2, "00");
    for (int i = 148; i < 156; i++) {
      h[i] = ' ';
    }
    long sum = 0;
    for (byte b : h) {
      sum += b & 0xff;
    }
    put(h, 148, 8, String.format("%06o", sum));
    h[154] = 0;
    h[155] = ' ';
    tar.writeBytes(h);
  }

  private void body(byte[] content) {
    tar.writeBytes(content);
    int pad = (512 - content.length % 512) % 512;
    tar.writeBytes(new byte[pad]);
  }

  private static void put(byte[] h, int off, int len, String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    if (b.length > len) {
      throw new IllegalArgumentException("too long for the header: " + s);
    }
    System.arraycopy(b, 0, h, off, b.length);
  }
}
