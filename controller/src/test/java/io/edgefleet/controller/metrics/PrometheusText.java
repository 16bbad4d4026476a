package io.edgefleet.controller.metrics;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * A strict parser of the Prometheus text exposition format 0.0.4, with the rules of the Prometheus
 * server's own parser ({@code expfmt.TextParser}) and the checks a scrape applies: metric and label
 * name syntax, label value escapes ({@code \\}, {@code \"}, {@code \n} only), values including
 * {@code +Inf}/{@code -Inf}/{@code NaN}, at most one HELP and one TYPE per family and TYPE before
 * its samples, samples of a family together, no duplicate series, non-negative counters, and
 * histograms with cumulative {@code le} buckets ending in {@code +Inf} that equal {@code _count}.
 * Any violation throws {@link IllegalArgumentException} naming the line.
 */
final class PrometheusText {
  private static final Pattern METRIC = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
  private static final Pattern LABEL = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");
  private static final Set<String> TYPES =
      Set.of("counter", "gauge", "histogram", "summary", "untyped");

  record Sample(String name, Map<String, String> labels, double value) {}

  record Family(String name, String type, String help, List<Sample> samples) {
    /** The value of the one sample with exactly these labels (name as given or the family's). */
    Optional<Double> value(String sampleName, Map<String, String> labels) {
      return samples.stream()
          .filter(s -> s.name().equals(sampleName) && s.labels().equals(labels))
          .map(Sample::value)
          .findFirst();
    }
  }

  private PrometheusText() {}

  static Map<String, Family> parse(String text) {
    if (!text.isEmpty() && !text.endsWith("\n")) {
      throw new IllegalArgumentException("the exposition must end with a line feed");
    }
    Map<String, String> types = new LinkedHashMap<>();
    Map<String, String> helps = new LinkedHashMap<>();
    Map<String, List<Sample>> samples = new LinkedHashMap<>();
    Set<String> series = new HashSet<>();
    Set<String> closed = new HashSet<>();
    String current = null;
    int n = 0;
    for (String line : text.split("\n", -1)) {
      n++;
      if (line.isEmpty()) {
        continue;
      }
      String where = "line " + n + " '" + line + "': ";
      if (line.startsWith("#")) {
        String[] parts = line.split(" ", 4);
        if (parts.length >= 3 && (parts[1].equals("HELP") || parts[1].equals("TYPE"))) {
          String name = parts[2];
          if (!METRIC.matcher(name).matches()) {
            throw new IllegalArgumentException(where + "invalid metric name " + name);
          }
          if (closed.contains(name)) {
            throw new IllegalArgumentException(where + "family " + name + " appears twice");
          }
          if (!name.equals(current) && current != null) {
            closed.add(current);
          }
          current = name;
          if (parts[1].equals("HELP")) {
            if (helps.put(name, unescapeHelp(parts.length > 3 ? parts[3] : "", where)) != null) {
              throw new IllegalArgumentException(where + "second HELP line for " + name);
            }
          } else {
            String type = parts.length > 3 ? parts[3] : "";
            if (!TYPES.contains(type)) {
              throw new IllegalArgumentException(where + "unknown type '" + type + "'");
            }
            if (samples.containsKey(name)) {
              throw new IllegalArgumentException(where + "TYPE after samples of " + name);
            }
            if (types.put(name, type) != null) {
              throw new IllegalArgumentException(where + "second TYPE line for " + name);
            }
          }
        }
        continue;
      }
      Sample s = sample(line, where);
      String family = familyOf(s.name(), types);
      if (closed.contains(family)) {
        throw new IllegalArgumentException(where + "samples of " + family + " are not together");
      }
      if (!family.equals(current) && current != null) {
        closed.add(current);
      }
      current = family;
      if (!series.add(s.name() + new TreeMap<>(s.labels()))) {
        throw new IllegalArgumentException(where + "duplicate series");
      }
      String type = types.getOrDefault(family, "untyped");
      if (type.equals("counter") && !(s.value() >= 0)) {
        throw new IllegalArgumentException(where + "a counter must not be negative");
      }
      samples.computeIfAbsent(family, k -> new ArrayList<>()).add(s);
    }
    Map<String, Family> out = new LinkedHashMap<>();
    Set<String> names = new java.util.LinkedHashSet<>(types.keySet());
    names.addAll(samples.keySet());
    for (String name : names) {
      Family f =
          new Family(
              name,
              types.getOrDefault(name, "untyped"),
              helps.get(name),
              samples.getOrDefault(name, List.of()));
      if (f.type().equals("histogram")) {
        checkHistogram(f);
      }
      out.put(name, f);
    }
    return out;
  }

  private static String familyOf(String sample, Map<String, String> types) {
    if (types.containsKey(sample)) {
      return sample;
    }
    for (String suffix : List.of("_bucket", "_count", "_sum")) {
      if (sample.endsWith(suffix)) {
        String base = sample.substring(0, sample.length() - suffix.length());
        String t = types.get(base);
        if ("histogram".equals(t) || ("summary".equals(t) && !suffix.equals("_bucket"))) {
          return base;
        }
      }
    }
    return sample;
  }

  private static void checkHistogram(Family f) {
    Map<Map<String, String>, List<Sample>> buckets = new LinkedHashMap<>();
    Map<Map<String, String>, Double> counts = new LinkedHashMap<>();
    for (Sample s : f.samples()) {
      if (s.name().equals(f.name() + "_bucket")) {
        if (!s.labels().containsKey("le")) {
          throw new IllegalArgumentException(f.name() + ": a bucket without le");
        }
        Map<String, String> key = new TreeMap<>(s.labels());
        key.remove("le");
        buckets.computeIfAbsent(key, k -> new ArrayList<>()).add(s);
      } else if (s.name().equals(f.name() + "_count")) {
        counts.put(new TreeMap<>(s.labels()), s.value());
      } else if (!s.name().equals(f.name() + "_sum")) {
        throw new IllegalArgumentException(f.name() + ": unexpected sample " + s.name());
      }
    }
    buckets.forEach(
        (key, list) -> {
          double previousLe = Double.NEGATIVE_INFINITY;
          double previous = 0;
          for (Sample b : list) {
            double le = number(b.labels().get("le"), f.name());
            if (!(le > previousLe) || b.value() < previous) {
              throw new IllegalArgumentException(f.name() + key + ": buckets are not cumulative");
            }
            previousLe = le;
            previous = b.value();
          }
          if (previousLe != Double.POSITIVE_INFINITY) {
            throw new IllegalArgumentException(f.name() + key + ": no +Inf bucket");
          }
          Double count = counts.get(key);
          if (count == null || count != previous) {
            throw new IllegalArgumentException(f.name() + key + ": _count differs from +Inf");
          }
        });
  }

  private static Sample sample(String line, String where) {
    int i = 0;
    while (i < line.length() && line.charAt(i) != '{' && line.charAt(i) != ' ') {
      i++;
    }
    String name = line.substring(0, i);
    if (!METRIC.matcher(name).matches()) {
      throw new IllegalArgumentException(where + "invalid metric name '" + name + "'");
    }
    Map<String, String> labels = new LinkedHashMap<>();
    if (i < line.length() && line.charAt(i) == '{') {
      i++;
      while (true) {
        if (i < line.length() && line.charAt(i) == '}') {
          i++;
          break;
        }
        int eq = line.indexOf('=', i);
        if (eq < 0) {
          throw new IllegalArgumentException(where + "label without '='");
        }
        String label = line.substring(i, eq);
        if (!LABEL.matcher(label).matches() || label.startsWith("__")) {
          throw new IllegalArgumentException(where + "invalid label name '" + label + "'");
        }
        i = eq + 1;
        if (i >= line.length() || line.charAt(i) != '"') {
          throw new IllegalArgumentException(where + "label value must be quoted");
        }
        i++;
        StringBuilder value = new StringBuilder();
        while (true) {
          if (i >= line.length()) {
            throw new IllegalArgumentException(where + "unterminated label value");
          }
          char c = line.charAt(i++);
          if (c == '"') {
            break;
          }
          if (c == '\\') {
            if (i >= line.length()) {
              throw new IllegalArgumentException(where + "dangling escape");
            }
            char e = line.charAt(i++);
            switch (e) {
              case '\\' -> value.append('\\');
              case '"' -> value.append('"');
              case 'n' -> value.append('\n');
              default -> throw new IllegalArgumentException(where + "invalid escape \\" + e);
            }
          } else {
            value.append(c);
          }
        }
        if (labels.put(label, value.toString()) != null) {
          throw new IllegalArgumentException(where + "label " + label + " twice");
        }
        if (i < line.length() && line.charAt(i) == ',') {
          i++;
        } else if (i >= line.length() || line.charAt(i) != '}') {
          throw new IllegalArgumentException(where + "expected ',' or '}' after a label");
        }
      }
    }
    if (i >= line.length() || line.charAt(i) != ' ') {
      throw new IllegalArgumentException(where + "no value");
    }
    String[] rest = line.substring(i + 1).split(" ");
    if (rest.length < 1 || rest.length > 2 || rest[0].isEmpty()) {
      throw new IllegalArgumentException(where + "expected a value and an optional timestamp");
    }
    double value = number(rest[0], where);
    if (rest.length == 2) {
      try {
        Long.parseLong(rest[1]);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(where + "invalid timestamp " + rest[1]);
      }
    }
    return new Sample(name, labels, value);
  }

  private static double number(String s, String where) {
    return switch (s) {
      case "+Inf", "Inf" -> Double.POSITIVE_INFINITY;
      case "-Inf" -> Double.NEGATIVE_INFINITY;
      case "NaN" -> Double.NaN;
      default -> {
        if (!s.matches("[-+]?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?")) {
          throw new IllegalArgumentException(where + "invalid value '" + s + "'");
        }
        yield Double.parseDouble(s);
      }
    };
  }

  private static String unescapeHelp(String s, String where) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\') {
        if (i + 1 >= s.length()) {
          throw new IllegalArgumentException(where + "dangling escape in HELP");
        }
        char e = s.charAt(++i);
        switch (e) {
          case '\\' -> out.append('\\');
          case 'n' -> out.append('\n');
          default -> throw new IllegalArgumentException(where + "invalid escape in HELP \\" + e);
        }
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }
}
