package io.edgefleet.e2e.sso;

import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.testkit.Postgres;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;

/** Single sign-on with the controller on PostgreSQL. */
class PostgresSsoIT extends SsoIT {
  @Override
  ControllerConfig config(Path dataDir) {
    return TestController.config(dataDir).withDatabase(Postgres.newDatabase(), null, null);
  }
}
