package io.edgefleet.agent.runtime.container;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the {@code podman} command line, every call bounded by a timeout and its output by a size.
 * Thread-safe: each call is its own process.
 */
final class Podman {
  /** The most output of one call kept; more is read and dropped so the process never blocks. */
  static final int MAX_OUTPUT = 8 << 20;

  private static final int MAX_ERROR = 64 << 10;

  /** What a call printed and how it ended. */
  record Result(int exit, String out, String err) {
    boolean ok() {
      return exit == 0;
    }

    /** The error for a person: podman's message without its {@code Error: } prefix. */
    String error() {
      String e = err.strip();
      int at = e.lastIndexOf("Error: ");
      return at >= 0 ? e.substring(at + 7).strip() : e.isEmpty() ? "exit code " + exit : e;
    }
  }

  private final List<String> base;
  private final Duration timeout;

  /**
   * @param base the command and its global options ({@code podman --root DIR --runroot DIR})
   * @param timeout how long one call may take
   */
  Podman(List<String> base, Duration timeout) {
    this.base = List.copyOf(base);
    this.timeout = timeout;
  }

  Duration timeout() {
    return timeout;
  }

  /**
   * Runs {@code podman args...} and waits for it.
   *
   * @throws PodmanException when podman cannot be started or does not finish in time (it is killed)
   */
  Result run(List<String> args) {
    return run(timeout, args);
  }

  Result run(String... args) {
    return run(List.of(args));
  }

  /** {@link #run(List)} with its own time limit (loading a large image takes longer). */
  Result run(Duration limit, List<String> args) {
    Process p = start(args, false);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    Thread outReader = Thread.ofVirtual().start(() -> drain(p.getInputStream(), out, MAX_OUTPUT));
    Thread errReader = Thread.ofVirtual().start(() -> drain(p.getErrorStream(), err, MAX_ERROR));
    try {
      if (!p.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        p.waitFor(5, TimeUnit.SECONDS);
        throw new PodmanException(
            "podman " + describe(args) + " did not finish within " + limit.toSeconds() + "s", null);
      }
      outReader.join(Duration.ofSeconds(5));
      errReader.join(Duration.ofSeconds(5));
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new PodmanException("interrupted while podman " + describe(args) + " ran", e);
    }
    synchronized (out) {
      synchronized (err) {
        return new Result(
            p.exitValue(),
            out.toString(StandardCharsets.UTF_8),
            err.toString(StandardCharsets.UTF_8));
      }
    }
  }

  /**
   * Starts {@code podman args...} without waiting: for streams (logs). The caller reads its output
   * and destroys it.
   */
  Process start(List<String> args, boolean mergeErrors) {
    List<String> command = new ArrayList<>(base);
    command.addAll(args);
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(mergeErrors).start();
      p.getOutputStream().close();
      return p;
    } catch (IOException e) {
      throw new PodmanException("cannot run " + base.get(0) + ": " + e.getMessage(), e);
    }
  }

  private static void drain(InputStream in, ByteArrayOutputStream into, int max) {
    byte[] buf = new byte[8192];
    try (in) {
      int n;
      while ((n = in.read(buf)) >= 0) {
        synchronized (into) {
          int room = max - into.size();
          if (room > 0) {
            into.write(buf, 0, Math.min(n, room));
          }
        }
      }
    } catch (IOException e) {
      // The process was killed; what was read is kept.
    }
  }

  private static String describe(List<String> args) {
    return args.isEmpty() ? "" : args.get(0);
  }

  /** Whether podman answers {@code podman version} within the timeout. */
  boolean answers() {
    try {
      return run("version", "--format", "{{.Client.Version}}").ok();
    } catch (PodmanException | UncheckedIOException e) {
      return false;
    }
  }
}
