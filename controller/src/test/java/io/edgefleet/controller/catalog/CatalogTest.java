package io.edgefleet.controller.catalog;

import io.edgefleet.controller.store.Database;
import java.nio.file.Path;

/** The catalog contract on the embedded SQLite database. */
class CatalogTest extends CatalogContract {
  @Override
  String databaseUrl(Path dataDir) {
    return Database.sqliteUrl(dataDir);
  }
}
