package io.edgefleet.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.stream.Stream;

/** Data directories of controller replicas, which share one database and the same keys. */
public final class ReplicaData {
  private ReplicaData() {}

  /**
   * Copies a replica's data directory — CA, signing keys, master key of secrets, admin token — to
   * {@code to}, without its SQLite database (replicas share PostgreSQL).
   */
  public static void copyKeys(Path from, Path to) throws IOException {
    try (Stream<Path> files = Files.walk(from)) {
      for (Path p : files.toList()) {
        Path target = to.resolve(from.relativize(p).toString());
        if (p.getFileName().toString().startsWith("edgefleet.db")) {
          continue;
        }
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else if (Files.isRegularFile(p)) {
          Files.createDirectories(target.getParent());
          Files.copy(p, target, StandardCopyOption.COPY_ATTRIBUTES);
        }
      }
    }
  }
}
