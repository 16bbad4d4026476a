package io.edgefleet.e2e.agentupdates;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.testkit.AdminClient;
import java.time.Duration;
import java.util.Optional;
import java.util.stream.StreamSupport;

/** The controller's record of the one device an agent-update test runs, by its name. */
final class DeviceRecords {
  private DeviceRecords() {}

  static Optional<JsonNode> find(AdminClient admin, String name) {
    JsonNode items = admin.get("/api/v1/devices").body().path("items");
    return StreamSupport.stream(items.spliterator(), false)
        .filter(d -> name.equals(d.path("name").asText()))
        .findFirst();
  }

  /** Waits until the device is online and reports {@code version}. */
  static void awaitOnline(AdminClient admin, String name, String version, Duration wait) {
    await()
        .atMost(wait)
        .pollInterval(Duration.ofMillis(200))
        .until(
            () ->
                find(admin, name)
                    .filter(d -> d.path("status").asText().equals("ONLINE"))
                    .filter(d -> version.equals(d.path("agentVersion").asText()))
                    .isPresent());
  }
}
