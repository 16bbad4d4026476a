package io.edgefleet.controller.replicas;

import io.edgefleet.controller.store.TestPostgres;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The replica directory on a real PostgreSQL server, where replicas run. */
class ReplicaDirectoryPostgresIT extends ReplicaDirectoryContract {
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
    return postgres.newDatabaseUrl("replicas");
  }
}
