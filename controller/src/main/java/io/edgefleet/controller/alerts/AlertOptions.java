package io.edgefleet.controller.alerts;

import java.time.Duration;

/**
 * How the alert engine runs.
 *
 * @param tick how often rules are evaluated and due notifications are handed to delivery
 * @param retryBase the wait after the first failed delivery; it doubles with every further failure
 * @param retryCap the longest wait between two delivery attempts
 * @param maxAttempts deliveries tried before a notification is given up (and shown as failed)
 * @param sendTimeout the deadline of one delivery: connecting, sending, the answer's status and the
 *     bounded read of its body all count against it; a receiver that has not answered by then is
 *     given up for this attempt (and retried)
 * @param deliveryThreads receivers delivered to at once, each by its own thread; further receivers
 *     with due notifications wait for a free thread
 */
public record AlertOptions(
    Duration tick,
    Duration retryBase,
    Duration retryCap,
    int maxAttempts,
    Duration sendTimeout,
    int deliveryThreads) {
  /** The most delivery threads that can be configured. */
  public static final int MAX_DELIVERY_THREADS = 64;

  public AlertOptions {
    if (tick.toMillis() < 50) {
      throw new IllegalArgumentException("the alert tick must be at least 50ms");
    }
    if (retryBase.toMillis() < 1 || retryCap.compareTo(retryBase) < 0) {
      throw new IllegalArgumentException("retry base must be positive and not above the cap");
    }
    if (maxAttempts < 1) {
      throw new IllegalArgumentException("at least one delivery attempt is needed");
    }
    if (sendTimeout.toMillis() < 100) {
      throw new IllegalArgumentException("the send timeout must be at least 100ms");
    }
    if (deliveryThreads < 1 || deliveryThreads > MAX_DELIVERY_THREADS) {
      throw new IllegalArgumentException(
          "delivery threads must be between 1 and " + MAX_DELIVERY_THREADS);
    }
  }

  /**
   * Every 10 s; retries after 10 s, 20 s, 40 s … at most 15 min apart, 20 attempts (≈ 4 h); 10 s
   * per delivery; 4 receivers delivered to at once.
   */
  public static AlertOptions defaults() {
    return new AlertOptions(
        Duration.ofSeconds(10),
        Duration.ofSeconds(10),
        Duration.ofMinutes(15),
        20,
        Duration.ofSeconds(10),
        4);
  }

  public AlertOptions withTick(Duration tick) {
    return new AlertOptions(tick, retryBase, retryCap, maxAttempts, sendTimeout, deliveryThreads);
  }

  public AlertOptions withRetry(Duration base, Duration cap, int attempts) {
    return new AlertOptions(tick, base, cap, attempts, sendTimeout, deliveryThreads);
  }

  public AlertOptions withSendTimeout(Duration timeout) {
    return new AlertOptions(tick, retryBase, retryCap, maxAttempts, timeout, deliveryThreads);
  }

  public AlertOptions withDeliveryThreads(int threads) {
    return new AlertOptions(tick, retryBase, retryCap, maxAttempts, sendTimeout, threads);
  }
}
