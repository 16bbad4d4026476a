package io.edgefleet.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.testkit.TestController;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The controller's data directory and what it writes there are for its own user only. */
class DataDirectoryIT {
  @TempDir Path dir;

  @Test
  void theDataDirectoryIs0700AndItsFilesAreNotReadableByOthers() throws Exception {
    Path data = dir.resolve("controller");
    try (TestController c = TestController.start(data)) {
      c.admin().post("/api/v1/preregistrations", java.util.Map.of("serial", "SN-1"));
      assertThat(mode(data)).isEqualTo("rwx------");
      for (String file : List.of("edgefleet.db", "edgefleet.db-wal", "admin-token", "secret.key")) {
        assertThat(mode(data.resolve(file))).as(file).isEqualTo("rw-------");
      }
      // Everything at the top is for the owner only; deeper files sit in 0700 directories.
      try (Stream<Path> top = Files.list(data)) {
        for (Path p : top.toList()) {
          assertThat(mode(p)).as(p.toString()).matches("rw[x-]------");
        }
      }
      assertThat(mode(data.resolve("pki/ca.key"))).isEqualTo("rw-------");
    }
  }

  @Test
  void anOlderDataDirectoryIsTightenedAtStart() throws Exception {
    Path data = dir.resolve("old");
    try (TestController c = TestController.start(data)) {
      c.url();
    }
    Files.setPosixFilePermissions(data, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(
        data.resolve("edgefleet.db"), PosixFilePermissions.fromString("rw-r--r--"));
    Files.createDirectories(data.resolve("gitops/clone"));
    Files.setPosixFilePermissions(
        data.resolve("gitops"), PosixFilePermissions.fromString("rwxr-xr-x"));
    try (TestController c = TestController.start(data)) {
      c.url();
      assertThat(mode(data)).isEqualTo("rwx------");
      assertThat(groupOrOtherAccess(data)).isEmpty();
    }
  }

  private static String mode(Path p) throws Exception {
    return PosixFilePermissions.toString(
        Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
  }

  private static List<Path> groupOrOtherAccess(Path root) throws Exception {
    Set<PosixFilePermission> shared =
        Set.of(
            PosixFilePermission.GROUP_READ,
            PosixFilePermission.GROUP_WRITE,
            PosixFilePermission.GROUP_EXECUTE,
            PosixFilePermission.OTHERS_READ,
            PosixFilePermission.OTHERS_WRITE,
            PosixFilePermission.OTHERS_EXECUTE);
    try (Stream<Path> all = Files.walk(root)) {
      return all.filter(p -> !Files.isSymbolicLink(p))
          .filter(
              p -> {
                try {
                  return Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS).stream()
                      .anyMatch(shared::contains);
                } catch (java.io.IOException e) {
                  return false;
                }
              })
          .toList();
    }
  }
}
