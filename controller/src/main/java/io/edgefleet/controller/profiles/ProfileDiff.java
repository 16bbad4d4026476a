package io.edgefleet.controller.profiles;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/** What changes between two profile versions: per layer, and as a unified diff of manifests. */
public final class ProfileDiff {
  /** At most this many lines of a unified diff are returned. */
  public static final int MAX_DIFF_LINES = 2000;

  /** Inputs larger than this many lines are not compared line by line. */
  static final int MAX_INPUT_LINES = 4000;

  private static final int CONTEXT = 3;

  /**
   * How one layer changes.
   *
   * @param change {@code added}, {@code removed}, {@code changed} or {@code unchanged}
   * @param details what changed, one sentence each (version, value keys, Kubernetes version and
   *     configuration keys, position)
   */
  public record LayerChange(
      String name, String kind, String change, String from, String to, List<String> details) {}

  /** A unified diff, bounded; {@code truncated} says lines were left off. */
  public record Unified(List<String> lines, boolean truncated) {}

  private ProfileDiff() {}

  /** Per layer, in the order of {@code to} then the removed ones. */
  public static List<LayerChange> layers(List<Layer> from, List<Layer> to) {
    Map<String, Integer> fromIndex = new LinkedHashMap<>();
    Map<String, Layer> fromByName = new LinkedHashMap<>();
    for (int i = 0; i < from.size(); i++) {
      fromIndex.put(from.get(i).name(), i);
      fromByName.put(from.get(i).name(), from.get(i));
    }
    Map<String, Layer> toByName = new LinkedHashMap<>();
    to.forEach(l -> toByName.put(l.name(), l));
    List<LayerChange> out = new ArrayList<>();
    List<String> commonFrom = from.stream().map(Layer::name).filter(toByName::containsKey).toList();
    List<String> commonTo = to.stream().map(Layer::name).filter(fromByName::containsKey).toList();
    for (Layer t : to) {
      Layer f = fromByName.get(t.name());
      if (f == null) {
        out.add(new LayerChange(t.name(), t.kind(), "added", null, summary(t), List.of()));
        continue;
      }
      List<String> details = details(f, t);
      if (commonFrom.indexOf(t.name()) != commonTo.indexOf(t.name())) {
        details.add(
            "moved from position " + (fromIndex.get(t.name()) + 1) + " to " + (to.indexOf(t) + 1));
      }
      out.add(
          new LayerChange(
              t.name(),
              t.kind(),
              details.isEmpty() ? "unchanged" : "changed",
              summary(f),
              summary(t),
              List.copyOf(details)));
    }
    for (Layer f : from) {
      if (!toByName.containsKey(f.name())) {
        out.add(new LayerChange(f.name(), f.kind(), "removed", summary(f), null, List.of()));
      }
    }
    return out;
  }

  /** Whether the nodes of a cluster restart: its Kubernetes layer changes. */
  public static boolean kubernetesChanged(List<Layer> from, List<Layer> to) {
    Layer f = from.stream().filter(Layer::kubernetes).findFirst().orElse(null);
    Layer t = to.stream().filter(Layer::kubernetes).findFirst().orElse(null);
    if (f == null || t == null) {
      return f != t;
    }
    return !Objects.equals(f.kubernetesVersion(), t.kubernetesVersion())
        || !Objects.equals(f.config(), t.config());
  }

  static String summary(Layer l) {
    if (l.kubernetes()) {
      String v = l.kubernetesVersion() == null ? "cluster's version" : l.kubernetesVersion();
      int keys = l.config() == null ? 0 : l.config().size();
      return "kubernetes " + v + (keys == 0 ? "" : " +" + keys + " config keys");
    }
    return l.app() + "@" + l.version();
  }

  private static List<String> details(Layer f, Layer t) {
    List<String> out = new ArrayList<>();
    if (!Objects.equals(f.kind(), t.kind())) {
      out.add("kind " + f.kind() + " -> " + t.kind());
    }
    if (t.kubernetes() || f.kubernetes()) {
      if (!Objects.equals(f.kubernetesVersion(), t.kubernetesVersion())) {
        out.add("kubernetes version " + f.kubernetesVersion() + " -> " + t.kubernetesVersion());
      }
      Set<String> keys = changedKeys("", nz(f.config()), nz(t.config()));
      if (!keys.isEmpty()) {
        out.add("config keys changed: " + String.join(", ", keys));
      }
      return out;
    }
    if (!Objects.equals(f.app(), t.app())) {
      out.add("app " + f.app() + " -> " + t.app());
    }
    if (!Objects.equals(f.version(), t.version())) {
      out.add("version " + f.version() + " -> " + t.version());
    }
    Set<String> keys = changedKeys("", nz(f.values()), nz(t.values()));
    if (!keys.isEmpty()) {
      out.add("values changed: " + String.join(", ", keys));
    }
    return out;
  }

