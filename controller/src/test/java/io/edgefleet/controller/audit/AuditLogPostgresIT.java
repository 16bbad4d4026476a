package io.edgefleet.controller.audit;

import io.edgefleet.controller.store.TestPostgres;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The tamper-evident audit log on a real PostgreSQL server, where concurrent writers share a pool
 * of connections and the chain head's row lock serialises them.
 */
class AuditLogPostgresIT extends AuditLogContract {
  private static TestPostgres postgres;

  @BeforeAll
  static void startPostgres() {
    postgres = TestPostgres.start();
  }

  @AfterAll
  static void stopPostgres() {
    postgres.close();
  }

  @Override
  String databaseUrl(Path dataDir) {
    return postgres.newDatabaseUrl("audit");
  }
}
