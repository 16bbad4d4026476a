package io.edgefleet.controller.api;

import com.fasterxml.jackson.annotation.JsonRawValue;
import com.fasterxml.jackson.annotation.JsonValue;
import java.nio.charset.StandardCharsets;

/** A JSON document that is already serialised (the OpenAPI description). */
record RawJson(byte[] json) {
  @JsonValue
  @JsonRawValue
  String value() {
    return new String(json, StandardCharsets.UTF_8);
  }
}
