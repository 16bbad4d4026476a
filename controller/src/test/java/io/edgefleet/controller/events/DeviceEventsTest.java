package io.edgefleet.controller.events;

import io.edgefleet.controller.store.Database;
import java.nio.file.Path;

/** The device event limits on SQLite. */
class DeviceEventsTest extends DeviceEventsContract {
  @Override
  String databaseUrl(Path dataDir) {
    return Database.sqliteUrl(dataDir);
  }
}
