package io.edgefleet.controller.devices;

import io.edgefleet.protocol.DeviceFacts;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.jdbi.v3.core.Jdbi;

/** Enrolled, active devices written straight to the registry, for engine tests. */
public final class TestDevices {
  private TestDevices() {}

  /** Inserts an active device with these tags, enrolled at {@code at}. */
  public static void insertActive(Jdbi jdbi, String id, Map<String, String> tags, Instant at) {
    DeviceFacts facts =
        new DeviceFacts("h", null, List.of(), "amd64", 1, 1, 1, "Linux", "6", "t", false, false);
    jdbi.useHandle(
        h -> new DeviceStore().insert(h, active(id, tags, facts, at), at.toEpochMilli()));
  }

  /** The record of an enrolled, active device with these tags and facts. */
  public static DeviceRecord active(
      String id, Map<String, String> tags, DeviceFacts facts, Instant at) {
    return new DeviceRecord(
        id,
        id,
        null,
        DeviceRecord.Lifecycle.ACTIVE,
        "CODE-" + id,
        "fp-" + id,
        "pub",
        null,
        null,
        null,
        null,
        tags,
        facts,
        "t",
        null,
        at,
        at,
        null);
  }
}
