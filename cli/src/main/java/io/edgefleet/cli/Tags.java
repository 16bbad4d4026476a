package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Labels;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Device tags as {@code key=value}. The rules are those of {@link Labels} (Kubernetes label rules),
 * the same code the controller validates with, so that the CLI never accepts what the controller
 * refuses.
 */
final class Tags {
  /** One validated tag. */
  record Tag(String key, String value) {}

  private Tags() {}

  /** Parses {@code key=value}; the value may be empty ({@code key=}). */
  static Tag parse(String text) {
    int eq = text.indexOf('=');
    if (eq < 0) {
      throw new IllegalArgumentException(
          "'" + text + "' is not KEY=VALUE (for example site=store-17)");
    }
    Tag tag = new Tag(text.substring(0, eq), text.substring(eq + 1));
    Labels.validate(tag.key(), tag.value());
    return tag;
  }

  /** Validates a tag key and returns it unchanged. */
  static String key(String key) {
    Labels.validateKey(key);
    return key;
  }

  /** The tags as a map in the order given; a key given twice is an error, not "last wins". */
  static Map<String, String> toMap(List<Tag> tags) {
    Map<String, String> map = new LinkedHashMap<>();
    for (Tag tag : tags) {
      String previous = map.putIfAbsent(tag.key(), tag.value());
      if (previous != null) {
        throw new IllegalArgumentException(
            "tag key '"
                + tag.key()
                + "' is given twice ("
                + tag.key()
                + "="
                + previous
                + " and "
                + tag.key()
                + "="
                + tag.value()
                + ")");
      }
    }
    return map;
  }

  /** Renders a JSON tag object as {@code k=v,k=v} sorted by key; empty for no tags. */
  static String format(JsonNode tags) {
    List<String> pairs = new ArrayList<>();
    tags.properties().forEach(e -> pairs.add(e.getKey() + "=" + e.getValue().asText()));
    pairs.sort(null);
    return String.join(",", pairs);
  }
}
