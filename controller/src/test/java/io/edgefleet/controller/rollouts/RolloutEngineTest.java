package io.edgefleet.controller.rollouts;

import io.edgefleet.controller.store.Database;
import java.nio.file.Path;

/** The rollout engine contract on SQLite, the embedded default. */
class RolloutEngineTest extends RolloutEngineContract {
  @Override
  String databaseUrl(Path dataDir) {
    return Database.sqliteUrl(dataDir);
  }
}
