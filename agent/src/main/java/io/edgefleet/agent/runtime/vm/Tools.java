package io.edgefleet.agent.runtime.vm;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Runs the external programs the VM runtime needs ({@code qemu-img}, {@code qemu-system-*}, an ISO
 * writer), each bounded by a timeout and with its output kept to a bounded size. Thread-safe.
 */
final class Tools {
  /** The most output of one program kept for an error message. */
  private static final int MAX_OUTPUT = 8 * 1024;

  /** What a program did. */
  record Result(int exitCode, String output) {
    boolean ok() {
      return exitCode == 0;
    }

    /** The last line of the output that says anything, for an error message. */
    String lastWords() {
      List<String> lines = output.strip().lines().filter(l -> !l.isBlank()).toList();
      return lines.isEmpty() ? "exit code " + exitCode : lines.get(lines.size() - 1).strip();
    }
  }

  /** A program that did not finish within its timeout (it was killed), or could not start. */
  static final class ToolException extends RuntimeException {
    ToolException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  private Tools() {}

  /**
   * Runs {@code command} to its end, stdout and stderr merged, killing it after {@code timeout}.
   *
   * @throws ToolException when it cannot be started or does not end in time
   */
  static Result run(List<String> command, Duration timeout) {
    Process p;
    try {
      p = new ProcessBuilder(command).redirectErrorStream(true).start();
    } catch (IOException e) {
      throw new ToolException("cannot run " + command.get(0) + ": " + e.getMessage(), e);
    }
    try {
      p.getOutputStream().close();
    } catch (IOException e) {
      // Nothing is written to the program: a closed input is what it gets anyway.
    }
    StringBuilder out = new StringBuilder();
    Thread reader =
        Thread.ofVirtual()
            .start(
                () -> {
                  try (InputStream in = p.getInputStream()) {
                    byte[] buf = new byte[4096];
                    int n;
                    while ((n = in.read(buf)) > 0) {
                      synchronized (out) {
                        // Keep the end: the reason for a failure is usually in the last lines.
                        out.append(new String(buf, 0, n, StandardCharsets.UTF_8));
                        if (out.length() > MAX_OUTPUT) {
                          out.delete(0, out.length() - MAX_OUTPUT);
                        }
                      }
                    }
                  } catch (IOException e) {
                    // The process ended or was killed: what was read is kept.
                  }
                });
    try {
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        p.waitFor(5, TimeUnit.SECONDS);
        throw new ToolException(
            command.get(0) + " did not finish within " + timeout.toSeconds() + "s", null);
      }
      reader.join(Duration.ofSeconds(5));
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new ToolException(command.get(0) + " was interrupted", e);
    }
    synchronized (out) {
      return new Result(p.exitValue(), out.toString());
    }
  }

  /** The first of {@code names} found as an executable on the {@code PATH}. */
  static Optional<Path> find(String... names) {
    String path = System.getenv().getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin");
    for (String name : names) {
      for (String dir : path.split(":")) {
        if (dir.isEmpty()) {
          continue;
        }
        Path p = Path.of(dir, name);
        if (Files.isRegularFile(p) && Files.isExecutable(p)) {
          return Optional.of(p);
        }
      }
    }
    return Optional.empty();
  }

  static void deleteTree(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (var walk = Files.walk(dir)) {
      for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
