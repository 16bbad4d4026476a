package io.edgefleet.controller.secrets;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.common.ControllerException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class FetchBudgetTest {
  private Instant now = Instant.parse("2026-01-01T00:00:00Z");
  private final Clock clock =
      new Clock() {
        @Override
        public ZoneOffset getZone() {
          return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
          return this;
        }

        @Override
        public Instant instant() {
          return now;
        }
      };

  @Test
  void eachDeviceHasItsOwnBudgetPerMinute() {
    FetchBudget budget = new FetchBudget(clock);
    for (int i = 0; i < FetchBudget.PER_MINUTE; i++) {
      budget.take("a");
    }
    assertThatThrownBy(() -> budget.take("a"))
        .isInstanceOf(ControllerException.class)
        .hasMessageContaining("fetched more than 300 secrets this minute")
        .hasMessageContaining("60 s");
    assertThatCode(() -> budget.take("b")).doesNotThrowAnyException();
    now = now.plus(Duration.ofSeconds(59));
    assertThatThrownBy(() -> budget.take("a")).hasMessageContaining("1 s");
    now = now.plus(Duration.ofSeconds(1));
    assertThatCode(() -> budget.take("a")).doesNotThrowAnyException();
  }
}
