package io.edgefleet.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SecureFilesTest {
  @TempDir Path dir;

  @Test
  void aSecretIsOwnerOnlyFromTheStartAndSoAreTheDirectoriesMadeForIt() throws Exception {
    Path file = dir.resolve("state/desired/bundles/b.yaml");
    SecureFiles.writeSecret(file, "password: s3cret\n".getBytes(StandardCharsets.UTF_8));
    assertThat(mode(file)).isEqualTo("rw-------");
    assertThat(mode(dir.resolve("state"))).isEqualTo("rwx------");
    assertThat(mode(dir.resolve("state/desired/bundles"))).isEqualTo("rwx------");

    SecureFiles.writeSecret(file, "password: other\n");
    assertThat(Files.readString(file)).isEqualTo("password: other\n");
    try (var left = Files.list(file.getParent())) {
      assertThat(left.toList()).as("no temporary file left").containsExactly(file);
    }
  }

  @Test
  void aFailedWriteLeavesTheOldContent() throws Exception {
    Path file = dir.resolve("current.json");
    SecureFiles.writeSecret(file, "old");
    Files.createDirectory(dir.resolve("blocker"));
    // The target is a non-empty directory: the rename fails after the temporary file is written.
    Files.writeString(dir.resolve("blocker/x"), "x");
    assertThatThrownBy(() -> SecureFiles.writeSecret(dir.resolve("blocker"), "new"))
        .isInstanceOf(UncheckedIOException.class);
    assertThat(Files.readString(file)).isEqualTo("old");
    try (var left = Files.list(dir)) {
      assertThat(left.map(p -> p.getFileName().toString()).toList())
          .containsExactlyInAnyOrder("current.json", "blocker");
    }
  }

  @Test
  void restrictingATreeTightensLooseModesAndLeavesLinksAlone() throws Exception {
    Path root = Files.createDirectories(dir.resolve("agent/desired"));
    Files.writeString(root.resolve("current.json"), "{}");
    Path outside = Files.writeString(dir.resolve("elsewhere.txt"), "not ours");
    Files.createSymbolicLink(root.resolve("link"), outside);
    for (Path p : new Path[] {dir.resolve("agent"), root}) {
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
    Files.setPosixFilePermissions(
        root.resolve("current.json"), PosixFilePermissions.fromString("rw-r--r--"));
    Files.setPosixFilePermissions(outside, PosixFilePermissions.fromString("rw-r--r--"));

    assertThat(SecureFiles.restrictToOwner(dir.resolve("agent"))).isEqualTo(3);
    assertThat(mode(dir.resolve("agent"))).isEqualTo("rwx------");
    assertThat(mode(root)).isEqualTo("rwx------");
    assertThat(mode(root.resolve("current.json"))).isEqualTo("rw-------");
    assertThat(mode(outside)).as("a link's target is not ours to change").isEqualTo("rw-r--r--");
    assertThat(SecureFiles.restrictToOwner(dir.resolve("agent"))).isZero();
  }

  private static String mode(Path p) throws Exception {
    return PosixFilePermissions.toString(
        Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
  }
}
