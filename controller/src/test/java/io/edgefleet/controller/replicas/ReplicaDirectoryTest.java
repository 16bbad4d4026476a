package io.edgefleet.controller.replicas;

import io.edgefleet.controller.store.Database;
import java.nio.file.Path;

/** The replica directory on the embedded SQLite database. */
class ReplicaDirectoryTest extends ReplicaDirectoryContract {
  @Override
  String databaseUrl(Path dataDir) {
    return Database.sqliteUrl(dataDir);
  }
}
