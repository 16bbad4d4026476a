package io.edgefleet.controller.secrets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SecretBoxTest {
  @TempDir Path dir;

  @Test
  void sealsAndOpens() {
    SecretBox box = new SecretBox(dir.resolve("secret.key"));
    String sealed = box.seal("ghp_secret token ✓");
    assertThat(sealed).startsWith("v1." + box.keyId() + ".").doesNotContain("ghp_secret");
    assertThat(box.open(sealed)).isEqualTo("ghp_secret token ✓");
  }

  @Test
  void everySealUsesAFreshNonce() {
    SecretBox box = new SecretBox(dir.resolve("secret.key"));
    assertThat(box.seal("same")).isNotEqualTo(box.seal("same"));
  }

  @Test
  void keyFileIsCreatedOnceWithMode0600AndReused() throws Exception {
    Path file = dir.resolve("keys/secret.key");
    SecretBox first = new SecretBox(file);
    assertThat(Files.getPosixFilePermissions(file))
        .isEqualTo(PosixFilePermissions.fromString("rw-------"));
    assertThat(Base64.getDecoder().decode(Files.readString(file).trim())).hasSize(32);
    String sealed = first.seal("persisted");
    SecretBox again = new SecretBox(file);
    assertThat(again.keyId()).isEqualTo(first.keyId());
    assertThat(again.open(sealed)).isEqualTo("persisted");
    try (var s = Files.list(file.getParent())) {
      assertThat(s.map(p -> p.getFileName().toString())).containsExactly("secret.key");
    }
  }

  @Test
  void detectsTamperingWithAnyByte() {
    SecretBox box = new SecretBox(dir.resolve("secret.key"));
    String sealed = box.seal("do not touch");
    String prefix = sealed.substring(0, sealed.lastIndexOf('.') + 1);
    byte[] data = Base64.getUrlDecoder().decode(sealed.substring(prefix.length()));
    for (int i = 0; i < data.length; i++) {
      byte[] copy = data.clone();
      copy[i] ^= 0x01;
      String tampered = prefix + Base64.getUrlEncoder().withoutPadding().encodeToString(copy);
      assertThatThrownBy(() -> box.open(tampered))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("failed authentication");
    }
  }

  @Test
  void detectsTruncationAndGarbage() {
    SecretBox box = new SecretBox(dir.resolve("secret.key"));
    String sealed = box.seal("x");
    assertThatThrownBy(() -> box.open(sealed.substring(0, sealed.length() - 4)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> box.open("plain text"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not a sealed secret");
    assertThatThrownBy(() -> box.open("v1." + box.keyId() + ".AAAA"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("truncated");
  }

  @Test
  void contextBindsTheValueToItsPlace() {
    SecretBox box = new SecretBox(dir.resolve("secret.key"));
    String sealed = box.seal("token-a", "git-source:a:token");
    assertThat(box.open(sealed, "git-source:a:token")).isEqualTo("token-a");
    assertThatThrownBy(() -> box.open(sealed, "git-source:b:token"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("failed authentication");
    assertThatThrownBy(() -> box.open(sealed)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void anotherKeyIsNamedNotMistakenForCorruption() {
    SecretBox a = new SecretBox(dir.resolve("a.key"));
    SecretBox b = new SecretBox(dir.resolve("b.key"));
    assertThat(a.keyId()).isNotEqualTo(b.keyId());
    assertThatThrownBy(() -> b.open(a.seal("x")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("sealed under key " + a.keyId())
        .hasMessageContaining("same secret key file");
  }

  @Test
  void refusesABrokenKeyFile() throws Exception {
    Path file = dir.resolve("broken.key");
    Files.writeString(file, Base64.getEncoder().encodeToString(new byte[16]));
    assertThatThrownBy(() -> new SecretBox(file))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("holds 16 bytes instead of 32");
    Files.writeString(file, "not base64 !!!");
    assertThatThrownBy(() -> new SecretBox(file))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("not base64");
  }
}
