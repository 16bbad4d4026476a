package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine.TypeConversionException;

class ConvertersTest {
  private final Converters.DurationText durations = new Converters.DurationText();

  @Test
  void durationTextAcceptsEachUnitTheControllerParses() {
    assertThat(durations.convert("90s")).isEqualTo("90s");
    assertThat(durations.convert("30m")).isEqualTo("30m");
    assertThat(durations.convert("12h")).isEqualTo("12h");
    assertThat(durations.convert("7d")).isEqualTo("7d");
    assertThat(durations.convert("999999999d")).isEqualTo("999999999d");
  }

  @Test
  void durationTextSendsTheValueWithoutSurroundingBlanks() {
    assertThat(durations.convert(" 7d ")).isEqualTo("7d");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "0s",
        "00h",
        "0d",
        "500ms",
        "1ms",
        "0ms",
        "-1h",
        "1.5h",
        "7",
        "d",
        "7w",
        "7D",
        "1h30m",
        "1234567890s"
      })
  void durationTextRefusesZeroMillisecondsAndAnythingElseNamingTheText(String text) {
    assertThatThrownBy(() -> durations.convert(text))
        .isInstanceOf(TypeConversionException.class)
        .hasMessage(
            "'"
                + text
                + "' is not a positive duration: use a whole number and a unit s, m, h or d,"
                + " for example 90s, 30m, 12h or 7d");
  }
}
