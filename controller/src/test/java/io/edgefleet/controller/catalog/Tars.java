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

/** Writes tar.gz archives for tests, including the entries the catalog must refuse. */
final class Tars {
  private final ByteArrayOutputStream tar = new ByteArrayOutputStream();

  static Tars create() {
    return new Tars();
  }

  /** A tar.gz of these files, in the map's order. */
  static byte[] of(Map<String, String> files) {
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
    String record = " path=" + path + "\n";
    int len = record.getBytes(StandardCharsets.UTF_8).length + 1;
    while ((len + record).getBytes(StandardCharsets.UTF_8).length != len) {
      len++;
    }
    entry("PaxHeaders/x", 'x', (len + record).getBytes(StandardCharsets.UTF_8), "");
  }

  /** A file whose path comes from a GNU long-name entry. */
  Tars gnuLongNameFile(String path, String content) {
    byte[] name = (path + "\0").getBytes(StandardCharsets.UTF_8);
    entry("././@LongLink", 'L', name, "");
    return file("truncated-name", content);
  }

  Tars entry(String name, char type, byte[] content, String link) {
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
    tar.writeBytes(h);
    tar.writeBytes(content);
    int pad = (512 - content.length % 512) % 512;
    tar.writeBytes(new byte[pad]);
    return this;
  }

  byte[] tgz() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(tar.toByteArray());
      gz.write(new byte[1024]);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  private static void put(byte[] h, int off, int len, String value) {
    byte[] b = value.getBytes(StandardCharsets.UTF_8);
    System.arraycopy(b, 0, h, off, Math.min(len, b.length));
  }
}
