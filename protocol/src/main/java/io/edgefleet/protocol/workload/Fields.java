package io.edgefleet.protocol.workload;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Typed, path-aware reads of one YAML mapping of a workload document. Every read names the field's
 * path in its error; {@link #done()} refuses fields nobody read (a misspelt {@code restartPolicy}
 * must not be ignored silently).
 */
final class Fields {
  static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");
  static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  private static final Pattern QUANTITY = Pattern.compile("(\\d{1,12})(Ki|Mi|Gi|Ti|k|M|G|T)?");
  private static final Pattern DURATION = Pattern.compile("(\\d{1,9})(ms|s|m|h)");

  private final String path;
  private final Map<String, Object> map;
  private final Set<String> read = new java.util.HashSet<>();

  private Fields(String path, Map<String, Object> map) {
    this.path = path;
    this.map = map;
  }

  /** The mapping at {@code path}; {@code value} must be a YAML mapping with string keys. */
  @SuppressWarnings("unchecked")
  static Fields of(String path, Object value) {
    if (!(value instanceof Map<?, ?> m)) {
      throw new WorkloadSpecException(path, "must be a mapping, got " + kindOf(value));
    }
    for (Object key : m.keySet()) {
      if (!(key instanceof String)) {
        throw new WorkloadSpecException(path, "keys must be strings, got " + key);
      }
    }
    return new Fields(path, (Map<String, Object>) m);
  }

  String path(String field) {
    return path.isEmpty() ? field : path + "." + field;
  }

  boolean has(String field) {
    return map.get(field) != null;
  }

  Object raw(String field) {
    read.add(field);
    return map.get(field);
  }

  String string(String field) {
    return optionalString(field)
        .orElseThrow(() -> new WorkloadSpecException(path(field), "is required"));
  }

  Optional<String> optionalString(String field) {
    Object v = raw(field);
    if (v == null) {
      return Optional.empty();
    }
    if (v instanceof String s) {
      if (s.length() > 65536) {
        throw new WorkloadSpecException(path(field), "is longer than 65536 characters");
      }
      return Optional.of(s);
    }
    if (v instanceof Number || v instanceof Boolean) {
      return Optional.of(String.valueOf(v));
    }
    throw new WorkloadSpecException(path(field), "must be a string, got " + kindOf(v));
  }

  String digest(String field) {
    String s = string(field);
    if (!DIGEST.matcher(s).matches()) {
      throw new WorkloadSpecException(
          path(field), "must be a blob digest sha256:<64 lowercase hex>, got '" + s + "'");
    }
    return s;
  }

  Optional<String> optionalDigest(String field) {
    if (!has(field)) {
      raw(field);
      return Optional.empty();
    }
    return Optional.of(digest(field));
  }

  String oneOf(String field, String fallback, String... allowed) {
    String s = optionalString(field).orElse(fallback);
    for (String a : allowed) {
      if (a.equals(s)) {
        return s;
      }
    }
    throw new WorkloadSpecException(
        path(field), "must be one of " + String.join(", ", allowed) + ", got '" + s + "'");
  }

  int integer(String field, int fallback, int min, int max) {
    Object v = raw(field);
    if (v == null) {
      return fallback;
    }
    if (!(v instanceof Integer || v instanceof Long)) {
      throw new WorkloadSpecException(path(field), "must be a whole number, got " + kindOf(v));
    }
    long n = ((Number) v).longValue();
    if (n < min || n > max) {
      throw new WorkloadSpecException(
          path(field), "must be between " + min + " and " + max + ", got " + n);
    }
    return (int) n;
  }

  boolean bool(String field, boolean fallback) {
    Object v = raw(field);
    if (v == null) {
      return fallback;
    }
    if (!(v instanceof Boolean b)) {
      throw new WorkloadSpecException(path(field), "must be true or false, got " + kindOf(v));
    }
    return b;
  }

