package io.edgefleet.controller.common;

import java.time.Clock;
import java.time.Duration;
import java.util.Optional;

/**
 * Token buckets per key: a key may spend {@code perMinute} units at once, and regains them at
 * {@code perMinute} a minute. Buckets of keys not seen for a while are forgotten first when more
 * than {@code maxKeys} exist, so memory stays bounded whatever the keys are (source addresses,
 * device ids). Time comes from the injected clock. Thread-safe.
 */
public final class RateLimiter<K> {
  private final Clock clock;
  private final Lru<K, TokenBucket> buckets;

  public RateLimiter(Clock clock, int maxKeys) {
    this.clock = clock;
    this.buckets = Lru.ofEntries(maxKeys);
  }

  /**
   * Spends one unit of {@code key}'s bucket.
   *
   * @param perMinute the bucket's size and refill rate; at least 1
   * @return empty if the unit was spent, else how long until one is available
   */
  public Optional<Duration> take(K key, int perMinute) {
    if (perMinute < 1) {
      throw new IllegalArgumentException("perMinute must be at least 1");
    }
    long now = clock.millis();
    long wait;
    synchronized (buckets) {
      TokenBucket b = buckets.get(key).orElse(null);
      if (b == null) {
        b = new TokenBucket(perMinute, now);
        buckets.put(key, b);
      }
      wait = b.take(now, perMinute, perMinute);
    }
    return wait == 0 ? Optional.empty() : Optional.of(Duration.ofMillis(wait));
  }
}
