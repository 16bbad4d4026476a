package io.edgefleet.agent.outbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SizesTest {
  @Test
  void unitsArePowersOf1024() {
    assertThat(Sizes.parse("64MB")).isEqualTo(64L << 20);
    assertThat(Sizes.parse("64mib")).isEqualTo(64L << 20);
    assertThat(Sizes.parse("512K")).isEqualTo(512L << 10);
    assertThat(Sizes.parse("1 GB")).isEqualTo(1L << 30);
    assertThat(Sizes.parse("65536")).isEqualTo(65536);
    assertThat(Sizes.parse("100b")).isEqualTo(100);
  }

  @Test
  void anythingElseIsRefusedWithAnExample() {
    for (String bad : new String[] {"", "MB", "-1MB", "1.5GB", "64 TB", "lots"}) {
      assertThatThrownBy(() -> Sizes.parse(bad))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("e.g. 64MB");
    }
    assertThatThrownBy(() -> Sizes.parse("999999999999G")).hasMessageContaining("too large");
  }
}
