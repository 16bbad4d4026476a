package io.edgefleet.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;

/**
 * Packs a directory into a {@code .tar.gz} in memory, the format the controller's catalog reads:
 * regular files only, paths relative to the directory in sorted order, no owners or times (so the
 * same files always give the same bytes). Names longer than a tar header holds go in pax headers.
 * Stateless.
 */
final class DirectoryArchive {
  /** The controller refuses archives with more files. */
  static final int MAX_FILES = 2000;

  /** The controller refuses archives that unpack to more bytes. */
  static final long MAX_BYTES = 64L << 20;

  private static final int BLOCK = 512;

  private DirectoryArchive() {}

  /**
   * The files under {@code dir} as a gzip-compressed tar archive.
   *
   * @throws IllegalArgumentException if {@code dir} is not a directory or holds a symbolic link or
   *     special file, more than {@value #MAX_FILES} files or more than 64 MiB
   */
  static byte[] pack(Path dir) {
    List<Path> files = files(dir);
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(buf)) {
      long total = 0;
      for (Path file : files) {
        byte[] content = Files.readAllBytes(file);
        total += content.length;
        if (total > MAX_BYTES) {
          throw new IllegalArgumentException(
              dir + " holds more than " + (MAX_BYTES >> 20) + " MiB of files; the limit is that");
        }
        entry(gz, relative(dir, file), content);
      }
      gz.write(new byte[2 * BLOCK]);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + dir, e);
    }
    return buf.toByteArray();
  }

  /** The regular files under {@code dir}, sorted by relative path. */
  static List<Path> files(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException(dir + " is not a directory");
    }
    List<Path> files = new ArrayList<>();
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) walk::iterator) {
        if (p.equals(dir) || Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
          continue;
        }
        if (Files.isSymbolicLink(p)) {
          throw new IllegalArgumentException(
              relative(dir, p)
                  + " in "
                  + dir
                  + " is a symbolic link; the catalog takes regular files only: replace it with"
                  + " a copy of its target");
        }
        if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
          throw new IllegalArgumentException(
              relative(dir, p) + " in " + dir + " is not a regular file");
        }
        files.add(p);
        if (files.size() > MAX_FILES) {
          throw new IllegalArgumentException(
              dir + " holds more than " + MAX_FILES + " files; the catalog takes at most that");
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + dir, e);
    }
    files.sort((a, b) -> relative(dir, a).compareTo(relative(dir, b)));
    return files;
  }

  /** Whether a path is a YAML or JSON file by its name. */
  static boolean isYaml(Path file) {
    String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
    return name.endsWith(".yaml") || name.endsWith(".yml") || name.endsWith(".json");
  }

  private static String relative(Path dir, Path file) {
    return dir.relativize(file).toString().replace('\\', '/');
  }

  private static void entry(GZIPOutputStream out, String name, byte[] content) throws IOException {
    byte[] utf8 = name.getBytes(StandardCharsets.UTF_8);
    if (utf8.length > 100) {
      String record = " path=" + name + "\n";
      int len = record.getBytes(StandardCharsets.UTF_8).length + 1;
      while ((len + record).getBytes(StandardCharsets.UTF_8).length != len) {
        len++;
      }
      write(out, "././@PaxHeader", 'x', (len + record).getBytes(StandardCharsets.UTF_8));
      write(out, shortName(name), '0', content);
    } else {
      write(out, name, '0', content);
    }
  }

  /** A stand-in name for the ustar field when a pax header carries the real one. */
  private static String shortName(String name) {
    byte[] b = name.getBytes(StandardCharsets.UTF_8);
    return new String(b, b.length - 99, 99, StandardCharsets.ISO_8859_1)
        .replaceAll("[^A-Za-z0-9._/-]", "_");
  }

  private static void write(GZIPOutputStream out, String name, char type, byte[] content)
      throws IOException {
    byte[] h = new byte[BLOCK];
    put(h, 0, 100, name);
    put(h, 100, 8, "0000644");
    put(h, 108, 8, "0000000");
    put(h, 116, 8, "0000000");
    put(h, 124, 12, String.format(Locale.ROOT, "%011o", content.length));
    put(h, 136, 12, "00000000000");
    h[156] = (byte) type;
    put(h, 257, 6, "ustar");
    put(h, 263, 2, "00");
    for (int i = 148; i < 156; i++) {
      h[i] = ' ';
    }
    long sum = 0;
    for (byte b : h) {
      sum += b & 0xff;
    }
    put(h, 148, 6, String.format(Locale.ROOT, "%06o", sum));
    h[154] = 0;
    out.write(h);
    out.write(content);
    out.write(new byte[(BLOCK - content.length % BLOCK) % BLOCK]);
  }

  private static void put(byte[] h, int off, int len, String value) {
    byte[] b = value.getBytes(StandardCharsets.UTF_8);
    System.arraycopy(b, 0, h, off, Math.min(len, b.length));
  }
}
