package io.edgefleet.controller.events;

import io.edgefleet.controller.store.Database;
import java.nio.file.Path;

/** Event retention on SQLite. */
class EventRetentionTest extends EventRetentionContract {
  @Override
  String databaseUrl(Path dataDir) {
    return Database.sqliteUrl(dataDir);
  }
}
