package io.edgefleet.device;

import java.time.Duration;

/**
 * The device side's timeouts and retry bounds, in one place: the agent and the simulator's virtual
 * devices use these and no others. See decision 0014 for the liveness rules.
 */
public final class Timeouts {
  private Timeouts() {}

  /** Connecting: a dead link is noticed within this; SYNs are retried within it several times. */
  public static final Duration CONNECT = Duration.ofSeconds(10);

  /** How long an open socket may wait for the controller's welcome. */
  public static final Duration WELCOME = Duration.ofSeconds(30);

  /** How long an HTTP answer's headers may take to come. */
  public static final Duration HEADERS = Duration.ofSeconds(20);

  /**
   * A transfer that moves fewer than {@link #STALL_BYTES} in this long is given up (and resumed).
   */
  public static final Duration STALL = Duration.ofSeconds(20);

  /** See {@link #STALL}. */
  public static final int STALL_BYTES = 512;

  /** The shortest heartbeat interval a device keeps, whatever the welcome says. */
  public static final Duration MIN_HEARTBEAT = Duration.ofSeconds(1);

  /** Silence for this many heartbeat intervals ends a link even when no heartbeat could be sent. */
  public static final int SILENT_INTERVALS = 3;

  /** The first retry window after a failure. */
  public static final Duration RETRY_BASE = Duration.ofSeconds(1);

  /** The cap of the retry window when the link itself failed (no route, a timeout, a stall). */
  public static final Duration LINK_RETRY_CAP = Duration.ofSeconds(5);

  /** The default cap of the retry window when the controller refused or failed. */
  public static final Duration MAX_BACKOFF = Duration.ofSeconds(60);

  /** The default wait after the controller refused this device (revoked, rejected, bad token). */
  public static final Duration REFUSED_BACKOFF = Duration.ofHours(1);

  /** The wait before asking again about a pending enrollment when the controller names none. */
  public static final Duration ENROLLMENT_RETRY = Duration.ofSeconds(10);

  /**
   * How long a heartbeat may wait for an answer: the interval, at least 5 s (a loaded machine) and
   * at most 20 s (a few round trips and loss recovery even on a satellite link).
   */
  public static Duration answerTimeout(Duration interval) {
    return Duration.ofMillis(Math.clamp(interval.toMillis(), 5_000, 20_000));
  }

  /** The heartbeat interval a welcome sets, at least {@link #MIN_HEARTBEAT}. */
  public static Duration heartbeat(int seconds) {
    return Duration.ofSeconds(Math.max(MIN_HEARTBEAT.toSeconds(), seconds));
  }

  /** When to ask again about a pending enrollment: what the controller said, within 1 s..5 min. */
  public static Duration enrollmentRetry(Integer retryAfterSeconds) {
    return Duration.ofSeconds(
        Math.clamp(
            retryAfterSeconds == null ? ENROLLMENT_RETRY.toSeconds() : retryAfterSeconds, 1, 300));
  }
}
