package io.edgefleet.controller.secrets;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.common.Lru;
import io.edgefleet.protocol.ErrorCode;
import java.time.Clock;

/**
 * How many secrets one device may fetch per minute: each answer costs an ECDH and a key pair (about
 * 1.5 ms of CPU), so a device asking in a loop must not be able to spend the controller's CPU. A
 * device's first fetches after boot, one per secret it is given, stay far below the budget.
 * Thread-safe.
 */
final class FetchBudget {
  static final int PER_MINUTE = 300;
  private static final long MINUTE_MS = 60_000;

  private final Clock clock;
  private final Lru<String, long[]> windows = Lru.ofEntries(100_000);

  FetchBudget(Clock clock) {
    this.clock = clock;
  }

  /**
   * Counts one fetch by {@code deviceId}.
   *
   * @throws ControllerException {@code RATE_LIMITED} beyond {@value #PER_MINUTE} in a minute
   */
  void take(String deviceId) {
    long now = clock.millis();
    long[] w;
    synchronized (this) {
      w = windows.get(deviceId).orElse(null);
      if (w == null || now - w[0] >= MINUTE_MS) {
        w = new long[] {now, 0};
        windows.put(deviceId, w);
      }
      w[1]++;
    }
    if (w[1] > PER_MINUTE) {
      throw new ControllerException(
          ErrorCode.RATE_LIMITED,
          "device "
              + deviceId
              + " fetched more than "
              + PER_MINUTE
              + " secrets this minute; it may fetch again in "
              + Math.max(1, (w[0] + MINUTE_MS - now) / 1000)
              + " s");
    }
  }
}
