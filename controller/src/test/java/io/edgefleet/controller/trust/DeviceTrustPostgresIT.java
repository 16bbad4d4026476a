package io.edgefleet.controller.trust;

import io.edgefleet.controller.store.TestPostgres;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** Device trust end to end on a real PostgreSQL server: the same SQL as on SQLite. */
class DeviceTrustPostgresIT extends DeviceTrustContract {
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
    return postgres.newDatabaseUrl("trust");
  }
}
