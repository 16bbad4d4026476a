package io.edgefleet.controller.events;

import java.time.Duration;

/**
 * What devices may put into the event log and how long it is kept.
 *
 * @param maxAhead how far a device's time for an event may run ahead of the controller's clock and
 *     still be believed
 * @param retention how long events are kept (by the time they happened); a device time older than
 *     this when the event arrives is not believed either
 * @param maxRows the most rows each of the two device event tables ({@code device_events}, what
 *     devices reported, and {@code fleet_events}, their app and health changes) keeps; the oldest
 *     go first
 * @param burst how many events a device may add at once
 * @param perMinute how many events a device may add per minute once its burst is used up
 */
public record EventLimits(
    Duration maxAhead, Duration retention, long maxRows, int burst, int perMinute) {

  public EventLimits {
    if (maxAhead.isNegative()) {
      throw new IllegalArgumentException("the allowed clock skew must not be negative");
    }
    if (retention.compareTo(Duration.ofHours(1)) < 0) {
      throw new IllegalArgumentException("event retention must be at least 1h, got " + retention);
    }
    if (maxRows < 1000) {
      throw new IllegalArgumentException("the event log must keep at least 1000 rows per table");
    }
    if (burst < 1 || perMinute < 1) {
      throw new IllegalArgumentException("the device event burst and rate must be positive");
    }
  }

  /**
   * Device times up to 5 minutes ahead are believed; events are kept 30 days and at most 5,000,000
   * rows per table; a device may add 300 events at once, then 60 a minute.
   */
  public static EventLimits defaults() {
    return new EventLimits(Duration.ofMinutes(5), Duration.ofDays(30), 5_000_000, 300, 60);
  }

  public EventLimits withRetention(Duration d) {
    return new EventLimits(maxAhead, d, maxRows, burst, perMinute);
  }

  public EventLimits withMaxRows(long rows) {
    return new EventLimits(maxAhead, retention, rows, burst, perMinute);
  }

  public EventLimits withRate(int burst, int perMinute) {
    return new EventLimits(maxAhead, retention, maxRows, burst, perMinute);
  }
}
