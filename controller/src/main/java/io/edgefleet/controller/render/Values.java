package io.edgefleet.controller.render;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Helm values as plain Java trees (maps, lists, scalars): deep merge, {@code ${tag:KEY}}
 * substitution and a canonical digest. Inputs are never modified. Stateless.
 */
final class Values {
  static final Pattern TAG = Pattern.compile("\\$\\{tag:([^}]*)}");
  private static final ObjectMapper CANONICAL =
      JsonMapper.builder().enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS).build();

  private Values() {}

  /**
   * {@code overlay} merged onto {@code base}: maps merge key by key, recursively; anything else in
   * the overlay (scalars, lists, null) replaces the base value.
   */
  @SuppressWarnings("unchecked")
  static Map<String, Object> merge(Map<String, Object> base, Map<String, Object> overlay) {
    Map<String, Object> out = new LinkedHashMap<>(base);
    overlay.forEach(
        (k, v) -> {
          Object b = out.get(k);
          if (b instanceof Map<?, ?> bm && v instanceof Map<?, ?> vm) {
            out.put(k, merge((Map<String, Object>) bm, (Map<String, Object>) vm));
          } else {
            out.put(k, v);
          }
        });
    return out;
  }

  /**
   * Replaces every {@code ${tag:KEY}} inside string values (at any depth, not in keys) by {@code
   * lookup(KEY)}.
   */
  static Object substitute(Object value, UnaryOperator<String> lookup) {
    if (value instanceof String s) {
      if (s.indexOf("${tag:") < 0) {
        return s;
      }
      Matcher m = TAG.matcher(s);
      StringBuilder sb = new StringBuilder();
      while (m.find()) {
        m.appendReplacement(sb, Matcher.quoteReplacement(lookup.apply(m.group(1))));
      }
      m.appendTail(sb);
      return sb.toString();
    }
    if (value instanceof Map<?, ?> map) {
      Map<Object, Object> out = new LinkedHashMap<>();
      map.forEach((k, v) -> out.put(k, substitute(v, lookup)));
      return out;
    }
    if (value instanceof List<?> list) {
      List<Object> out = new ArrayList<>(list.size());
      for (Object o : list) {
        out.add(substitute(o, lookup));
      }
      return out;
    }
    return value;
  }

  /** The tag keys referenced by {@code ${tag:KEY}} anywhere in string values, sorted. */
  static Set<String> tagKeys(Object value) {
    Set<String> keys = new TreeSet<>();
    collect(value, keys);
    return keys;
  }

  private static void collect(Object value, Set<String> keys) {
    if (value instanceof String s) {
      Matcher m = TAG.matcher(s);
      while (m.find()) {
        keys.add(m.group(1));
      }
    } else if (value instanceof Map<?, ?> map) {
      map.values().forEach(v -> collect(v, keys));
    } else if (value instanceof List<?> list) {
      list.forEach(v -> collect(v, keys));
    }
  }

  /** JSON with map keys sorted: equal trees give equal bytes. */
  static byte[] canonicalJson(Object value) {
    try {
      return CANONICAL.writeValueAsBytes(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("values cannot be written as JSON", e);
    }
  }

  /** {@code sha256:<hex>} of {@link #canonicalJson}. */
  static String digest(Object value) {
    return RenderedApp.sha256(canonicalJson(value));
  }

  static String utf8(byte[] bytes) {
    return new String(bytes, StandardCharsets.UTF_8);
  }
}
