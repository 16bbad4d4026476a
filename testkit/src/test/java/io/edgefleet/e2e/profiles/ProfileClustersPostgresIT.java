package io.edgefleet.e2e.profiles;

import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.testkit.Postgres;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;

/** Clusters following profiles by selector with the controller's state in PostgreSQL. */
class ProfileClustersPostgresIT extends ProfileClustersApiIT {
  @Override
  ControllerConfig config(Path dataDir) {
    return TestController.config(dataDir).withDatabase(Postgres.newDatabase(), null, null);
  }
}
