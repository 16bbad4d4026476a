package io.edgefleet.controller.common;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.health.TestClock;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class RateLimiterTest {
  TestClock clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));

  @Test
  void aBurstOfTheRateThenOneUnitPerInterval() {
    RateLimiter<String> limiter = new RateLimiter<>(clock, 100);
    for (int i = 0; i < 60; i++) {
      assertThat(limiter.take("a", 60)).as("unit %d", i).isEmpty();
    }
    assertThat(limiter.take("a", 60))
        .hasValueSatisfying(
            wait -> assertThat(wait).isBetween(Duration.ofMillis(1), Duration.ofSeconds(1)));
    assertThat(limiter.take("b", 60)).as("another key has its own bucket").isEmpty();
    clock.advance(Duration.ofSeconds(1));
    assertThat(limiter.take("a", 60)).isEmpty();
    assertThat(limiter.take("a", 60)).isPresent();
    clock.advance(Duration.ofHours(1));
    for (int i = 0; i < 60; i++) {
      assertThat(limiter.take("a", 60)).as("refilled to the burst, not beyond").isEmpty();
    }
    assertThat(limiter.take("a", 60)).isPresent();
  }

  @Test
  void memoryIsBoundedByTheNumberOfKeys() {
    RateLimiter<Integer> limiter = new RateLimiter<>(clock, 10);
    for (int k = 0; k < 1_000; k++) {
      limiter.take(k, 1);
    }
    // The oldest keys were forgotten: key 0 has a fresh bucket again.
    assertThat(limiter.take(0, 1)).isEmpty();
    assertThat(limiter.take(999, 1)).isPresent();
  }
}
