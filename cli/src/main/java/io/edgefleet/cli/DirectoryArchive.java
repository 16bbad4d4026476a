package io.edgefleet.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Packs a directory into a {@code .tar.gz} in memory, the format the controller's catalog reads:
 * regular files only, paths relative to the directory in sorted order, no owners or times (so the
 * same files always give the same bytes), written by {@link TarGz}. Stateless.
 */
final class DirectoryArchive {
  /** The controller refuses archives with more files. */
  static final int MAX_FILES = 2000;

  /** The controller refuses archives that unpack to more bytes. */
  static final long MAX_BYTES = 64L << 20;

  private DirectoryArchive() {}

  /**
   * The files under {@code dir} as a gzip-compressed tar archive.
   *
   * @throws IllegalArgumentException if {@code dir} is not a directory or holds a symbolic link or
   *     special file, more than {@value #MAX_FILES} files or more than 64 MiB
   */
  static byte[] pack(Path dir) {
    Map<String, byte[]> contents = new LinkedHashMap<>();
    long total = 0;
    for (Path file : files(dir)) {
      byte[] content;
      try {
        content = Files.readAllBytes(file);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read " + dir, e);
      }
      total += content.length;
      if (total > MAX_BYTES) {
        throw new IllegalArgumentException(
            dir + " holds more than " + (MAX_BYTES >> 20) + " MiB of files; the limit is that");
      }
      contents.put(relative(dir, file), content);
    }
    return TarGz.write(contents);
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
}
