package io.edgefleet.controller.audit;

import io.edgefleet.controller.store.Database;
import java.nio.file.Path;

/** The tamper-evident audit log on SQLite. */
class AuditLogTest extends AuditLogContract {
  @Override
  String databaseUrl(Path dataDir) {
    return Database.sqliteUrl(dataDir);
  }
}
