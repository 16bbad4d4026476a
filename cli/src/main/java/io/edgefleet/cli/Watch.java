package io.edgefleet.cli;

import io.edgefleet.protocol.Durations;
import java.io.PrintWriter;
import java.time.Clock;
import java.time.Duration;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The {@code --watch} of status commands: asks again every interval and shows the answer, redrawn
 * in place on a terminal (cursor up, clear to the end of the screen) and appended as snapshots with
 * a time line when piped, until the answer says it is done; then prints the summary line and
 * returns its exit code. Without an end (a list) it runs until interrupted.
 */
final class Watch {
  // Exit codes of a watch that ended, beyond 0 (success), 1 (failed call) and 2 (bad input); the
  // CLI guide lists them.

  /** A rollout paused, by an operator or because a batch failed: it needs a decision. */
  static final int PAUSED = 3;

  /** A rollout was rolled back. */
  static final int ROLLED_BACK = 4;

  /** A rollout was aborted. */
  static final int ABORTED = 5;

  /** A newer rollout of the same app replaced this one. */
  static final int SUPERSEDED = 6;

  /** An app failed on at least one device. */
  static final int APP_FAILED = 7;

  /** An app is ready on every online device; offline devices update when they reconnect. */
  static final int OFFLINE_PENDING = 8;

  /** One answer: what to show, and the end when this answer is the last. */
  record Frame(String text, Optional<End> end) {
    static Frame going(String text) {
      return new Frame(text, Optional.empty());
    }
  }

  /** How a watch ended: the summary line to print and the exit code. */
  record End(int exitCode, String summary) {}

  /** Waits between two answers; tests pass one that does not wait. */
  interface Pause {
    void pause(Duration interval) throws InterruptedException;
  }

  private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss");

  private final PrintWriter out;
  private final PrintWriter err;
  private final boolean terminal;
  private final boolean json;
  private final Duration interval;
  private final Clock clock;
  private final Pause pause;
  private int drawnLines;

  /**
   * @param terminal redraw in place (else append)
   * @param json each answer is one line of JSON: no time lines, the summary on {@code err}
   */
  Watch(
      PrintWriter out,
      PrintWriter err,
      boolean terminal,
      boolean json,
      Duration interval,
      Clock clock,
      Pause pause) {
    this.out = out;
    this.err = err;
    this.terminal = terminal && !json;
    this.json = json;
    this.interval = interval;
    this.clock = clock;
    this.pause = pause;
  }

  /** Shows answers until one ends the watch, and returns its exit code (0 when interrupted). */
  int run(Supplier<Frame> answer) {
    while (true) {
      Frame frame = answer.get();
      draw(frame.text());
      if (frame.end().isPresent()) {
        PrintWriter summary = json ? err : out;
        summary.println(frame.end().get().summary());
        summary.flush();
        return frame.end().get().exitCode();
      }
      try {
        pause.pause(interval);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return 0;
      }
    }
  }

  private void draw(String text) {
    if (json) {
      out.print(text);
      out.flush();
      return;
    }
    String time =
        LocalTime.ofInstant(clock.instant(), clock.getZone())
            .truncatedTo(ChronoUnit.SECONDS)
            .format(TIME);
    String frame = "Every " + Durations.human(interval) + ", at " + time + "\n\n" + text;
    if (terminal) {
      if (drawnLines > 0) {
        out.print("\u001b[" + drawnLines + "A\r\u001b[J");
      }
      drawnLines = (int) frame.lines().count();
    } else if (drawnLines++ > 0) {
      out.print('\n');
    }
    out.print(frame);
    out.flush();
  }
}
