package io.edgefleet.e2e.access;

import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.testkit.Postgres;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;

/** Projects everywhere on PostgreSQL: the project columns and every filtered route. */
class PostgresProjectsIT extends ProjectsEverywhereIT {
  @Override
  ControllerConfig config(Path dataDir) {
    return TestController.config(dataDir).withDatabase(Postgres.newDatabase(), null, null);
  }
}
