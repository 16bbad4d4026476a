package io.edgefleet.controller.store;

import com.fasterxml.jackson.core.type.TypeReference;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.TreeMap;

/** JSON text columns (tags, facts) read and written the same way on SQLite and PostgreSQL. */
public final class JsonColumns {
  private static final TypeReference<TreeMap<String, String>> TAGS = new TypeReference<>() {};

  private JsonColumns() {}

  public static String tags(Map<String, String> tags) {
    return Json.write(new TreeMap<>(tags));
  }

  public static Map<String, String> tags(String json) {
    try {
      return json == null ? Map.of() : Json.mapper().readValue(json, TAGS);
    } catch (IOException e) {
      throw new UncheckedIOException("corrupt tags column: " + json, e);
    }
  }

  public static <T> T read(String json, Class<T> type) {
    try {
      return Json.mapper().readValue(json, type);
    } catch (IOException e) {
      throw new UncheckedIOException("corrupt JSON column of type " + type.getSimpleName(), e);
    }
  }
}
