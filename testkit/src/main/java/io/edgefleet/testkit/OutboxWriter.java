package io.edgefleet.testkit;

import io.edgefleet.agent.outbox.Outbox;
import io.edgefleet.protocol.Telemetry;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A child JVM that writes to an agent outbox as fast as it can, so tests can kill it with SIGKILL
 * at any moment and check what a restart finds. After every append returns it prints {@code W
 * <kind> <seq> .} (the record is acknowledged-as-written), and after every simulated
 * acknowledgement {@code A <events> <metrics> .} (the acknowledged watermarks); with drains it also
 * hands out batches and acknowledges them itself, which deletes segments, so crashes land in that
 * code too.
 */
public final class OutboxWriter implements AutoCloseable {
  /** One line the child printed. */
  public record Line(char what, String kind, long a, long b) {}

  private final Process process;
  private final List<Line> lines = new CopyOnWriteArrayList<>();
  private final List<String> other = new CopyOnWriteArrayList<>();
  private final Thread reader;

  private OutboxWriter(Process process) {
    this.process = process;
    this.reader =
        Thread.ofPlatform()
            .daemon()
            .name("outbox-writer-output")
            .start(
                () -> {
                  try (BufferedReader r =
                      new BufferedReader(
                          new InputStreamReader(
                              process.getInputStream(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                      parse(line);
                    }
                  } catch (IOException e) {
                    // The process died; what was read counts.
                  }
                });
  }

  private void parse(String line) {
    String[] f = line.split(" ");
    try {
      // Every complete line ends with " ."; a line the kill cut short does not count.
      if (f.length == 4 && f[0].equals("W") && f[3].equals(".")) {
        lines.add(new Line('W', f[1], Long.parseLong(f[2]), 0));
        return;
      }
      if (f.length == 4 && f[0].equals("A") && f[3].equals(".")) {
        lines.add(new Line('A', "", Long.parseLong(f[1]), Long.parseLong(f[2])));
        return;
      }
    } catch (NumberFormatException e) {
      // A line cut by the kill: not a completed write.
    }
    other.add(line);
  }

  /** Starts the child on {@code dir} with the test's class path. */
  public static OutboxWriter start(Path dir, long maxBytes, boolean drain) {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.add("-cp");
    cmd.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
    cmd.add("-Xmx64m");
    cmd.add("-XX:TieredStopAtLevel=1");
    cmd.add(OutboxWriter.class.getName());
    cmd.add(dir.toString());
    cmd.add(Long.toString(maxBytes));
    cmd.add(Boolean.toString(drain));
    try {
      return new OutboxWriter(new ProcessBuilder(cmd).redirectErrorStream(true).start());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start the outbox writer", e);
    }
  }

  /** Records the child reported written so far. */
  public long written() {
    return lines.stream().filter(l -> l.what() == 'W').count();
  }

  /** Everything the child reported, in order; complete once {@link #kill9()} returned. */
  public List<Line> lines() {
    return List.copyOf(lines);
  }

  /** Output that was not a report (errors, stack traces). */
  public List<String> otherOutput() {
    return List.copyOf(other);
  }

  public boolean alive() {
    return process.isAlive();
  }

  /** SIGKILL, then waits until the child is gone and its output is read. */
  public void kill9() {
    process.destroyForcibly();
    try {
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("the outbox writer did not die");
      }
      reader.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      kill9();
    }
  }

  /** The child: {@code <dir> <max bytes> <drain>}; writes until killed. */
  public static void main(String[] args) {
    Path dir = Path.of(args[0]);
    long max = Long.parseLong(args[1]);
    boolean drain = Boolean.parseBoolean(args[2]);
    PrintStream out =
        new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true);
    Outbox outbox = Outbox.open(dir, Outbox.Options.bounded(max), Clock.systemUTC());
    ThreadLocalRandom random = ThreadLocalRandom.current();
    long n = 0;
    while (true) {
      n++;
      if (random.nextInt(3) == 0) {
        Map<String, Telemetry.Stat> m = new TreeMap<>();
        for (int i = 0; i < 30; i++) {
          double v = random.nextDouble(100);
          m.put("metric." + i + ".value", new Telemetry.Stat(v, v + 1, v + 0.5, v, 12));
        }
        Instant now = Instant.now();
        Telemetry.Metrics t = outbox.appendMetrics(now.minusSeconds(60), now, m);
        out.println("W m " + t.seq() + " .");
      } else {
        Telemetry.DeviceEvent e =
            outbox.appendEvent(
                "test-event", "info", "app-" + (n % 7), "event number " + n, Instant.now());
        out.println("W e " + e.seq() + " .");
      }
      if (drain && random.nextInt(20) == 0) {
        List<Telemetry> batch = outbox.nextBatch(1 + random.nextInt(50), 48 * 1024);
        if (!batch.isEmpty()) {
          outbox.acked(batch.stream().mapToLong(Telemetry::seq).max().orElseThrow());
          Outbox.Stats s = outbox.stats();
          out.println("A " + s.ackedEvents() + " " + s.ackedMetrics() + " .");
        }
      }
    }
  }
}
