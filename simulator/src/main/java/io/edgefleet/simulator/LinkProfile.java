package io.edgefleet.simulator;

import java.time.Duration;
import java.util.Locale;
import java.util.random.RandomGenerator;

/**
 * How a simulated device's link behaves: one-way latency with jitter, a bandwidth that serialises
 * messages one after the other, a loss rate (TCP hides loss, so a lost segment shows up as a
 * retransmission delay), and for flaky links a cut every few minutes.
 *
 * @param latency one-way delay added to every message in each direction
 * @param jitter the latency varies uniformly by ± this much
 * @param bitsPerSecond 0 for unlimited
 * @param loss probability that a message waits for a retransmission ({@link #RETRANSMIT})
 * @param cutEvery mean time between cuts (exponentially distributed); zero for none
 * @param cutFor how long a cut lasts
 */
public record LinkProfile(
    String name,
    Duration latency,
    Duration jitter,
    long bitsPerSecond,
    double loss,
    Duration cutEvery,
    Duration cutFor) {

  /** What a lost segment costs: TCP's minimum retransmission timeout. */
  static final Duration RETRANSMIT = Duration.ofMillis(200);

  public static final LinkProfile LAN =
      new LinkProfile(
          "lan", Duration.ofMillis(1), Duration.ZERO, 0, 0, Duration.ZERO, Duration.ZERO);
  public static final LinkProfile CELLULAR =
      new LinkProfile(
          "cellular",
          Duration.ofMillis(60),
          Duration.ofMillis(20),
          2_000_000,
          0.01,
          Duration.ZERO,
          Duration.ZERO);
  public static final LinkProfile SATELLITE =
      new LinkProfile(
          "satellite",
          Duration.ofMillis(600),
          Duration.ofMillis(50),
          250_000,
          0.02,
          Duration.ZERO,
          Duration.ZERO);
  public static final LinkProfile FLAKY =
      new LinkProfile(
          "flaky",
          Duration.ofMillis(60),
          Duration.ofMillis(20),
          2_000_000,
          0.05,
          Duration.ofMinutes(5),
          Duration.ofSeconds(30));

  public LinkProfile {
    if (latency.isNegative() || jitter.isNegative() || jitter.compareTo(latency) > 0) {
      throw new IllegalArgumentException("need 0 <= jitter <= latency");
    }
    if (bitsPerSecond < 0 || loss < 0 || loss >= 1) {
      throw new IllegalArgumentException("need bitsPerSecond >= 0 and 0 <= loss < 1");
    }
  }

  public static LinkProfile named(String name) {
    return switch (name.toLowerCase(Locale.ROOT)) {
      case "lan" -> LAN;
      case "cellular" -> CELLULAR;
      case "satellite" -> SATELLITE;
      case "flaky" -> FLAKY;
      default ->
          throw new IllegalArgumentException(
              "unknown link profile '" + name + "' (lan, cellular, satellite, flaky)");
    };
  }

  /** The time on the wire of {@code bytes} at this bandwidth, in nanoseconds. */
  long transmitNanos(long bytes) {
    return bitsPerSecond == 0 ? 0 : bytes * 8 * 1_000_000_000L / bitsPerSecond;
  }

  /** One sample of the one-way delay of a message (latency, jitter, maybe a retransmission). */
  long delayNanos(RandomGenerator random) {
    long d = latency.toNanos();
    long j = jitter.toNanos();
    if (j > 0) {
      d += random.nextLong(-j, j + 1);
    }
    if (loss > 0 && random.nextDouble() < loss) {
      d += RETRANSMIT.toNanos();
    }
    return d;
  }

  /** When the next cut starts, from now; negative if this link is never cut. */
  long nextCutNanos(RandomGenerator random) {
    if (cutEvery.isZero()) {
      return -1;
    }
    double mean = cutEvery.toNanos();
    return (long) (-Math.log(1 - random.nextDouble()) * mean);
  }

  /**
   * One direction of one device's link: messages leave one after the other at the link's bandwidth
   * and arrive after its latency. Thread-safe.
   */
  static final class Direction {
    private long busyUntil;
    private long lastDelivery;

    /**
     * The delay before a message of {@code bytes} sent at {@code now} is delivered. Deliveries keep
     * their order, as TCP does, even when jitter would reorder them.
     */
    synchronized long schedule(LinkProfile p, long bytes, long now, RandomGenerator random) {
      long start = Math.max(now, busyUntil);
      busyUntil = start + p.transmitNanos(bytes);
      long at = Math.max(lastDelivery, busyUntil + p.delayNanos(random));
      lastDelivery = at;
      return at - now;
    }
  }
}
