package io.edgefleet.e2e.access;

import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.testkit.Postgres;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;

/** Users, roles and tokens on PostgreSQL. */
class PostgresAccessIT extends AccessIT {
  @Override
  ControllerConfig config(Path dataDir) {
    return TestController.config(dataDir).withDatabase(Postgres.newDatabase(), null, null);
  }
}
