package io.edgefleet.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class DurationsTest {
  @Test
  void parsesEveryUnit() {
    assertThat(Durations.parse("250ms")).isEqualTo(Duration.ofMillis(250));
    assertThat(Durations.parse("90s")).isEqualTo(Duration.ofSeconds(90));
    assertThat(Durations.parse("15m")).isEqualTo(Duration.ofMinutes(15));
    assertThat(Durations.parse("12h")).isEqualTo(Duration.ofHours(12));
    assertThat(Durations.parse(" 7d ")).isEqualTo(Duration.ofDays(7));
  }

  @Test
  void refusesWhatIsNotADuration() {
    for (String bad : new String[] {"", "7", "d", "-1s", "1.5h", "7 days", "10y"}) {
      assertThatThrownBy(() -> Durations.parse(bad))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("not a duration");
    }
  }

  @Test
  void printsCompactly() {
    assertThat(Durations.human(Duration.ofSeconds(45))).isEqualTo("45s");
    assertThat(Durations.human(Duration.ofSeconds(192))).isEqualTo("3m12s");
    assertThat(Durations.human(Duration.ofMinutes(125))).isEqualTo("2h5m");
    assertThat(Durations.human(Duration.ofHours(99))).isEqualTo("4d3h");
    assertThat(Durations.human(Duration.ofSeconds(-5))).isEqualTo("0s");
  }
}
