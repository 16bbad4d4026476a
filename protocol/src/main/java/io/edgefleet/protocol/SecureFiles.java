package io.edgefleet.protocol;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Writes files atomically (temp file + rename) so a crash never leaves half a key behind; secret
 * files are created with mode 0600 before any byte is written.
 */
public final class SecureFiles {
  private SecureFiles() {}

  public static void writeSecret(Path file, String content) {
    write(file, content, true);
  }

  public static void writePublic(Path file, String content) {
    write(file, content, false);
  }

  private static void write(Path file, String content, boolean secret) {
    try {
      Path dir = file.toAbsolutePath().getParent();
      Files.createDirectories(dir);
      Path tmp =
          secret
              ? Files.createTempFile(
                  dir,
                  "." + file.getFileName(),
                  ".tmp",
                  PosixFilePermissions.asFileAttribute(
                      PosixFilePermissions.fromString("rw-------")))
              : Files.createTempFile(
                  dir,
                  "." + file.getFileName(),
                  ".tmp",
                  PosixFilePermissions.asFileAttribute(
                      PosixFilePermissions.fromString("rw-r--r--")));
      Files.writeString(tmp, content, StandardCharsets.UTF_8);
      try {
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }
}
