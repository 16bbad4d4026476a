package io.edgefleet.launcher;

import java.io.PrintStream;

/**
 * How the demo shows a step that takes a while: on a terminal one line rewritten in place,
 * elsewhere (a log, a pipe) a line each time it changes. Lines said in between go above the
 * progress line.
 */
final class DemoProgress {
  private final PrintStream out;
  private final boolean tty;
  private String last = "";
  private boolean open;

  DemoProgress(PrintStream out, boolean tty) {
    this.out = out;
    this.tty = tty;
  }

  /** Shows the current state of the step; a line that did not change is not shown again. */
  synchronized void update(String line) {
    if (line.equals(last)) {
      return;
    }
    if (tty) {
      out.print("\r" + line + " ".repeat(Math.max(0, last.length() - line.length())));
      out.flush();
      open = true;
    } else {
      out.println(line);
    }
    last = line;
  }

  /** A line of its own, above the progress line. */
  synchronized void say(String line) {
    if (open) {
      out.print("\r" + " ".repeat(last.length()) + "\r");
    }
    out.println(line);
    if (open) {
      out.print(last);
      out.flush();
    }
  }

  /** Ends the progress line (it stays on screen); the next update starts a new one. */
  synchronized void end() {
    if (open) {
      out.println();
    }
    open = false;
    last = "";
  }
}
