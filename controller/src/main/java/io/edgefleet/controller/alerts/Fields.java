package io.edgefleet.controller.alerts;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.common.ControllerException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Reads a JSON object field by field and collects every problem (unknown field, wrong type), so
 * that one answer names all of them and nothing the caller sent is silently dropped.
 */
final class Fields {
  private final JsonNode node;
  private final List<String> problems = new ArrayList<>();

  private Fields(JsonNode node) {
    this.node = node;
  }

  static Fields of(JsonNode node, String what, Set<String> known) {
    if (node == null || !node.isObject()) {
      throw ControllerException.invalid("the body must be a JSON object describing the " + what);
    }
    Fields f = new Fields(node);
    Iterator<String> names = node.fieldNames();
    while (names.hasNext()) {
      String n = names.next();
      if (!known.contains(n)) {
        f.problems.add("unknown field '" + n + "' (known: " + String.join(", ", known) + ")");
      }
    }
    return f;
  }

  /** The text of a field, or null when absent or null. */
  String text(String name) {
    JsonNode v = node.get(name);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isTextual()) {
      problems.add("'" + name + "' must be text, got " + v);
      return null;
    }
    return v.asText().trim();
  }

  /** A number, or null when absent or null. */
  Double number(String name) {
    JsonNode v = node.get(name);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isNumber()) {
      problems.add("'" + name + "' must be a number, got " + v);
      return null;
    }
    return v.asDouble();
  }

  /** A list of texts without duplicates (empty when absent). */
  List<String> texts(String name) {
    JsonNode v = node.get(name);
    if (v == null || v.isNull()) {
      return List.of();
    }
    if (!v.isArray()) {
      problems.add("'" + name + "' must be a list of names, got " + v);
      return List.of();
    }
    Set<String> out = new LinkedHashSet<>();
    for (JsonNode e : v) {
      if (!e.isTextual() || e.asText().isBlank()) {
        problems.add("'" + name + "' must hold names, got " + e);
      } else {
        out.add(e.asText().trim());
      }
    }
    return List.copyOf(out);
  }

  void problem(String message) {
    problems.add(message);
  }

  /** Throws {@code VALIDATION_FAILED} listing every problem, if there is any. */
  void check(String what) {
    if (!problems.isEmpty()) {
      throw ControllerException.invalid(what + " is invalid: " + String.join("; ", problems));
    }
  }
}
