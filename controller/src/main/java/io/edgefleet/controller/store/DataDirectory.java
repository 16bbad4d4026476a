package io.edgefleet.controller.store;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The controller's data directory holds its CA key, the database (rendered manifests, sealed
 * secrets, the audit log), Git clones and the admin token: only the controller's own user may read
 * it. It is created 0700; at every start the directory is set to 0700 again and group and other
 * permissions are removed from everything inside (directories and files an older version or a
 * library created with the umask). The SQLite database is created 0600 by {@link Database}.
 */
public final class DataDirectory {
  private static final Set<PosixFilePermission> OWNER_ONLY =
      EnumSet.of(
          PosixFilePermission.OWNER_READ,
          PosixFilePermission.OWNER_WRITE,
          PosixFilePermission.OWNER_EXECUTE);

  private DataDirectory() {}

  /**
   * Creates or tightens {@code dir} as described above.
   *
   * @return the absolute path
   * @throws UncheckedIOException if the directory cannot be created or its modes set
   */
  public static Path prepare(Path dir) {
    Path abs = dir.toAbsolutePath();
    if (!FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
      createDirectories(abs);
      return abs;
    }
    try {
      if (!Files.isDirectory(abs)) {
        Files.createDirectories(
            abs,
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      }
      Files.setPosixFilePermissions(abs, OWNER_ONLY);
      try (Stream<Path> all = Files.walk(abs)) {
        all.filter(p -> !Files.isSymbolicLink(p)).forEach(DataDirectory::ownerOnly);
      }
      return abs;
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot prepare the data directory "
              + abs
              + " (it must be a directory the controller's user owns): "
              + e.getMessage(),
          e);
    }
  }

  /**
   * A subdirectory of a prepared data directory, created 0700 if missing, for a component that
   * keeps files there (keys, Git clones).
   */
  public static Path subdirectory(Path dataDir, String name) {
    Path sub = dataDir.resolve(name);
    if (Files.isDirectory(sub)
        || !FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
      createDirectories(sub);
      return sub;
    }
    try {
      Files.createDirectories(
          sub, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      return sub;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + sub, e);
    }
  }

  private static void ownerOnly(Path p) {
    try {
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS);
      if (perms.removeIf(x -> !OWNER_ONLY.contains(x))) {
        Files.setPosixFilePermissions(p, perms);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot restrict the permissions of " + p, e);
    }
  }

  private static void createDirectories(Path dir) {
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create data directory " + dir, e);
    }
  }
}
