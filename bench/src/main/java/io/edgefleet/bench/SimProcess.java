package io.edgefleet.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One simulator process of the replicas benchmark: {@code edgefleet sim --bootstrap FILE --devices
 * N --stats FILE --state DIR --source-addresses 127.0.S.2-127.0.S.11} with {@link
 * ScaleBench#SIM_OPTS}. Each process dials from its own ten loopback addresses, so their ephemeral
 * ports do not meet.
 */
final class SimProcess {
  final int index;
  final int devices;
  private final Path stats;
  private final Process process;
  private final Path log;

  private SimProcess(int index, int devices, Path stats, Path log, Process process) {
    this.index = index;
    this.devices = devices;
    this.stats = stats;
    this.log = log;
    this.process = process;
  }

  static SimProcess start(Path root, Path work, int index, int devices, Path bootstrap)
      throws IOException {
    Path stats = work.resolve("sim-" + index + "-stats.json");
    Path log = work.resolve("sim-" + index + ".log");
    int net = index + 1;
    List<String> cmd =
        Launcher.command(
            root,
            ScaleBench.SIM_OPTS,
            "sim",
            "--bootstrap",
            bootstrap.toString(),
            "--devices",
            Integer.toString(devices),
            "--stats",
            stats.toString(),
            "--state",
            work.resolve("sim-" + index + "-state").toString(),
            "--source-addresses",
            "127.0." + net + ".2-127.0." + net + ".11");
    Process p =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    return new SimProcess(index, devices, stats, log, p);
  }

  boolean alive() {
    return process.isAlive();
  }

  Path log() {
    return log;
  }

  long rss() {
    return ProcStats.rss(process.pid());
  }

  /** The last {@code --stats} snapshot; empty before the first. */
  JsonNode stats() {
    for (int i = 0; i < 20; i++) {
      try {
        if (Files.exists(stats)) {
          return Json.mapper().readTree(Files.readString(stats));
        }
      } catch (IOException e) {
        // Being replaced; read again.
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    return Json.mapper().createObjectNode();
  }

  void stop() {
    if (process.isAlive()) {
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
