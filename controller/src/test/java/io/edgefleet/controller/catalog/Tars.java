package io.edgefleet.controller.catalog;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;

/**
 * Writes tar.gz archives for tests, including the entries the catalog must refuse. Compresses as it
 * goes, so archives that unpack to hundreds of megabytes stay small in memory.
 */
public final class Tars {
  private final ByteArrayOutputStream compressed = new ByteArrayOutputStream();
  private final GZIPOutputStream tar;

  private Tars() {
    try {
      tar = new GZIPOutputStream(compressed, 64 * 1024);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static Tars create() {
    return new Tars();
  }

  /** A tar.gz of these files, in the map's order. */
  public static byte[] of(Map<String, String> files) {
    Tars t = create();
    files.forEach(t::file);
    return t.tgz();
  }

  /** A tar.gz of every regular file under {@code dir}, paths prefixed with {@code prefix}. */
  static byte[] ofDirectory(Path dir, String prefix) {
    Tars t = create();
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.filter(Files::isRegularFile).sorted().toList()) {
        t.file(prefix + dir.relativize(p).toString().replace('\\', '/'), Files.readAllBytes(p));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return t.tgz();
  }

  /** Files of a directory tree as the catalog stores them: relative path to bytes. */
  static TreeMap<String, byte[]> read(Path dir) {
    TreeMap<String, byte[]> out = new TreeMap<>();
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.filter(Files::isRegularFile).toList()) {
        out.put(dir.relativize(p).toString().replace('\\', '/'), Files.readAllBytes(p));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  Tars file(String name, String content) {
    return file(name, content.getBytes(StandardCharsets.UTF_8));
  }

  /** A regular file; a name longer than a tar header holds goes in a pax header. */
  Tars file(String name, byte[] content) {
    if (name.getBytes(StandardCharsets.UTF_8).length > 100) {
      paxHeader(name);
      return entry("truncated-name", '0', content, "");
    }
    return entry(name, '0', content, "");
  }

  Tars directory(String name) {
    return entry(name, '5', new byte[0], "");
  }

  Tars symlink(String name, String target) {
    return entry(name, '2', new byte[0], target);
  }

  /** A file whose path comes from a pax extended header. */
  Tars paxFile(String path, String content) {
    paxHeader(path);
    return entry("truncated-name", '0', content.getBytes(StandardCharsets.UTF_8), "");
  }

  private void paxHeader(String path) {
    paxHeader('x', record("path", path));
  }

  /** A pax extended header ({@code x}) or global header ({@code g}) holding these records. */
  Tars paxHeader(char type, String... records) {
    return entry(
        "PaxHeaders/x", type, String.join("", records).getBytes(StandardCharsets.UTF_8), "");
  }

  /** One pax record, {@code "<length> <key>=<value>\n"}. */
  static String record(String key, String value) {
    String record = " " + key + "=" + value + "\n";
    int len = record.getBytes(StandardCharsets.UTF_8).length + 1;
    while ((len + record).getBytes(StandardCharsets.UTF_8).length != len) {
      len++;
    }
    return len + record;
  }

  /** A pax record of exactly {@code bytes} bytes: a comment of that many letters. */
  static String recordOfSize(int bytes) {
    // "<digits of bytes> comment=<letters>\n"
    int letters = bytes - String.valueOf(bytes).length() - " comment=\n".length();
    return record("comment", "a".repeat(letters));
  }

  /** A file whose path comes from a GNU long-name entry. */
  Tars gnuLongNameFile(String path, String content) {
    return gnuLongNameFile(path, content, 0);
  }

  /** A file whose path comes from a GNU long-name entry padded with {@code nuls} NUL bytes. */
  Tars gnuLongNameFile(String path, String content, int nuls) {
    byte[] name = path.getBytes(StandardCharsets.UTF_8);
    entry("././@LongLink", 'L', java.util.Arrays.copyOf(name, name.length + 1 + nuls), "");
    return file("truncated-name", content);
  }

  Tars entry(String name, char type, byte[] content, String link) {
    try {
      tar.write(raw(name, type, content, link));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return this;
  }

  /** One uncompressed entry: its ustar header, the content and the padding to a whole block. */
  static byte[] raw(String name, char type, byte[] content, String link) {
    byte[] h = new byte[512];
    put(h, 0, 100, name);
    put(h, 100, 8, "0000644");
    put(h, 108, 8, "0000000");
    put(h, 116, 8, "0000000");
    put(h, 124, 12, String.format("%011o", content.length));
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
    h[155] = ' ';
    int pad = (512 - content.length % 512) % 512;
    byte[] out = java.util.Arrays.copyOf(h, 512 + content.length + pad);
    System.arraycopy(content, 0, out, 512, content.length);
    return out;
  }

  /** The archive: what was written, two zero blocks, compressed. Called once. */
  byte[] tgz() {
    try {
      tar.write(new byte[1024]);
      tar.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return compressed.toByteArray();
  }

  private static void put(byte[] h, int off, int len, String value) {
    byte[] b = value.getBytes(StandardCharsets.UTF_8);
    System.arraycopy(b, 0, h, off, Math.min(len, b.length));
  }
}
