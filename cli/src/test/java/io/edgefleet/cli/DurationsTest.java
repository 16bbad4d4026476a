package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DurationsTest {
  @Test
  void parsesEachUnit() {
    assertThat(Durations.parse("90s")).isEqualTo(Duration.ofSeconds(90));
    assertThat(Durations.parse("30m")).isEqualTo(Duration.ofMinutes(30));
    assertThat(Durations.parse("12h")).isEqualTo(Duration.ofHours(12));
    assertThat(Durations.parse("7d")).isEqualTo(Duration.ofDays(7));
    assertThat(Durations.parse("999999999d")).isEqualTo(Duration.ofDays(999_999_999));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "0s",
        "00h",
        "-1h",
        "1.5h",
        "7",
        "d",
        "7w",
        "7D",
        " 7d",
        "7d ",
        "1h30m",
        "1234567890s"
      })
  void rejectsAnythingElseNamingTheText(String text) {
    assertThatThrownBy(() -> Durations.parse(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("'" + text + "' is not a positive duration");
  }
}
