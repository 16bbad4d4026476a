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

  @ParameterizedTest
  @ValueSource(
      strings = {
        "a",
        "shop",
        "shop-apps",
        "a1",
        "0",
        "x23456789012345678901234567890123456789012345678901234567890123"
      })
  void sourceNamesAreDnsLabels(String name) {
    assertThat(new Converters.SourceName().convert(name)).isEqualTo(name);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "-shop",
        "shop-",
        "Shop",
        "shop_apps",
        "shop.apps",
        " shop",
        "x234567890123456789012345678901234567890123456789012345678901234"
      })
  void otherSourceNamesAreRefusedNamingTheValue(String name) {
    assertThatThrownBy(() -> new Converters.SourceName().convert(name))
        .isInstanceOf(TypeConversionException.class)
        .hasMessageStartingWith("'" + name + "' is not a repository name: 1 to 63 lower-case");
  }

  @Test
  void shasAreHexAndSentInLowerCase() {
    Converters.Sha sha = new Converters.Sha();

    assertThat(sha.convert("ABCDEF12")).isEqualTo("abcdef12");
    assertThat(sha.convert(" 0123 ")).isEqualTo("0123");
    assertThat(sha.convert("a".repeat(64))).isEqualTo("a".repeat(64));
    for (String bad : new String[] {"abc", "main", "HEAD~1", "g123", "a".repeat(65)}) {
      assertThatThrownBy(() -> sha.convert(bad))
          .isInstanceOf(TypeConversionException.class)
          .hasMessageStartingWith("'" + bad + "' is not a commit SHA");
    }
  }

  @Test
  void limitsAreOneToTheControllersMaximum() {
    Converters.Limit limit = new Converters.Limit();

    assertThat(limit.convert("1")).isEqualTo(1);
    assertThat(limit.convert(" 1000 ")).isEqualTo(1000);
    for (String bad : new String[] {"0", "-1", "1001", "ten", ""}) {
      assertThatThrownBy(() -> limit.convert(bad))
          .isInstanceOf(TypeConversionException.class)
          .hasMessage("'" + bad + "' is not a limit: use a whole number from 1 to 1000");
    }
  }

  @Test
  void nonBlankTextIsStrippedAndRefusesBlanksAndControlCharacters() {
    Converters.NonBlank text = new Converters.NonBlank();

    assertThat(text.convert(" main ")).isEqualTo("main");
    for (String bad : new String[] {"", "  ", "ma\nin"}) {
      assertThatThrownBy(() -> text.convert(bad)).isInstanceOf(TypeConversionException.class);
    }
  }
}
