package io.edgefleet.testkit;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A clock that runs with real time from a chosen start and can be moved forward, so that a running
 * controller sees, say, a maintenance window open without anyone waiting for it. Thread-safe.
 */
public final class MovableClock extends Clock {
  private final AtomicLong offsetMillis;

  private MovableClock(long offsetMillis) {
    this.offsetMillis = new AtomicLong(offsetMillis);
  }

  /** A clock that reads {@code start} now and runs on from there. */
  public static MovableClock startingAt(Instant start) {
    return new MovableClock(start.toEpochMilli() - System.currentTimeMillis());
  }

  /** Moves the clock forward. */
  public void advance(Duration by) {
    if (by.isNegative()) {
      throw new IllegalArgumentException("the clock only moves forward");
    }
    offsetMillis.addAndGet(by.toMillis());
  }

  @Override
  public ZoneId getZone() {
    return ZoneOffset.UTC;
  }

  @Override
  public Clock withZone(ZoneId zone) {
    throw new UnsupportedOperationException("a MovableClock is always UTC");
  }

  @Override
  public long millis() {
    return System.currentTimeMillis() + offsetMillis.get();
  }

  @Override
  public Instant instant() {
    return Instant.ofEpochMilli(millis());
  }
}
