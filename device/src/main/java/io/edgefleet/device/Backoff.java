package io.edgefleet.device;

import java.time.Duration;
import java.util.random.RandomGenerator;

/**
 * Exponential backoff with full jitter: the n-th delay is uniform in {@code [0, min(cap, base *
 * 2^n)]}. Full jitter spreads thousands of devices that lost the controller at the same moment over
 * the whole window instead of letting them return in waves. Not thread-safe.
 */
public final class Backoff {
  private final Duration base;
  private final Duration cap;
  private final RandomGenerator random;
  private int attempt;

  public Backoff(Duration base, Duration cap, RandomGenerator random) {
    if (base.isNegative() || base.isZero() || cap.compareTo(base) < 0) {
      throw new IllegalArgumentException("need 0 < base <= cap");
    }
    this.base = base;
    this.cap = cap;
    this.random = random;
  }

  /** The delay before the next attempt; each call widens the window until it reaches the cap. */
  public Duration next() {
    long ceiling = ceiling(attempt).toMillis();
    attempt = Math.min(attempt + 1, 62);
    return Duration.ofMillis(random.nextLong(ceiling + 1));
  }

  /** The upper bound of the window for attempt {@code n} (0-based). */
  public Duration ceiling(int n) {
    long ms = base.toMillis();
    for (int i = 0; i < n && ms < cap.toMillis(); i++) {
      ms *= 2;
    }
    return Duration.ofMillis(Math.min(ms, cap.toMillis()));
  }

  public void reset() {
    attempt = 0;
  }

  public int attempts() {
    return attempt;
  }
}
