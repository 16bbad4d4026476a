package io.edgefleet.agent.shell;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.protocol.ErrorCode;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileSourceTest {
  @TempDir Path dir;

  @Test
  void aRegularFileWithinTheBudgetOpens() throws Exception {
    Path f = Files.writeString(dir.resolve("a.txt"), "hello");
    FileSource.Opened o = FileSource.open(f.toString(), 5);
    try (var in = o.in()) {
      assertThat(o.size()).isEqualTo(5);
      assertThat(new String(in.readAllBytes())).isEqualTo("hello");
    }
  }

  @Test
  void refusalsCarryClearCodes() throws Exception {
    Path f = Files.writeString(dir.resolve("big"), "123456");
    assertCode(f.toString(), 5, ErrorCode.FILE_TOO_LARGE, "budget of 5 bytes");
    assertCode(dir.toString(), 100, ErrorCode.FILE_NOT_REGULAR, "is a directory");
    assertCode("/dev/zero", 100, ErrorCode.FILE_NOT_REGULAR, "not a regular file");
    assertCode(dir.resolve("none").toString(), 100, ErrorCode.NOT_FOUND, "does not exist");
    assertCode("relative/path", 100, ErrorCode.VALIDATION_FAILED, "absolute");
    assertCode("", 100, ErrorCode.VALIDATION_FAILED, "missing");
  }

  private static void assertCode(String path, long budget, ErrorCode code, String message) {
    assertThatThrownBy(() -> FileSource.open(path, budget))
        .isInstanceOf(StreamRefusal.class)
        .hasMessageContaining(message)
        .satisfies(e -> assertThat(((StreamRefusal) e).code()).isEqualTo(code));
  }
}
