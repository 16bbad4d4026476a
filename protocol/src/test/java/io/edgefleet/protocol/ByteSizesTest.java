package io.edgefleet.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ByteSizesTest {
  @ParameterizedTest
  @CsvSource({
    "0, 0",
    "1048576, 1048576",
    "200MiB, 209715200",
    "200 mib, 209715200",
    "1.5GiB, 1610612736",
    "500MB, 500000000",
    "2KiB, 2048",
    "3B, 3",
  })
  void sizesInBinaryAndDecimalUnits(String text, long bytes) {
    assertThat(ByteSizes.parse(text)).isEqualTo(bytes);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "MiB", "-1MiB", "12 parsecs", "1e9", "99999999999999TiB"})
  void whatIsNoSizeIsRefusedWithAnExample(String text) {
    assertThatThrownBy(() -> ByteSizes.parse(text)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void humanSizesUseBinaryUnits() {
    assertThat(ByteSizes.human(512)).isEqualTo("512 B");
    assertThat(ByteSizes.human(200L << 20)).isEqualTo("200 MiB");
    assertThat(ByteSizes.human(1536)).isEqualTo("1.5 KiB");
  }
}
