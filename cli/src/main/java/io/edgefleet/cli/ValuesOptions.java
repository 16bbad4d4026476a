package io.edgefleet.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Helm values given on the command line, the way {@code helm} takes them: {@code --values FILE}
 * (YAML mappings, deep-merged in the order given), then every {@code --set}, then every {@code
 * --set-string}. Mix it into a command with {@code @Mixin ValuesOptions values;} and call {@link
 * #values()}.
 *
 * <p>{@code --set a.b=1,c=true} sets nested keys (dotted paths; {@code \.} for a dot inside a key,
 * {@code \,} for a comma inside a value); values are typed like {@code helm --set}: {@code true}
 * and {@code false} are booleans, {@code null} is null, whole numbers without a leading zero are
 * integers, {@code {a,b}} is a list, anything else is a string. {@code --set-string} keeps every
 * value a string. Later settings replace earlier ones; maps merge key by key.
 */
final class ValuesOptions {
  /** Larger than any sensible values file, and the controller's limit for one request. */
  static final long MAX_FILE_BYTES = 512 * 1024;

  private static final Pattern INTEGER = Pattern.compile("-?(0|[1-9][0-9]{0,17})");
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  @Spec(Spec.Target.MIXEE)
  CommandSpec mixee;

  @Option(
      names = {"-f", "--values"},
      paramLabel = "FILE",
      description = "Helm values from a YAML file; may be repeated, later files win.")
  List<Path> files = new ArrayList<>();

  @Option(
      names = "--set",
      paramLabel = "KEY=VALUE",
      description =
          "Set a Helm value, e.g. --set image.tag=1.27,replicaCount=2 (true/false, null and"
              + " whole numbers are typed; {a,b} is a list); may be repeated; wins over --values.")
  List<String> set = new ArrayList<>();

  @Option(
      names = "--set-string",
      paramLabel = "KEY=VALUE",
      description = "Like --set, but every value stays a string (e.g. --set-string tag=0123).")
  List<String> setString = new ArrayList<>();

  /**
   * The merged values; empty when no option was given.
   *
   * @throws ParameterException naming the bad file or expression (exit code 2)
   */
  Map<String, Object> values() {
    try {
      return merge(files, set, setString);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(mixee.commandLine(), e.getMessage());
    }
  }

  /** Whether any values option was given. */
  boolean given() {
    return !files.isEmpty() || !set.isEmpty() || !setString.isEmpty();
  }

  /**
   * Values files, then {@code --set}, then {@code --set-string} expressions, merged.
   *
   * @throws IllegalArgumentException naming the file or expression that is wrong
   */
  static Map<String, Object> merge(List<Path> files, List<String> set, List<String> setString) {
    Map<String, Object> values = new LinkedHashMap<>();
    for (Path file : files) {
      values = deepMerge(values, read(file));
    }
    for (String expression : set) {
      parse(values, expression, true);
    }
    for (String expression : setString) {
      parse(values, expression, false);
    }
    return values;
  }

  /** A values file: a YAML mapping (an empty file is no values). */
  @SuppressWarnings("unchecked")
  static Map<String, Object> read(Path file) {
    Object tree;
    try {
      if (!Files.isRegularFile(file)) {
        throw new IllegalArgumentException("values file " + file + " does not exist");
      }
      if (Files.size(file) > MAX_FILE_BYTES) {
        throw new IllegalArgumentException(
            "values file " + file + " is larger than " + (MAX_FILE_BYTES / 1024) + " KiB");
      }
      String text = Files.readString(file);
      tree = text.isBlank() ? null : YAML.readValue(text, Object.class);
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "values file " + file + " is not valid YAML: " + firstLine(e.getMessage()));
    }
    if (tree == null) {
      return Map.of();
    }
    if (!(tree instanceof Map<?, ?> map)) {
      throw new IllegalArgumentException(
          "values file " + file + " must be a YAML mapping such as 'replicaCount: 2'");
    }
    return (Map<String, Object>) map;
  }

  /**
   * Applies one {@code --set} expression ({@code a.b=1,c=x}) to {@code values}.
   *
   * @param typed whether values are typed as {@code --set} does, or all strings
   * @throws IllegalArgumentException if the expression is not KEY=VALUE[,KEY=VALUE…]
   */
  static void parse(Map<String, Object> values, String expression, boolean typed) {
    String option = typed ? "--set" : "--set-string";
    for (String assignment : split(expression, ',', true)) {
      int eq = indexOfUnescaped(assignment, '=');
      if (eq < 0) {
        throw new IllegalArgumentException(
            option
                + " '"
                + expression
                + "': '"
                + assignment
                + "' is not KEY=VALUE (for example image.tag=1.27)");
      }
      List<String> path = new ArrayList<>();
      for (String segment : split(assignment.substring(0, eq), '.', false)) {
        String key = unescape(segment);
        if (key.isEmpty()) {
          throw new IllegalArgumentException(
              option
                  + " '"
                  + expression
                  + "': the key '"
                  + assignment.substring(0, eq)
                  + "' has an empty part");
        }
        if (segment.contains("[")) {
          throw new IllegalArgumentException(
              option
                  + " '"
                  + expression
                  + "': list indexes such as "
                  + segment
                  + " are not supported; set the whole list ({a,b}) or use --values FILE");
        }
        path.add(key);
      }
      String raw = assignment.substring(eq + 1);
      Object value = typed ? typed(raw) : unescape(raw);
      put(values, path, value);
    }
  }

  /** A value as {@code helm --set} types it. */
  static Object typed(String raw) {
    if (raw.startsWith("{") && raw.endsWith("}")) {
      List<Object> list = new ArrayList<>();
      String inner = raw.substring(1, raw.length() - 1);
      if (!inner.isEmpty()) {
        for (String item : split(inner, ',', false)) {
          list.add(typed(item));
        }
      }
      return list;
    }
    String s = unescape(raw);
    if (s.equalsIgnoreCase("true")) {
      return Boolean.TRUE;
    }
    if (s.equalsIgnoreCase("false")) {
      return Boolean.FALSE;
    }
    if (s.equalsIgnoreCase("null")) {
      return null;
    }
    if (INTEGER.matcher(s).matches()) {
      return Long.parseLong(s);
    }
    return s;
  }

  @SuppressWarnings("unchecked")
  private static void put(Map<String, Object> values, List<String> path, Object value) {
    Map<String, Object> node = values;
    for (int i = 0; i < path.size() - 1; i++) {
      Object child = node.get(path.get(i));
      if (!(child instanceof Map<?, ?>)) {
        child = new LinkedHashMap<String, Object>();
        node.put(path.get(i), child);
      } else if (!(child instanceof LinkedHashMap<?, ?>)) {
        child = new LinkedHashMap<>((Map<String, Object>) child);
        node.put(path.get(i), child);
      }
      node = (Map<String, Object>) child;
    }
    node.put(path.getLast(), value);
  }

  /** {@code overlay} onto {@code base}: maps merge key by key; anything else replaces. */
  @SuppressWarnings("unchecked")
  static Map<String, Object> deepMerge(Map<String, Object> base, Map<String, Object> overlay) {
    Map<String, Object> out = new LinkedHashMap<>(base);
    overlay.forEach(
        (k, v) -> {
          Object b = out.get(k);
          if (b instanceof Map<?, ?> bm && v instanceof Map<?, ?> vm) {
            out.put(k, deepMerge((Map<String, Object>) bm, (Map<String, Object>) vm));
          } else {
            out.put(k, v);
          }
        });
    return out;
  }

  /**
   * Splits at unescaped separators; with {@code braces}, separators inside {@code {…}} do not split
   * (so {@code a={x,y},b=1} is two assignments). Escapes are kept for the next step.
   */
  private static List<String> split(String s, char separator, boolean braces) {
    List<String> parts = new ArrayList<>();
    StringBuilder current = new StringBuilder();
    int depth = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\' && i + 1 < s.length()) {
        current.append(c).append(s.charAt(++i));
        continue;
      }
      if (braces && c == '{') {
        depth++;
      } else if (braces && c == '}' && depth > 0) {
        depth--;
      }
      if (c == separator && depth == 0) {
        parts.add(current.toString());
        current.setLength(0);
      } else {
        current.append(c);
      }
    }
    parts.add(current.toString());
    return parts;
  }

  private static int indexOfUnescaped(String s, char c) {
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) == '\\') {
        i++;
      } else if (s.charAt(i) == c) {
        return i;
      }
    }
    return -1;
  }

  private static String unescape(String s) {
    if (s.indexOf('\\') < 0) {
      return s;
    }
    StringBuilder out = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\' && i + 1 < s.length()) {
        out.append(s.charAt(++i));
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "unreadable";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
