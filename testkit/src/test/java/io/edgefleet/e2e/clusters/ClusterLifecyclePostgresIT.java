package io.edgefleet.e2e.clusters;

import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.testkit.Postgres;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;

/** The cluster lifecycle over the HTTPS API with the controller's state in PostgreSQL. */
class ClusterLifecyclePostgresIT extends ClusterLifecycleApiIT {
  @Override
  ControllerConfig config(Path dataDir) {
    return TestController.config(dataDir).withDatabase(Postgres.newDatabase(), null, null);
  }
}
