package io.edgefleet.agent;

import io.edgefleet.device.Backoff;
import io.edgefleet.device.Timeouts;
import java.io.PrintStream;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.random.RandomGenerator;

/**
 * How long the agent waits after a failed attempt, and what it says about it. A failure of the link
 * itself (no route, a timeout, a stalled transfer) is retried within a few seconds, since probing a
 * dead link costs the controller nothing; a controller that refused or failed is backed off from
 * exponentially with full jitter. The first failure is logged with when the next attempt comes;
 * while it goes on, a line says so at most every five minutes (how long, how many attempts), and a
 * changed reason is logged at once. Not thread-safe: the control loop's.
 */
final class Outages {
  /** While the controller stays unreachable, the log says so again at most this often. */
  private static final Duration STILL_UNREACHABLE = Duration.ofMinutes(5);

  private final Clock clock;
  private final PrintStream out;
  private final Backoff backoff;
  private final Backoff linkBackoff;
  private Instant since;
  private Instant logged;
  private int attempts;

  Outages(Duration maxBackoff, RandomGenerator random, Clock clock, PrintStream out) {
    this.clock = clock;
    this.out = out;
    this.backoff = new Backoff(Timeouts.RETRY_BASE, maxBackoff, random);
    this.linkBackoff =
        new Backoff(
            Timeouts.RETRY_BASE,
            maxBackoff.compareTo(Timeouts.LINK_RETRY_CAP) < 0
                ? maxBackoff
                : Timeouts.LINK_RETRY_CAP,
            random);
  }

  /** The wait before the next attempt: short after a link failure, backed off otherwise. */
  Duration delay(boolean link) {
    return link ? linkBackoff.next() : backoff.next();
  }

  /** The controller answered: the next refusal starts from the shortest wait again. */
  void answered() {
    backoff.reset();
  }

  /**
   * An attempt failed with {@code message} ({@code previous} is the last one's); the next one comes
   * after {@code delay}.
   */
  void failed(String message, String previous, Duration delay) {
    Instant now = clock.instant();
    attempts++;
    if (since == null) {
      since = now;
    }
    if (!message.equals(previous)) {
      out.printf("%s; retrying in %s%n", message, human(delay));
      logged = now;
    } else if (logged == null || Duration.between(logged, now).compareTo(STILL_UNREACHABLE) >= 0) {
      out.printf(
          "still no connection after %s (%d attempts): %s; next attempt in %s%n",
          human(Duration.between(since, now)), attempts, message, human(delay));
      logged = now;
    }
  }

  /** Connected: waits start short again. */
  void connected() {
    backoff.reset();
    linkBackoff.reset();
  }

  /**
   * The outage is over: what the log says about it ({@code " after 2m 5s without it (7
   * attempts)"}), empty if there was none.
   */
  String over() {
    String after =
        since == null
            ? ""
            : " after "
                + human(Duration.between(since, clock.instant()))
                + " without it ("
                + attempts
                + " attempt"
                + (attempts == 1 ? "" : "s")
                + ")";
    since = null;
    logged = null;
    attempts = 0;
    return after;
  }

  /** A duration for people: {@code 4.3s}, {@code 45s}, {@code 8m 12s}, {@code 3h 5m}. */
  static String human(Duration d) {
    long ms = d.toMillis();
    if (ms < 10_000) {
      return String.format(Locale.ROOT, "%.1fs", ms / 1000.0);
    }
    long s = ms / 1000;
    if (s < 120) {
      return s + "s";
    }
    if (s < 7200) {
      return (s / 60) + "m " + (s % 60) + "s";
    }
    return (s / 3600) + "h " + (s % 3600 / 60) + "m";
  }
}
