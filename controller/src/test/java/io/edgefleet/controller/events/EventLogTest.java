package io.edgefleet.controller.events;

import io.edgefleet.controller.store.Database;
import java.nio.file.Path;

/** The event log contract on SQLite. */
class EventLogTest extends EventLogContract {
  @Override
  String databaseUrl(Path dataDir) {
    return Database.sqliteUrl(dataDir);
  }
}
