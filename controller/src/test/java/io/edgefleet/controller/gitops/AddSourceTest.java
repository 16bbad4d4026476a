package io.edgefleet.controller.gitops;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.protocol.Json;
import org.junit.jupiter.api.Test;

class AddSourceTest {
  @Test
  void readsFromJsonWithOptionalFieldsAbsent() throws Exception {
    AddSource a =
        Json.mapper()
            .readValue(
                "{\"name\":\"fleet\",\"url\":\"https://h/r\",\"token\":\"t\",\"target\":\"a=b\"}",
                AddSource.class);
    assertThat(a)
        .isEqualTo(new AddSource("fleet", "https://h/r", null, null, null, null, "t", "a=b"));
    assertThat(a.sshHostKey()).isNull();
  }

  @Test
  void toStringHidesCredentials() {
    String s =
        new AddSource("f", "ssh://h/r", null, null, null, "-----BEGIN KEY", "s3cr3t", "")
            .toString();
    assertThat(s).doesNotContain("BEGIN").doesNotContain("s3cr3t").contains("sshKey=***");
  }
}
