package io.edgefleet.e2e;

import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;

class SqliteHttpApiIT extends HttpApiContract {
  @Override
  ControllerConfig config(Path dataDir) {
    return TestController.config(dataDir);
  }
}
