package io.edgefleet.controller.gitops;

import io.edgefleet.controller.store.Database;
import java.nio.file.Path;

/** The engine contract on the embedded SQLite database, with repositories over file://. */
class GitOpsTest extends GitOpsContract {
  @Override
  String databaseUrl(Path dataDir) {
    return Database.sqliteUrl(dataDir);
  }
}
