package io.edgefleet.device;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class BackoffTest {
  @Test
  void windowDoublesUntilTheCap() {
    Backoff b = new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(60), new SplittableRandom(1));
    assertThat(b.ceiling(0)).isEqualTo(Duration.ofSeconds(1));
    assertThat(b.ceiling(3)).isEqualTo(Duration.ofSeconds(8));
    assertThat(b.ceiling(6)).isEqualTo(Duration.ofSeconds(60));
    assertThat(b.ceiling(500)).isEqualTo(Duration.ofSeconds(60));
  }

  @Test
  void delaysAreSpreadOverTheWholeWindowAndNeverExceedIt() {
    Backoff b =
        new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(30), new SplittableRandom(42));
    long min = Long.MAX_VALUE;
    long max = 0;
    for (int i = 0; i < 10; i++) {
      b.next();
    }
    for (int i = 0; i < 2000; i++) {
      long ms = b.next().toMillis();
      assertThat(ms).isBetween(0L, 30_000L);
      min = Math.min(min, ms);
      max = Math.max(max, ms);
    }
    // Full jitter: both ends of the window are used, not a narrow band around the ceiling.
    assertThat(min).isLessThan(3_000);
    assertThat(max).isGreaterThan(27_000);
  }

  @Test
  void resetStartsOverFromTheBase() {
    Backoff b = new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(60), new SplittableRandom(3));
    for (int i = 0; i < 8; i++) {
      b.next();
    }
    b.reset();
    assertThat(b.attempts()).isZero();
    assertThat(b.next()).isLessThanOrEqualTo(Duration.ofSeconds(1));
  }
}
