package io.edgefleet.controller;

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
  private final Lru<K, Bucket> buckets;

  private static final class Bucket {
    double units;
    long at;

    Bucket(double units, long at) {
      this.units = units;
      this.at = at;
    }
  }

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
    synchronized (buckets) {
      Bucket b = buckets.get(key).orElse(null);
      if (b == null) {
        b = new Bucket(perMinute, now);
        buckets.put(key, b);
      }
      double refill = Math.max(0, now - b.at) * perMinute / 60_000.0;
      b.units = Math.min(perMinute, b.units + refill);
      b.at = now;
      if (b.units >= 1) {
        b.units -= 1;
        return Optional.empty();
      }
      long wait = (long) Math.ceil((1 - b.units) * 60_000.0 / perMinute);
      return Optional.of(Duration.ofMillis(Math.max(1, wait)));
    }
  }
}