  /** A byte quantity: {@code 512Mi}, {@code 2Gi}, {@code 1000000}; 0 when absent. */
  long bytes(String field, long min, long max) {
    Optional<String> s = optionalString(field);
    if (s.isEmpty()) {
      return 0;
    }
    Matcher m = QUANTITY.matcher(s.get().trim());
    if (!m.matches()) {
      throw new WorkloadSpecException(
          path(field), "must be a size such as 512Mi or 2Gi, got '" + s.get() + "'");
    }
    long unit =
        switch (m.group(2) == null ? "" : m.group(2)) {
          case "Ki" -> 1L << 10;
          case "Mi" -> 1L << 20;
          case "Gi" -> 1L << 30;
          case "Ti" -> 1L << 40;
          case "k" -> 1_000L;
          case "M" -> 1_000_000L;
          case "G" -> 1_000_000_000L;
          case "T" -> 1_000_000_000_000L;
          default -> 1L;
        };
    long n = Long.parseLong(m.group(1));
    if (n > max / unit || n * unit < min) {
      throw new WorkloadSpecException(
          path(field), "must be between " + min + " and " + max + " bytes, got '" + s.get() + "'");
    }
    return n * unit;
  }

  Duration duration(String field, Duration fallback, Duration max) {
    Optional<String> s = optionalString(field);
    if (s.isEmpty()) {
      return fallback;
    }
    Matcher m = DURATION.matcher(s.get().trim());
    if (!m.matches()) {
      throw new WorkloadSpecException(
          path(field), "must be a duration such as 10s or 2m, got '" + s.get() + "'");
    }
    long n = Long.parseLong(m.group(1));
    Duration d =
        switch (m.group(2)) {
          case "ms" -> Duration.ofMillis(n);
          case "s" -> Duration.ofSeconds(n);
          case "m" -> Duration.ofMinutes(n);
          default -> Duration.ofHours(n);
        };
    if (d.isZero() || d.compareTo(max) > 0) {
      throw new WorkloadSpecException(
          path(field), "must be above 0 and at most " + max.toSeconds() + "s");
    }
    return d;
  }

  List<String> strings(String field, int maxItems) {
    List<String> out = new ArrayList<>();
    List<Object> items = list(field, maxItems);
    for (int i = 0; i < items.size(); i++) {
      Object v = items.get(i);
      if (!(v instanceof String || v instanceof Number || v instanceof Boolean)) {
        throw new WorkloadSpecException(
            path(field) + "[" + i + "]", "must be a string, got " + kindOf(v));
      }
      out.add(String.valueOf(v));
    }
    return List.copyOf(out);
  }

  List<Object> list(String field, int maxItems) {
    Object v = raw(field);
    if (v == null) {
      return List.of();
    }
    if (!(v instanceof List<?> l)) {
      throw new WorkloadSpecException(path(field), "must be a list, got " + kindOf(v));
    }
    if (l.size() > maxItems) {
      throw new WorkloadSpecException(path(field), "has more than " + maxItems + " items");
    }
    return new ArrayList<>(l);
  }

  /** A mapping of strings to strings (environment, labels), sorted by key. */
  Map<String, String> stringMap(String field, int maxItems) {
    Object v = raw(field);
    if (v == null) {
      return Map.of();
    }
    Fields m = of(path(field), v);
    if (m.map.size() > maxItems) {
      throw new WorkloadSpecException(path(field), "has more than " + maxItems + " entries");
    }
    Map<String, String> out = new TreeMap<>();
    for (String key : m.map.keySet()) {
      out.put(key, m.optionalString(key).orElse(""));
    }
    return java.util.Collections.unmodifiableMap(out);
  }

  Optional<Fields> optionalMap(String field) {
    Object v = raw(field);
    return v == null ? Optional.empty() : Optional.of(of(path(field), v));
  }

  /** Refuses the fields of this mapping that no read asked for. */
  void done() {
    Map<String, Object> unknown = new LinkedHashMap<>(map);
    unknown.keySet().removeAll(read);
    if (!unknown.isEmpty()) {
      String first = unknown.keySet().iterator().next();
      throw new WorkloadSpecException(
          path(first),
          "is not a field here (known: " + String.join(", ", new java.util.TreeSet<>(read)) + ")");
    }
  }

  static String kindOf(Object v) {
    if (v == null) {
      return "nothing";
    }
    if (v instanceof Map<?, ?>) {
      return "a mapping";
    }
    if (v instanceof List<?>) {
      return "a list";
    }
    if (v instanceof String) {
      return "a string";
    }
    if (v instanceof Boolean) {
      return "a boolean";
    }
    if (v instanceof Number) {
      return "a number";
    }
    return v.getClass().getSimpleName();
  }
}