  private static Map<String, Object> nz(Map<String, Object> m) {
    return m == null ? Map.of() : m;
  }

  /** The dotted paths of keys whose values differ (nested maps compared key by key). */
  static Set<String> changedKeys(String prefix, Map<?, ?> a, Map<?, ?> b) {
    Set<String> out = new TreeSet<>();
    Set<Object> keys = new LinkedHashSet<>(a.keySet());
    keys.addAll(b.keySet());
    for (Object k : keys) {
      Object x = a.get(k);
      Object y = b.get(k);
      String path = prefix + k;
      if ((x instanceof Map<?, ?> || x == null)
          && (y instanceof Map<?, ?> || y == null)
          && (x != null || y != null)) {
        out.addAll(
            changedKeys(
                path + ".",
                x == null ? Map.of() : (Map<?, ?>) x,
                y == null ? Map.of() : (Map<?, ?>) y));
      } else if (!Objects.equals(x, y)) {
        out.add(path);
      }
    }
    return out;
  }

  /**
   * A unified diff of two texts with {@value #CONTEXT} lines of context, bounded to {@value
   * #MAX_DIFF_LINES} lines.
   */
  public static Unified unified(String fromName, String toName, String from, String to) {
    List<String> a = lines(from);
    List<String> b = lines(to);
    List<String> out = new ArrayList<>();
    if (a.equals(b)) {
      return new Unified(List.of(), false);
    }
    out.add("--- " + fromName);
    out.add("+++ " + toName);
    if (a.size() > MAX_INPUT_LINES || b.size() > MAX_INPUT_LINES) {
      out.add(
          "@@ manifests of "
              + a.size()
              + " and "
              + b.size()
              + " lines differ; too large to compare line by line (limit "
              + MAX_INPUT_LINES
              + ") @@");
      return new Unified(out, true);
    }
    // Longest common subsequence, then the edit script.
    int n = a.size();
    int m = b.size();
    int[][] lcs = new int[n + 1][m + 1];
    for (int i = n - 1; i >= 0; i--) {
      for (int j = m - 1; j >= 0; j--) {
        lcs[i][j] =
            a.get(i).equals(b.get(j))
                ? lcs[i + 1][j + 1] + 1
                : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    record Op(char kind, String line, int ai, int bi) {}
    List<Op> ops = new ArrayList<>();
    int i = 0;
    int j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a.get(i).equals(b.get(j))) {
        ops.add(new Op(' ', a.get(i), i++, j++));
      } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
        ops.add(new Op('-', a.get(i), i++, j));
      } else {
        ops.add(new Op('+', b.get(j), i, j++));
      }
    }
    boolean truncated = false;
    int k = 0;
    while (k < ops.size()) {
      if (ops.get(k).kind() == ' ') {
        k++;
        continue;
      }
      int start = Math.max(0, k - CONTEXT);
      int end = k;
      int lastChange = k;
      while (end < ops.size()) {
        if (ops.get(end).kind() != ' ') {
          lastChange = end;
        } else if (end - lastChange > 2 * CONTEXT) {
          break;
        }
        end++;
      }
      end = Math.min(ops.size(), lastChange + CONTEXT + 1);
      int aStart = ops.get(start).ai();
      int bStart = ops.get(start).bi();
      int aLen = 0;
      int bLen = 0;
      for (int x = start; x < end; x++) {
        char c = ops.get(x).kind();
        if (c != '+') {
          aLen++;
        }
        if (c != '-') {
          bLen++;
        }
      }
      out.add(
          "@@ -"
              + (aStart + (aLen == 0 ? 0 : 1))
              + ","
              + aLen
              + " +"
              + (bStart + (bLen == 0 ? 0 : 1))
              + ","
              + bLen
              + " @@");
      for (int x = start; x < end; x++) {
        out.add(ops.get(x).kind() + ops.get(x).line());
      }
      if (out.size() > MAX_DIFF_LINES) {
        truncated = true;
        break;
      }
      k = end;
    }
    if (out.size() > MAX_DIFF_LINES) {
      out = new ArrayList<>(out.subList(0, MAX_DIFF_LINES));
      truncated = true;
    }
    return new Unified(List.copyOf(out), truncated);
  }

  private static List<String> lines(String text) {
    if (text == null || text.isEmpty()) {
      return List.of();
    }
    String t = text.endsWith("\n") ? text.substring(0, text.length() - 1) : text;
    return List.of(t.split("\n", -1));
  }
}
