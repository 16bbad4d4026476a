package io.edgefleet.agent.runtime.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.edgefleet.protocol.json.JsonCodec;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * Splits and parses an app's multi-document YAML into Kubernetes objects (JSON trees). Pure;
 * thread-safe.
 *
 * <p>YAML is read as YAML 1.1, like {@code kubectl} does ({@code 0644} is octal, {@code yes} is a
 * boolean), except that timestamps stay strings (Kubernetes has no timestamp type in JSON);
 * duplicate keys are an error. Documents are numbered from 1 in the order they appear, empty ones
 * included, so a person can count the {@code ---} separators. A {@code v1 List} is expanded into
 * its items.
 */
final class Manifests {

  /** A parsed manifest set, or the first document that could not be read. */
  sealed interface Parsed {
    /**
     * @param objects in document order
     */
    record Objects(List<Document> objects) implements Parsed {}

    record Malformed(int document, String error) implements Parsed {
      String reason() {
        return "document " + document + ": " + error;
      }
    }
  }

  /** One object and the document it came from (1-based). */
  record Document(int index, ObjectNode object) {
    String apiVersion() {
      return object.path("apiVersion").asText();
    }

    String kind() {
      return object.path("kind").asText();
    }

    ObjectNode metadata() {
      return (ObjectNode) object.get("metadata");
    }

    String name() {
      return metadata().path("name").asText();
    }
  }

  private static final int MAX_CODE_POINTS = 16 * 1024 * 1024;

  private Manifests() {}

  static Parsed parse(String yaml) {
    LoaderOptions options = new LoaderOptions();
    options.setAllowDuplicateKeys(false);
    options.setCodePointLimit(MAX_CODE_POINTS);
    Yaml loader = new Yaml(new KubectlConstructor(options));
    List<Document> objects = new ArrayList<>();
    int read = 0;
    Iterator<Object> documents = loader.loadAll(yaml).iterator();
    while (true) {
      Object document;
      try {
        if (!documents.hasNext()) {
          break;
        }
        document = documents.next();
      } catch (MarkedYAMLException e) {
        return new Parsed.Malformed(read + 1, yamlError(e));
      } catch (YAMLException e) {
        return new Parsed.Malformed(read + 1, e.getMessage());
      }
      int index = ++read;
      if (document == null) {
        continue;
      }
      if (!(document instanceof Map<?, ?> map)) {
        return new Parsed.Malformed(index, "not a Kubernetes object (a YAML mapping)");
      }
      String error = addObject(map, index, objects);
      if (!error.isEmpty()) {
        return new Parsed.Malformed(index, error);
      }
    }
    return new Parsed.Objects(List.copyOf(objects));
  }

  /** Adds the object (or the items of a {@code v1 List}); answers an error or "". */
  private static String addObject(Map<?, ?> map, int index, List<Document> objects) {
    if ("v1".equals(map.get("apiVersion")) && "List".equals(map.get("kind"))) {
      if (!(map.get("items") instanceof List<?> items)) {
        return "a v1 List needs items";
      }
      for (Object item : items) {
        if (!(item instanceof Map<?, ?> itemMap)) {
          return "an item of the List is not a Kubernetes object";
        }
        String error = addObject(itemMap, index, objects);
        if (!error.isEmpty()) {
          return error;
        }
      }
      return "";
    }
    for (String field : List.of("apiVersion", "kind")) {
      if (!(map.get(field) instanceof String s) || s.isBlank()) {
        return field + " is missing";
      }
    }
    ObjectNode object = (ObjectNode) JsonCodec.toTree(map);
    String kind = object.path("kind").asText();
    JsonNode metadata = object.path("metadata");
    if (!metadata.isObject()) {
      return kind + " has no metadata";
    }
    for (String field : List.of("labels", "annotations")) {
      JsonNode m = metadata.path(field);
      if (!m.isMissingNode() && !m.isNull() && !m.isObject()) {
        return "metadata." + field + " of " + kind + " is not a mapping";
      }
    }
    if (!metadata.path("name").isTextual() || metadata.path("name").asText().isBlank()) {
      return kind + " has no metadata.name (generateName cannot be applied declaratively)";
    }
    JsonNode namespace = metadata.path("namespace");
    if (!namespace.isMissingNode() && !namespace.isNull() && !namespace.isTextual()) {
      return "metadata.namespace of " + kind + " is not a string";
    }
    objects.add(new Document(index, object));
    return "";
  }

  /** A digest of everything that decides what {@code apply} sends, for the in-sync check. */
  static String digest(String app, String revision, String yaml) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      // The format number changes whenever stamping changes, so a new agent re-applies once.
      for (String part : List.of("edgefleet-apply-1", app, revision, yaml)) {
        byte[] bytes = part.getBytes(StandardCharsets.UTF_8);
        sha.update(Integer.toString(bytes.length).getBytes(StandardCharsets.US_ASCII));
        sha.update((byte) ':');
        sha.update(bytes);
      }
      return "sha256:" + HexFormat.of().formatHex(sha.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  private static String yamlError(MarkedYAMLException e) {
    StringBuilder s = new StringBuilder();
    if (e.getContext() != null) {
      s.append(e.getContext()).append(' ');
    }
    s.append(e.getProblem() == null ? "invalid YAML" : e.getProblem());
    if (e.getProblemMark() != null) {
      s.append(" (line ")
          .append(e.getProblemMark().getLine() + 1)
          .append(", column ")
          .append(e.getProblemMark().getColumn() + 1)
          .append(')');
    }
    return s.toString();
  }

  /** YAML 1.1 as Kubernetes reads it: timestamps are plain strings. */
  private static final class KubectlConstructor extends SafeConstructor {
    KubectlConstructor(LoaderOptions options) {
      super(options);
      this.yamlConstructors.put(Tag.TIMESTAMP, new ConstructYamlStr());
    }
  }
}
