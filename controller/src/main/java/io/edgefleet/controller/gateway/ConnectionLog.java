package io.edgefleet.controller.gateway;

import java.time.Clock;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * One log line per device connecting or disconnecting, with why, so an operator reading the
 * controller's log sees its fleet come and go; during a storm (thousands reconnecting after an
 * outage) at most {@link #LINES_PER_WINDOW} lines per {@link #WINDOW}, then one line with how many
 * more there were. Thread-safe.
 */
final class ConnectionLog {
  static final Duration WINDOW = Duration.ofSeconds(10);
  static final int LINES_PER_WINDOW = 20;

  private final Consumer<String> log;
  private final Clock clock;
  private long windowStart;
  private int lines;
  private int moreConnected;
  private int moreDisconnected;

  /** Lines go to {@code log} (the gateway's logger at INFO). */
  ConnectionLog(Consumer<String> log, Clock clock) {
    this.log = log;
    this.clock = clock;
    this.windowStart = clock.millis();
  }

  void connected(String deviceId, String from) {
    if (take()) {
      log.accept("device " + deviceId + " connected from " + from);
    } else {
      synchronized (this) {
        moreConnected++;
      }
    }
  }

  void disconnected(String deviceId, String why) {
    if (take()) {
      log.accept("device " + deviceId + " disconnected: " + why);
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
      log.accept(
          "and "
              + connected
              + " more devices connected, "
              + disconnected
              + " more disconnected in the last "
              + WINDOW.toSeconds()
              + " s (not listed one by one)");
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
