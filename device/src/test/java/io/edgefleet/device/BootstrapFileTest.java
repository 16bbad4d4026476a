package io.edgefleet.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BootstrapFileTest {
  @TempDir Path dir;

  @Test
  void readsAValidFile() throws Exception {
    Path f = dir.resolve("b.json");
    Files.writeString(
        f,
        "{\"version\":1,\"controllerUrl\":\"https://10.0.0.1:7443\",\"caFingerprint\":\"sha256:"
            + "ff".repeat(32)
            + "\",\"token\":\"efo_1\",\"comment\":\"unknown fields are fine\"}");
    assertThat(BootstrapFile.read(f).token()).isEqualTo("efo_1");
  }

  @Test
  void explainsWhatIsWrong() throws Exception {
    Path missing = dir.resolve("nope.json");
    assertThatThrownBy(() -> BootstrapFile.read(missing))
        .isInstanceOf(BootstrapFile.Invalid.class)
        .hasMessageContaining("does not exist");

    Path big = dir.resolve("big.json");
    Files.write(big, new byte[70_000]);
    assertThatThrownBy(() -> BootstrapFile.read(big)).hasMessageContaining("64 KiB");

    Path notJson = dir.resolve("x.json");
    Files.writeString(notJson, "controllerUrl: https://x");
    assertThatThrownBy(() -> BootstrapFile.read(notJson)).hasMessageContaining("not valid JSON");

    Path badFp = dir.resolve("fp.json");
    Files.writeString(
        badFp, "{\"version\":1,\"controllerUrl\":\"https://h:1\",\"caFingerprint\":\"abc\"}");
    assertThatThrownBy(() -> BootstrapFile.read(badFp))
        .isInstanceOf(BootstrapFile.Invalid.class)
        .hasMessageContaining("caFingerprint");
  }
}
