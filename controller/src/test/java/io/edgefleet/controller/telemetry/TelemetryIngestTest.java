package io.edgefleet.controller.telemetry;

import io.edgefleet.controller.store.Database;
import java.nio.file.Path;

/** The telemetry ingestion contract on SQLite. */
class TelemetryIngestTest extends TelemetryIngestContract {
  @Override
  String databaseUrl(Path dataDir) {
    return Database.sqliteUrl(dataDir);
  }
}
