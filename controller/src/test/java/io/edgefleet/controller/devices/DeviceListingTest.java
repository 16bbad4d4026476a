package io.edgefleet.controller.devices;

import io.edgefleet.controller.store.Database;
import java.nio.file.Path;

/** The device listing contract on SQLite. */
class DeviceListingTest extends DeviceListingContract {
  @Override
  String databaseUrl(Path dataDir) {
    return Database.sqliteUrl(dataDir);
  }
}
