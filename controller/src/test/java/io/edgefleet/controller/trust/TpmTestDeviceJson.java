package io.edgefleet.controller.trust;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;

/** Reads a JSON body in tests. */
final class TpmTestDeviceJson {
  private TpmTestDeviceJson() {}

  static JsonNode read(String body) {
    try {
      return Json.mapper().readTree(body);
    } catch (Exception e) {
      throw new AssertionError("not JSON: " + body, e);
    }
  }
}
