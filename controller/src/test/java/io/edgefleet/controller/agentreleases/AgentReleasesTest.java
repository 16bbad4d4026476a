package io.edgefleet.controller.agentreleases;

import io.edgefleet.controller.store.Database;
import java.nio.file.Path;

/** Agent releases on SQLite. */
class AgentReleasesTest extends AgentReleasesContract {
  @Override
  String databaseUrl(Path dataDir) {
    return Database.sqliteUrl(dataDir);
  }
}
