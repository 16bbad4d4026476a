package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code edgefleet sessions play ID}: replays the recording of a shell session (asciicast v2) on
 * the terminal with its timing.
 */
@Command(
    name = "play",
    description = {
      "Replay the recording of a shell session with its timing (needs audit:read).",
      "--speed 2 plays twice as fast; pauses longer than --idle-limit are shortened; --no-wait"
          + " prints everything at once."
    })
final class SessionsPlay extends TokenCommand {
  @Parameters(paramLabel = "ID", description = "Session id, as `sessions list` shows it.")
  String id;

  @Option(names = "--speed", paramLabel = "FACTOR", description = "Playback speed (default 1).")
  double speed = 1;

  @Option(
      names = "--idle-limit",
      paramLabel = "SECONDS",
      description = "Longest pause played (default 2).")
  double idleLimit = 2;

  @Option(names = "--no-wait", description = "Print the whole output at once.")
  boolean noWait;

  @Override
  void validate() {
    if (!(speed > 0) || speed > 1000) {
      throw badInput("--speed must be above 0 and at most 1000");
    }
    if (!(idleLimit > 0)) {
      throw badInput("--idle-limit must be above 0");
    }
  }

  @Override
  void run(ControllerClient api) {
    java.io.PrintWriter terminal = out();
    Player player = new Player(speed, idleLimit, noWait);
    api.stream(
        "/api/v1/sessions/" + ControllerClient.segment(id) + "/recording",
        line -> {
          String text = player.line(line);
          if (text != null) {
            terminal.print(text);
            terminal.flush();
          }
          return true;
        });
    if (player.truncated) {
      spec.commandLine().getErr().println("note: the recording was cut at its size limit");
    }
  }

  /** Turns asciicast lines into output at their time. */
  static final class Player {
    private final double speed;
    private final double idleLimit;
    private final boolean noWait;
    private boolean header = true;
    private double last;
    private long startNanos;
    private double played;
    boolean truncated;

    Player(double speed, double idleLimit, boolean noWait) {
      this.speed = speed;
      this.idleLimit = idleLimit;
      this.noWait = noWait;
    }

    /** The output of one line once its time came; null for lines that print nothing. */
    String line(String line) {
      if (line.isBlank()) {
        return null;
      }
      JsonNode n;
      try {
        n = Json.mapper().readTree(line);
      } catch (IOException e) {
        throw CliException.failed("the recording is not asciicast v2: " + e.getMessage());
      }
      if (header) {
        header = false;
        if (!n.isObject() || n.path("version").asInt() != 2) {
          throw CliException.failed("the recording is not asciicast v2 (no version 2 header)");
        }
        startNanos = System.nanoTime();
        return null;
      }
      if (!n.isArray() || n.size() < 3) {
        return null;
      }
      double t = n.get(0).asDouble();
      String type = n.get(1).asText();
      String data = n.get(2).asText();
      if (data.contains("the recording was cut here")) {
        truncated = true;
      }
      played += Math.min(Math.max(0, t - last), idleLimit);
      last = Math.max(last, t);
      if (!noWait) {
        long due = startNanos + (long) (played / speed * TimeUnit.SECONDS.toNanos(1));
        long wait;
        while ((wait = due - System.nanoTime()) > 0) {
          LockSupport.parkNanos(wait);
        }
      }
      return type.equals("o") ? data : null;
    }
  }
}
