package io.edgefleet.protocol;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * Writes files atomically (temp file, sync, rename) so a crash or power cut leaves either the old
 * or the new content, never half of it. Secret files are created with mode 0600 before any byte is
 * written, and the directories created for them with mode 0700: there is no moment at which another
 * user could open them.
 */
public final class SecureFiles {
  private static final Set<PosixFilePermission> OWNER_FILE =
      PosixFilePermissions.fromString("rw-------");
  private static final Set<PosixFilePermission> OWNER_DIR =
      PosixFilePermissions.fromString("rwx------");
  private static final Set<PosixFilePermission> PUBLIC_FILE =
      PosixFilePermissions.fromString("rw-r--r--");

  private SecureFiles() {}

  /**
   * Replaces {@code file} with {@code content} (UTF-8), mode 0600; see {@link #writeSecret(Path,
   * byte[])}.
   */
  public static void writeSecret(Path file, String content) {
    writeSecret(file, content.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * Replaces {@code file} with {@code content}, readable and writable by its owner only (0600).
   * Missing parent directories are created with mode 0700. The bytes are synced to disk before the
   * file takes the old one's place, and the rename is synced too.
   *
   * @throws UncheckedIOException if the file cannot be written; the old content is then intact
   */
  public static void writeSecret(Path file, byte[] content) {
    write(file, content, OWNER_FILE);
  }

  /** Replaces {@code file} with {@code content} (UTF-8), mode 0644, atomically. */
  public static void writePublic(Path file, String content) {
    write(file, content.getBytes(StandardCharsets.UTF_8), PUBLIC_FILE);
  }

  /** A file attribute for {@code Files}/{@code FileChannel} calls that create a 0600 file. */
  public static FileAttribute<Set<PosixFilePermission>> ownerOnlyFile() {
    return PosixFilePermissions.asFileAttribute(OWNER_FILE);
  }

  /**
   * Creates {@code dir} and its missing parents with mode 0700; existing ones are left as they are.
   */
  public static Path createPrivateDirectories(Path dir) {
    try {
      return Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(OWNER_DIR));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create directory " + dir, e);
    }
  }

  /**
   * Restricts {@code root} and everything below it to its owner: directories 0700, files 0600.
   * Symbolic links are neither followed nor changed. Used on start-up to tighten what an older
   * version left readable by others.
   *
   * @return how many paths were changed
   * @throws UncheckedIOException if a mode cannot be changed (e.g. the path belongs to another
   *     user)
   */
  public static int restrictToOwner(Path root) {
    int[] changed = {0};
    try {
      Files.walkFileTree(
          root,
          new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs)
                throws IOException {
              restrict(dir, OWNER_DIR);
              return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
                throws IOException {
              if (attrs.isRegularFile()) {
                restrict(file, OWNER_FILE);
              }
              return FileVisitResult.CONTINUE;
            }

            private void restrict(Path p, Set<PosixFilePermission> wanted) throws IOException {
              Set<PosixFilePermission> now =
                  Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS);
              if (!now.equals(wanted)) {
                Files.setPosixFilePermissions(p, wanted);
                changed[0]++;
              }
            }
          });
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot restrict " + root + " to its owner: " + e.getMessage(), e);
    }
    return changed[0];
  }

  private static void write(Path file, byte[] content, Set<PosixFilePermission> mode) {
    Path dir = file.toAbsolutePath().getParent();
    Path tmp = null;
    try {
      if (!Files.isDirectory(dir)) {
        createPrivateDirectories(dir);
      }
      tmp =
          Files.createTempFile(
              dir, "." + file.getFileName(), ".tmp", PosixFilePermissions.asFileAttribute(mode));
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        ByteBuffer b = ByteBuffer.wrap(content);
        while (b.hasRemaining()) {
          ch.write(b);
        }
        ch.force(true);
      }
      try {
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
      tmp = null;
      syncDirectory(dir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    } finally {
      if (tmp != null) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException e) {
          // A stray temporary file is harmless: it is never read.
        }
      }
    }
  }

  /** Makes a rename in {@code dir} durable; a no-op where directories cannot be synced. */
  public static void syncDirectory(Path dir) {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException e) {
      // Some file systems cannot sync a directory; the file itself is synced.
    }
  }

  /**
   * Deletes {@code p} and, for a directory, everything under it; a symbolic link is removed, never
   * followed. Nothing to do when {@code p} does not exist.
   */
  public static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    Files.walkFileTree(
        p,
        new java.nio.file.SimpleFileVisitor<>() {
          @Override
          public java.nio.file.FileVisitResult visitFile(
              Path f, java.nio.file.attribute.BasicFileAttributes a) throws IOException {
            Files.delete(f);
            return java.nio.file.FileVisitResult.CONTINUE;
          }

          @Override
          public java.nio.file.FileVisitResult postVisitDirectory(Path d, IOException e)
              throws IOException {
            if (e != null) {
              throw e;
            }
            Files.delete(d);
            return java.nio.file.FileVisitResult.CONTINUE;
          }
        });
  }
}
