package io.edgefleet.controller.alerts;

import io.edgefleet.controller.store.Database;
import java.nio.file.Path;

/** The alert engine contract on SQLite, the embedded default. */
class AlertEngineTest extends AlertEngineContract {
  @Override
  String databaseUrl(Path dataDir) {
    return Database.sqliteUrl(dataDir);
  }
}
