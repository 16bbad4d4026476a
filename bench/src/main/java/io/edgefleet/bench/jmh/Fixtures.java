package io.edgefleet.bench.jmh;

import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.Telemetry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Realistic values shared by the benchmarks: what one device sends and is sent. */
final class Fixtures {
  private Fixtures() {}

  static final int APPS = 5;

  /** The desired state of a device running five apps, as the engine would issue it. */
  static DesiredState desiredState(String deviceId, long generation) {
    List<DesiredState.DesiredApp> apps = new ArrayList<>();
    for (int i = 0; i < APPS; i++) {
      apps.add(
          new DesiredState.DesiredApp(
              "app-" + i,
              "catalog",
              "v1.2." + i,
              "sha256:" + "0123456789abcdef".repeat(4),
              6_781 + i));
    }
    return new DesiredState(deviceId, generation, Instant.parse("2026-11-21T10:00:00Z"), apps);
  }

  static AgentMessage.AppReport appReport() {
    List<AppState> apps = new ArrayList<>();
    for (int i = 0; i < APPS; i++) {
      apps.add(new AppState("app-" + i, "v1.2." + i, AppState.Phase.READY, null));
    }
    return new AgentMessage.AppReport(42, apps);
  }

  /** One 60 s summary of the 12 metrics the node sampler finds on the bench machine. */
  static AgentMessage.TelemetryBatch telemetryBatch() {
    String[] names = {
      "cpu.used.percent",
      "cpu.iowait.percent",
      "load.1m",
      "mem.used.bytes",
      "mem.available.bytes",
      "mem.used.percent",
      "uptime.seconds",
      "disk./.used.bytes",
      "disk./.used.percent",
      "net.eth0.rx.bytes",
      "net.eth0.tx.bytes",
      "net.eth0.rx.errors"
    };
    Map<String, Telemetry.Stat> metrics = new LinkedHashMap<>();
    for (int i = 0; i < names.length; i++) {
      double base = 1234.567 * (i + 1);
      metrics.put(names[i], new Telemetry.Stat(base * 0.9, base * 1.1, base, base * 1.01, 12));
    }
    Instant at = Instant.parse("2026-11-21T10:01:00Z");
    return new AgentMessage.TelemetryBatch(
        List.of(new Telemetry.Metrics(1_234, at.minusSeconds(60), at, metrics)));
  }

  static void deleteTree(Path dir) {
    try {
      Files.walkFileTree(
          dir,
          new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
                throws IOException {
              Files.delete(file);
              return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
              Files.delete(d);
              return FileVisitResult.CONTINUE;
            }
          });
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
