package io.edgefleet.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class GzipTest {
  @Test
  void roundTripsAndShrinksRepetitiveYaml() throws Exception {
    byte[] yaml =
        "apiVersion: v1\nkind: ConfigMap\n---\n".repeat(200).getBytes(StandardCharsets.UTF_8);
    byte[] packed = Gzip.deflate(yaml);
    assertThat(packed.length).isLessThan(yaml.length / 10);
    assertThat(Gzip.inflate(packed, yaml.length)).isEqualTo(yaml);
  }

  @Test
  void refusesStreamsThatInflateBeyondTheLimitOrAreCorrupt() {
    byte[] bomb = Gzip.deflate(new byte[1_000_000]);
    assertThatThrownBy(() -> Gzip.inflate(bomb, 1000))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("1000");
    assertThatThrownBy(() -> Gzip.inflate(new byte[] {1, 2, 3}, 1000))
        .isInstanceOf(IOException.class);
  }
}
