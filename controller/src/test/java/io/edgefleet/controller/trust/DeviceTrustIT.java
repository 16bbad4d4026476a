package io.edgefleet.controller.trust;

import java.nio.file.Path;

/** Device trust end to end on SQLite. */
class DeviceTrustIT extends DeviceTrustContract {
  @Override
  String databaseUrl(Path dataDir) {
    return null;
  }
}
