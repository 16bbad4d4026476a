package io.edgefleet.agent.cluster;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Keeps one child process (K3s) running: started with a command, restarted after it exits with an
 * exponential backoff, counted as failing after {@link Policy#failAfter} exits in a row that each
 * ran shorter than {@link Policy#stableAfter}. The last lines of its standard error are kept for
 * the report; its output goes to a log file. Thread-safe; {@link #stop} blocks up to its grace.
 */
final class Supervisor {
  /** Lines of standard error kept. */
  static final int TAIL_LINES = 20;

  /** Characters of one kept line. */
  static final int TAIL_LINE_CHARS = 300;

  /**
   * How the child is restarted.
   *
   * @param firstBackoff the wait after the first exit; doubled after each further one
   * @param maxBackoff the longest wait
   * @param failAfter exits in a row after which the child counts as failing
   * @param stableAfter a run at least this long resets the count
   * @param stopGrace how long a stopped child has between SIGTERM and SIGKILL
   */
  record Policy(
      Duration firstBackoff,
      Duration maxBackoff,
      int failAfter,
      Duration stableAfter,
      Duration stopGrace) {
    static Policy defaults() {
      return new Policy(
          Duration.ofSeconds(1),
          Duration.ofSeconds(60),
          3,
          Duration.ofSeconds(60),
          Duration.ofSeconds(15));
    }

    Duration backoff(int exits) {
      long ms = firstBackoff.toMillis() << Math.min(Math.max(exits - 1, 0), 20);
      return Duration.ofMillis(Math.min(ms, maxBackoff.toMillis()));
    }
  }

  /**
   * What the child is doing.
   *
   * @param running a child process is alive
   * @param startedAt when the live child started (null if none)
   * @param exitsInRow exits since the last stable run
   * @param lastExit the last exit code, or null
   * @param stderrTail the last lines of standard error, oldest first
   */
  record Snapshot(
      boolean running,
      Instant startedAt,
      int exitsInRow,
      Integer lastExit,
      List<String> stderrTail) {
    boolean failing(Policy p) {
      return exitsInRow >= p.failAfter();
    }
  }

  private final ScheduledExecutorService timer;
  private final Policy policy;
  private final Clock clock;
  private final Runnable changed;

  // Guarded by this.
  private List<String> command;
  private Path log;
  private Process process;
  private Instant startedAt;
  private int exitsInRow;
  private Integer lastExit;
  private final Deque<String> tail = new ArrayDeque<>();
  private ScheduledFuture<?> restart;
  private long run;
  private String startError;

  /**
   * @param changed told (on some thread, never under a lock) whenever the child started or exited
   */
  Supervisor(ScheduledExecutorService timer, Policy policy, Clock clock, Runnable changed) {
    this.timer = timer;
    this.policy = policy;
    this.clock = clock;
    this.changed = changed;
  }

  Policy policy() {
    return policy;
  }

  /** Starts {@code command} (stopping what ran before), output appended to {@code log}. */
  void start(List<String> command, Path log) {
    stop();
    synchronized (this) {
      this.command = List.copyOf(command);
      this.log = log;
      exitsInRow = 0;
      lastExit = null;
      tail.clear();
      launch();
    }
    changed.run();
  }

  synchronized Snapshot snapshot() {
    return new Snapshot(
        process != null && process.isAlive(),
        process != null ? startedAt : null,
        exitsInRow,
        lastExit,
        List.copyOf(tail));
  }

  /** Why the last start failed (the command could not be executed), or null. */
  synchronized String startError() {
    return startError;
  }

  /** The live child's process id, or -1. */
  synchronized long pid() {
    return process != null && process.isAlive() ? process.pid() : -1;
  }

  /** Whether a command is being supervised (running or waiting to be restarted). */
  synchronized boolean active() {
    return command != null;
  }

  /**
   * Stops the child and its descendants (SIGTERM, then SIGKILL after the grace) and supervises
   * nothing any more. Blocks until they are gone.
   */
  void stop() {
    Process p;
    synchronized (this) {
      command = null;
      run++;
      if (restart != null) {
        restart.cancel(false);
        restart = null;
      }
      p = process;
      process = null;
    }
    if (p == null) {
      return;
    }
    List<ProcessHandle> descendants = p.descendants().toList();
    p.destroy();
    try {
      if (!p.waitFor(policy.stopGrace().toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        p.waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
    }
    // Children the child left behind (a K3s server's etcd and API server) go with it.
    for (ProcessHandle d : descendants) {
      if (d.isAlive()) {
        d.destroyForcibly();
      }
    }
    changed.run();
  }

  private void launch() {
    ProcessBuilder b = new ProcessBuilder(command);
    if (log != null) {
      b.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    } else {
      b.redirectOutput(ProcessBuilder.Redirect.DISCARD);
    }
    long myRun = ++run;
    Process p;
    try {
      p = b.start();
    } catch (IOException e) {
      startError = "cannot start " + command.get(0) + ": " + e.getMessage();
      exited(myRun, -1);
      return;
    }
    startError = null;
    process = p;
    startedAt = clock.instant();
    Thread pump = new Thread(() -> pump(p.getErrorStream(), myRun), "k3s-stderr");
    pump.setDaemon(true);
    pump.start();
    p.onExit().thenRun(() -> exitedAsync(myRun, p));
  }

  private void exitedAsync(long myRun, Process p) {
    boolean told;
    synchronized (this) {
      told = myRun == run;
      if (told) {
        exited(myRun, p.exitValue());
      }
    }
    if (told) {
      changed.run();
    }
  }

  /** The child of run {@code myRun} is gone: count it and schedule the next start. */
  private void exited(long myRun, int code) {
    Instant now = clock.instant();
    boolean stable =
        startedAt != null
            && process != null
            && Duration.between(startedAt, now).compareTo(policy.stableAfter()) >= 0;
    exitsInRow = stable ? 1 : exitsInRow + 1;
    lastExit = code;
    process = null;
    if (command == null) {
      return;
    }
    Duration wait = policy.backoff(exitsInRow);
    restart =
        timer.schedule(
            () -> {
              synchronized (this) {
                if (run != myRun || command == null) {
                  return;
                }
                launch();
              }
              changed.run();
            },
            wait.toMillis(),
            TimeUnit.MILLISECONDS);
  }

  private void pump(InputStream err, long myRun) {
    StringBuilder line = new StringBuilder();
    byte[] buf = new byte[4096];
    Path logFile;
    synchronized (this) {
      logFile = log;
    }
    java.io.OutputStream copy = java.io.OutputStream.nullOutputStream();
    try {
      if (logFile != null) {
        copy = new java.io.FileOutputStream(logFile.toFile(), true);
      }
    } catch (IOException e) {
      // The tail is still kept.
    }
    try (InputStream in = err;
        java.io.OutputStream sink = copy) {
      for (int n; (n = in.read(buf)) > 0; ) {
        try {
          sink.write(buf, 0, n);
        } catch (IOException e) {
          // A full disk costs the log, not the child.
        }
        String s = new String(buf, 0, n, StandardCharsets.UTF_8);
        for (int i = 0; i < s.length(); i++) {
          char c = s.charAt(i);
          if (c == '\n') {
            keep(line.toString(), myRun);
            line.setLength(0);
          } else if (line.length() < TAIL_LINE_CHARS) {
            line.append(c);
          }
        }
      }
    } catch (IOException e) {
      // The child is gone.
    }
    if (!line.isEmpty()) {
      keep(line.toString(), myRun);
    }
  }

  private synchronized void keep(String line, long myRun) {
    if (line.isBlank()) {
      return;
    }
    if (tail.size() >= TAIL_LINES) {
      tail.removeFirst();
    }
    tail.addLast(line);
  }
}
