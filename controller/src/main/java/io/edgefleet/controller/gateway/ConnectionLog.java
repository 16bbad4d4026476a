package io.edgefleet.controller.gateway;

import java.time.Clock;
import java.time.Duration;
import org.slf4j.Logger;

/**
 * One log line per device connecting or disconnecting, with why, so an operator reading the
 * controller's log sees its fleet come and go; during a storm (thousands reconnecting after an
 * outage) at most {@link #LINES_PER_WINDOW} lines per {@link #WINDOW}, then one line with how many
 * more there were. Thread-safe.
 */
final class ConnectionLog {
  static final Duration WINDOW = Duration.ofSeconds(10);
  static final int LINES_PER_WINDOW = 20;

  private final Logger log;
  private final Clock clock;
  private long windowStart;
  private int lines;
  private int moreConnected;
  private int moreDisconnected;

  ConnectionLog(Logger log, Clock clock) {
    this.log = log;
    this.clock = clock;
    this.windowStart = clock.millis();
  }

  void connected(String deviceId, String from) {
    if (take()) {
      log.info("device {} connected from {}", deviceId, from);
    } else {
      synchronized (this) {
        moreConnected++;
      }
    }
  }

  void disconnected(String deviceId, String why) {
    if (take()) {
      log.info("device {} disconnected: {}", deviceId, why);
    } else {
      synchronized (this) {
        moreDisconnected++;
      }
    }
  }

  /** Ends the window if it is over: says how many lines were left out. Called periodically too. */
  void flush() {
    int connected;
    int disconnected;
    synchronized (this) {
      long now = clock.millis();
      if (now - windowStart < WINDOW.toMillis()) {
        return;
      }
      windowStart = now;
      lines = 0;
      connected = moreConnected;
      disconnected = moreDisconnected;
      moreConnected = 0;
      moreDisconnected = 0;
    }
    if (connected + disconnected > 0) {
      log.info(
          "and {} more devices connected, {} more disconnected (not listed one by one)",
          connected,
          disconnected);
    }
  }

  private boolean take() {
    flush();
    synchronized (this) {
      if (lines < LINES_PER_WINDOW) {
        lines++;
        return true;
      }
      return false;
    }
  }
}
