package io.edgefleet.controller.devices;

import io.edgefleet.controller.store.Database;
import java.nio.file.Path;

/** Shared presence on the embedded SQLite database (two handles on one file). */
class SharedPresenceTest extends SharedPresenceContract {
  @Override
  String databaseUrl(Path dataDir) {
    return Database.sqliteUrl(dataDir);
  }
}
