package io.edgefleet.controller.secrets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MasterKeyRingTest {
  @TempDir Path dir;

  @Test
  void createsOneOwnerOnlyKeyAndReadsItBack() throws Exception {
    Path file = dir.resolve("secrets").resolve("master.keys");
    MasterKeyRing ring = new MasterKeyRing(file);
    assertThat(ring.ids()).hasSize(1);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file)))
        .isEqualTo("rw-------");
    String sealed = ring.current().seal("data key", "ctx");
    MasterKeyRing again = new MasterKeyRing(file);
    assertThat(again.current().keyId()).isEqualTo(ring.current().keyId());
    assertThat(again.current().open(sealed, "ctx")).isEqualTo("data key");
  }

  @Test
  void rotationKeepsOldKeysUntilNothingUsesThem() {
    Path file = dir.resolve("master.keys");
    MasterKeyRing ring = new MasterKeyRing(file);
    SecretBox first = ring.current();
    String sealed = first.seal("data key", "ctx");
    SecretBox second = ring.rotate();

    assertThat(second.keyId()).isNotEqualTo(first.keyId());
    assertThat(ring.current().keyId()).isEqualTo(second.keyId());
    assertThat(ring.ids()).containsExactly(first.keyId(), second.keyId());
    assertThat(new MasterKeyRing(file).ids()).containsExactly(first.keyId(), second.keyId());
    // Still used: kept, and still opens what it sealed.
    assertThat(ring.retainOnly(Set.of(first.keyId()))).isEmpty();
    assertThat(ring.byId(first.keyId()).orElseThrow().open(sealed, "ctx")).isEqualTo("data key");
    // Unused: dropped from memory and from the file; the current key always stays.
    assertThat(ring.retainOnly(List.of())).containsExactly(first.keyId());
    assertThat(ring.byId(first.keyId())).isEmpty();
    assertThat(new MasterKeyRing(file).ids()).containsExactly(second.keyId());
  }

  @Test
  void aDamagedFileIsReportedNotReplaced() throws Exception {
    Path file = dir.resolve("master.keys");
    Files.writeString(file, "not base64 !!\n");
    assertThatThrownBy(() -> new MasterKeyRing(file))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("not base64");
    Files.writeString(file, "AAAA\n");
    assertThatThrownBy(() -> new MasterKeyRing(file))
        .hasMessageContaining("instead of 32")
        .hasMessageContaining("restore it from backup");
    Files.writeString(file, "\n");
    assertThatThrownBy(() -> new MasterKeyRing(file)).hasMessageContaining("holds no key");
  }
}
