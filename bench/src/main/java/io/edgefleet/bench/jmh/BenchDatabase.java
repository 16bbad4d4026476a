package io.edgefleet.bench.jmh;

import io.edgefleet.controller.devices.DeviceRecord;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.DeviceFacts;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A controller's SQLite database (default settings, migrations applied) in a temporary directory.
 */
final class BenchDatabase implements AutoCloseable {
  final Path dir;
  final Database db;

  BenchDatabase() {
    try {
      dir = Files.createTempDirectory("edgefleet-jmh-");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    db = Database.open(Database.sqliteUrl(dir), null, null);
  }

  /** Inserts active devices {@code prefix0 … prefix(n-1)} with these tags, in one transaction. */
  void insertActive(String prefix, int n, Map<String, String> tags) {
    DeviceFacts facts =
        new DeviceFacts(
            "h", null, List.of(), "arm64", 4, 4L << 30, 32L << 30, "Linux", "6", "t", true, true);
    Instant at = Instant.parse("2026-11-21T10:00:00Z");
    DeviceStore store = new DeviceStore();
    db.jdbi()
        .useTransaction(
            h -> {
              for (int i = 0; i < n; i++) {
                String id = prefix + i;
                store.insert(
                    h,
                    new DeviceRecord(
                        id,
                        id,
                        null,
                        DeviceRecord.Lifecycle.ACTIVE,
                        "CODE-" + id,
                        "fp-" + id,
                        "pub",
                        null,
                        null,
                        null,
                        null,
                        tags,
                        facts,
                        "t",
                        null,
                        at,
                        at,
                        null),
                    at.toEpochMilli());
              }
            });
  }

  @Override
  public void close() {
    db.close();
    Fixtures.deleteTree(dir);
  }

  /** A clock that moves only when told, so every flush finds every device changed. */
  static final class SteppingClock extends Clock {
    private final AtomicLong millis = new AtomicLong(1_795_000_000_000L);

    void step() {
      millis.addAndGet(1_000);
    }

    @Override
    public long millis() {
      return millis.get();
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(millis.get());
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }
  }
}
