package io.edgefleet.controller.agentreleases;

import io.edgefleet.controller.store.TestPostgres;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** Agent releases on a real PostgreSQL server: the same SQL as on SQLite. */
class AgentReleasesPostgresIT extends AgentReleasesContract {
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
    return postgres.newDatabaseUrl("agentreleases");
  }
}
