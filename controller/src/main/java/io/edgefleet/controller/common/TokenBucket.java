package io.edgefleet.controller.common;

/**
 * One token bucket: up to {@code burst} units at once, refilled at {@code perMinute} units a
 * minute. Not thread-safe: its owner guards it.
 */
public final class TokenBucket {
  private double units;
  private long refilledAt;

  /** A full bucket of {@code burst} units at {@code nowMillis}. */
  public TokenBucket(int burst, long nowMillis) {
    this.units = burst;
    this.refilledAt = nowMillis;
  }

  /**
   * Spends one unit if there is one.
   *
   * @return 0 if a unit was spent, else the milliseconds until one will be there (at least 1)
   */
  public long take(long nowMillis, int burst, int perMinute) {
    if (nowMillis > refilledAt) {
      units = Math.min(burst, units + (nowMillis - refilledAt) * perMinute / 60_000.0);
      refilledAt = nowMillis;
    }
    if (units >= 1) {
      units -= 1;
      return 0;
    }
    return Math.max(1, (long) Math.ceil((1 - units) * 60_000.0 / perMinute));
  }
}
