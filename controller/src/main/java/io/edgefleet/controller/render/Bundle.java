package io.edgefleet.controller.render;

import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.Labels;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The content of one application directory at one commit, parsed: for manifests the objects of all
 * YAML files in sorted path order, for Helm charts the chart's values and the per-target overrides.
 * Immutable; thread-safe.
 *
 * @param name the application name (directory name)
 * @param treeId the git tree id of the directory: equal ids mean equal content
 * @param kind manifests or Helm
 * @param files every file of the directory by path relative to it, sorted
 * @param objects for manifests: the objects in order (not yet namespaced); for Helm: the objects of
 *     the chart's (and unpacked subcharts') {@code crds/} directories, in path order
 * @param values for Helm: the chart's {@code values.yaml}; empty for manifests
 * @param overrides for Helm: the entries of {@code edgefleet-overrides.yaml}, in order
 */
public record Bundle(
    String name,
    String treeId,
    AppKind kind,
    SortedMap<String, byte[]> files,
    List<Map<String, Object>> objects,
    Map<String, Object> values,
    List<Override> overrides) {

  static final String OVERRIDES_FILE = "edgefleet-overrides.yaml";

  /**
   * An application's own settings, next to its manifests or chart: {@code scope: device} (the
   * default: every device the source's target selects) or {@code scope: cluster} (once per K3s
   * cluster, on the member applying the cluster's apps).
   */
  public static final String APP_SPEC_FILE = "edgefleet-app.yaml";

  /** The scope of an application whose {@value #APP_SPEC_FILE} does not say. */
  public static final String DEVICE_SCOPE = "device";

  /** The scope of an application applied once per cluster. */
  public static final String CLUSTER_SCOPE = "cluster";

  static final Pattern CRD_PATH =
      Pattern.compile("(charts/[^/]+/)*crds/.+\\.(yaml|yml|json)", Pattern.CASE_INSENSITIVE);
  public static final Pattern APP_NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");

  /** One entry of {@code edgefleet-overrides.yaml}. */
  record Override(Selector selector, Map<String, Object> values) {}

  /** The total size of all files, for cache accounting. */
  long size() {
    long n = 0;
    for (byte[] b : files.values()) {
      n += b.length + 64;
    }
    return n;
  }

  /**
   * Parses an application directory.
   *
   * @throws RenderException if a file is not valid YAML, the overrides file is malformed, or values
   *     use an invalid {@code ${tag:KEY}}; the message names the file
   */
  public static Bundle parse(String name, String treeId, SortedMap<String, byte[]> files) {
    SortedMap<String, byte[]> copy = Collections.unmodifiableSortedMap(new TreeMap<>(files));
    scope(copy);
    {
      if (files.containsKey("Chart.yaml")) {
        Map<String, Object> values = Map.of();
        byte[] v = files.get("values.yaml");
        if (v != null) {
          values = map(Manifests.readYaml(Values.utf8(v), "values.yaml"), "values.yaml");
        }
        List<Override> overrides = List.of();
        byte[] o = files.get(OVERRIDES_FILE);
        if (o != null) {
          overrides = overrides(Manifests.readYaml(Values.utf8(o), OVERRIDES_FILE));
        }
        checkTagKeys(values, "values.yaml");
        for (int i = 0; i < overrides.size(); i++) {
          checkTagKeys(overrides.get(i).values(), OVERRIDES_FILE + " entry " + (i + 1));
        }
        // Helm installs crds/ as is (never templated) but `helm template` leaves them out.
        List<Map<String, Object>> crds = new ArrayList<>();
        for (Map.Entry<String, byte[]> f : copy.entrySet()) {
          if (CRD_PATH.matcher(f.getKey()).matches()) {
            crds.addAll(Manifests.parse(Values.utf8(f.getValue()), f.getKey()));
          }
        }
        return new Bundle(name, treeId, AppKind.HELM, copy, List.copyOf(crds), values, overrides);
      }
      List<Map<String, Object>> objects = new ArrayList<>();
      for (Map.Entry<String, byte[]> f : copy.entrySet()) {
        if (isManifest(f.getKey())) {
          objects.addAll(Manifests.parse(Values.utf8(f.getValue()), f.getKey()));
        }
      }
      return new Bundle(
          name, treeId, AppKind.MANIFESTS, copy, List.copyOf(objects), Map.of(), List.of());
    }
  }

  /**
   * The scope an application's {@value #APP_SPEC_FILE} gives it: {@value #DEVICE_SCOPE} without the
   * file or the key.
   *
   * @throws RenderException if the file is not a mapping of known keys or the scope is neither
   *     {@value #DEVICE_SCOPE} nor {@value #CLUSTER_SCOPE}; the message names the file
   */
  public static String scope(Map<String, byte[]> files) {
    byte[] spec = files.get(APP_SPEC_FILE);
    if (spec == null) {
      return DEVICE_SCOPE;
    }
    Map<String, Object> m =
        map(Manifests.readYaml(Values.utf8(spec), APP_SPEC_FILE), APP_SPEC_FILE);
    Set<String> extra = new java.util.TreeSet<>(m.keySet());
    extra.remove("scope");
    if (!extra.isEmpty()) {
      throw new RenderException(
          APP_SPEC_FILE + " has unknown fields " + extra + "; only 'scope' is allowed");
    }
    Object scope = m.get("scope");
    if (scope == null || DEVICE_SCOPE.equals(scope)) {
      return DEVICE_SCOPE;
    }
    if (CLUSTER_SCOPE.equals(scope)) {
      return CLUSTER_SCOPE;
    }
    throw new RenderException(
        APP_SPEC_FILE
            + ": 'scope' must be 'device' (every device the target selects) or 'cluster' (once"
            + " per K3s cluster); got '"
            + scope
            + "'");
  }

  /** YAML and JSON files, except the overrides file (which only Helm apps use). */
  public static boolean isManifest(String path) {
    if (path.equals(OVERRIDES_FILE) || path.equals(APP_SPEC_FILE)) {
      return false;
    }
    String p = path.toLowerCase(java.util.Locale.ROOT);
    return p.endsWith(".yaml") || p.endsWith(".yml") || p.endsWith(".json");
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> map(Object o, String origin) {
    if (o == null) {
      return Map.of();
    }
    if (!(o instanceof Map<?, ?> m)) {
      throw new RenderException(origin + " must be a YAML mapping");
    }
    return (Map<String, Object>) m;
  }

  private static List<Override> overrides(Object o) {
    if (o == null) {
      return List.of();
    }
    if (!(o instanceof List<?> list)) {
      throw new RenderException(
          OVERRIDES_FILE + " must be a list of entries '- selector: …  values: {…}'");
    }
    List<Override> out = new ArrayList<>();
    int i = 0;
    for (Object e : list) {
      i++;
      String at = OVERRIDES_FILE + " entry " + i;
      if (!(e instanceof Map<?, ?> m)) {
        throw new RenderException(at + " must be a mapping with 'selector' and 'values'");
      }
      Set<?> extra = new java.util.TreeSet<>(m.keySet().stream().map(String::valueOf).toList());
      extra.removeAll(Set.of("selector", "values"));
      if (!extra.isEmpty()) {
        throw new RenderException(
            at + " has unknown fields " + extra + "; only 'selector' and 'values' are allowed");
      }
      Object sel = m.get("selector");
      if (sel != null && !(sel instanceof String)) {
        throw new RenderException(at + ": selector must be a string such as 'site-size=large'");
      }
      Selector selector;
      try {
        selector = Selector.parse((String) sel);
      } catch (IllegalArgumentException ex) {
        throw new RenderException(at + ": " + ex.getMessage());
      }
      Map<String, Object> values = map(m.get("values"), at + " values");
      out.add(new Override(selector, values));
    }
    return List.copyOf(out);
  }

  private static void checkTagKeys(Object values, String origin) {
    for (String key : Values.tagKeys(values)) {
      try {
        Labels.validateKey(key);
      } catch (IllegalArgumentException e) {
        throw new RenderException(origin + " uses '${tag:" + key + "}' but " + e.getMessage());
      }
    }
  }

  /**
   * The chart's own {@code kubeVersion} constraint from {@code Chart.yaml} ({@code >=1.25.0-0}), or
   * null for manifests and charts without one.
   */
  String kubeVersionConstraint() {
    return chartField("kubeVersion");
  }

  /** The chart's name from {@code Chart.yaml}, else the application name. */
  String chartName() {
    String n = chartField("name");
    return n == null || n.isBlank() ? name : n;
  }

  private String chartField(String field) {
    byte[] chart = kind == AppKind.HELM ? files.get("Chart.yaml") : null;
    if (chart == null) {
      return null;
    }
    Object o;
    try {
      o = Manifests.readYaml(Values.utf8(chart), "Chart.yaml");
    } catch (RenderException e) {
      // Helm says what is wrong with it, in its own words, when it reads the chart.
      return null;
    }
    return o instanceof Map<?, ?> m && m.get(field) instanceof String v && !v.isBlank()
        ? v.strip()
        : null;
  }

  /**
   * This chart without its {@code kubeVersion} constraint ({@code Chart.yaml} written without it),
   * under a tree id of its own so both can be on disk; this bundle itself if it has none. What is
   * validated for every device alike: whether a device's cluster meets the constraint is decided
   * per device.
   */
  Bundle withoutKubeVersionConstraint() {
    if (kubeVersionConstraint() == null) {
      return this;
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> chart =
        new LinkedHashMap<>(
            (Map<String, Object>)
                Manifests.readYaml(Values.utf8(files.get("Chart.yaml")), "Chart.yaml"));
    chart.remove("kubeVersion");
    SortedMap<String, byte[]> copy = new TreeMap<>(files);
    copy.put(
        "Chart.yaml", Manifests.write(chart).getBytes(java.nio.charset.StandardCharsets.UTF_8));
    return new Bundle(
        name,
        treeId + "-any-kube",
        kind,
        Collections.unmodifiableSortedMap(copy),
        objects,
        values,
        overrides);
  }

  /** The chart's values with matching overrides merged in order (tags not yet substituted). */
  Map<String, Object> valuesFor(Map<String, String> tags) {
    Map<String, Object> v = new LinkedHashMap<>(values);
    for (Override o : overrides) {
      if (o.selector().matches(tags)) {
        v = Values.merge(v, o.values());
      }
    }
    return v;
  }
}
