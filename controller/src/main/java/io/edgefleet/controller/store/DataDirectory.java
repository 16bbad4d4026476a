package io.edgefleet.controller.store;

import io.edgefleet.protocol.SecureFiles;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * The controller's data directory holds its CA key, the database (rendered manifests, sealed
 * secrets, the audit log), Git clones and the admin token: only the controller's own user may read
 * it. It is created 0700; at every start the directory and everything inside are restricted to the
 * owner again (directories 0700, files 0600), tightening what an older version or a library created
 * with the umask. The SQLite database is created 0600 by {@link Database}.
 */
public final class DataDirectory {
  private DataDirectory() {}

  /**
   * Creates or tightens {@code dir} as described above.
   *
   * @return the absolute path
   * @throws UncheckedIOException if the directory cannot be created or its modes set (it must
   *     belong to the controller's user)
   */
  public static Path prepare(Path dir) {
    Path abs = dir.toAbsolutePath();
    SecureFiles.createPrivateDirectories(abs);
    SecureFiles.restrictToOwner(abs);
    return abs;
  }

  /**
   * A subdirectory of a prepared data directory, created 0700 if missing, for a component that
   * keeps files there (keys, Git clones).
   */
  public static Path subdirectory(Path dataDir, String name) {
    return SecureFiles.createPrivateDirectories(dataDir.resolve(name));
  }
}
