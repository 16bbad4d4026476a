package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class CopyCommandTest {
  @Test
  void progressSaysHowFar() {
    assertThat(CopyCommand.progressText(512, 1024)).isEqualTo("512 of 1024 bytes (50%)");
    assertThat(CopyCommand.progressText(7, -1)).isEqualTo("7 bytes");
  }
}
