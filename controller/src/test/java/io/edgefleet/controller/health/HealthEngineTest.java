package io.edgefleet.controller.health;

import io.edgefleet.controller.store.Database;
import java.nio.file.Path;

/** The health engine contract on SQLite. */
class HealthEngineTest extends HealthEngineContract {
  @Override
  String databaseUrl(Path dataDir) {
    return Database.sqliteUrl(dataDir);
  }
}
