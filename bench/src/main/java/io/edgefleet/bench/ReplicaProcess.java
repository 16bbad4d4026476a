package io.edgefleet.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One controller replica of the replicas benchmark: {@code edgefleet controller --data DIR --listen
 * 127.0.0.1:PORT --database-url URL --also-advertise-url …} with {@link
 * ScaleBench#CONTROLLER_OPTS}. Its CPU time counts across restarts (a killed process's last reading
 * is carried over).
 */
final class ReplicaProcess {
  final int index;
  final int port;
  final Path data;
  private final Path root;
  private final List<String> args;
  private final Path log;
  private Process process;
  private long carriedTicks;
  private long lastTicks;

  ReplicaProcess(int index, int port, Path data, Path root, List<String> args) {
    this.index = index;
    this.port = port;
    this.data = data;
    this.root = root;
    this.args = List.copyOf(args);
    this.log = data.resolveSibling("replica-" + index + ".log");
  }

  String url() {
    return "https://127.0.0.1:" + port;
  }

  long pid() {
    return process.pid();
  }

  boolean alive() {
    return process != null && process.isAlive();
  }

  /** Starts the process; {@link #awaitServing} waits for it. */
  void start() throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.addAll(
        List.of(
            "controller",
            "--data",
            data.toString(),
            "--listen",
            "127.0.0.1:" + port,
            // The whole simulated fleet enrolls from a few addresses at once.
            "--enrollments-per-address",
            "1000000"));
    cmd.addAll(args);
    mark = Files.exists(log) ? Files.size(log) : 0;
    process =
        new ProcessBuilder(
                Launcher.command(root, ScaleBench.CONTROLLER_OPTS, cmd.toArray(String[]::new)))
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
    lastTicks = 0;
  }

  private long mark;

  /** Waits until the log says it serves (what it wrote after the last start). */
  void awaitServing(long timeoutMillis) throws Exception {
    long deadline = System.currentTimeMillis() + timeoutMillis;
    while (System.currentTimeMillis() < deadline) {
      String text = Files.exists(log) ? Files.readString(log) : "";
      if (text.length() > mark
          && text.substring((int) Math.min(mark, text.length())).contains(" serving https://")) {
        return;
      }
      if (!process.isAlive()) {
        String tail = text.substring(Math.max(0, text.length() - 2_000));
        throw new IllegalStateException("replica " + index + " exited; see " + log + ":\n" + tail);
      }
      Thread.sleep(50);
    }
    throw new IllegalStateException("replica " + index + " did not start in time; see " + log);
  }

  /** kill -9, and waits until it is gone. */
  void kill() throws InterruptedException {
    cpuTicks();
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
    carriedTicks += lastTicks;
    lastTicks = 0;
  }

  /** CPU clock ticks of this replica so far, across restarts. */
  synchronized long cpuTicks() {
    if (process != null && process.isAlive()) {
      long t = ProcStats.cpuTicks(process.pid());
      if (t >= 0) {
        lastTicks = t;
      }
    }
    return carriedTicks + lastTicks;
  }

  long rss() {
    return alive() ? ProcStats.rss(process.pid()) : -1;
  }

  /** Open file descriptors of the process now; -1 when unknown. */
  long openFiles() {
    try (var s = Files.list(Path.of("/proc/" + process.pid() + "/fd"))) {
      return s.count();
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  void stop() {
    if (process != null && process.isAlive()) {
      process.destroy();
      try {
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
          process.destroyForcibly();
        }
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }
}
