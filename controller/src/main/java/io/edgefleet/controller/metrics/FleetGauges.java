package io.edgefleet.controller.metrics;

import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.rollouts.RolloutEngine;
import io.edgefleet.protocol.Labels;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fleet gauges computed when Prometheus scrapes: devices by status (and by status and chosen tag
 * keys), rollouts by state, devices per app and state, firing alerts per rule. Each source is read
 * once per scrape, never once per device: the devices come from one read of the registry with
 * status derived in memory, the rest from one {@code GROUP BY} each.
 *
 * <p>Label cardinality is bounded: at most {@value #MAX_TAG_KEYS} tag keys; at most {@value
 * #MAX_TAG_SERIES} series for the per-tag gauge (the rarest combinations are added up under the tag
 * value {@value #OTHER}, which no tag value can be since tag values start with a letter or digit);
 * at most {@value #MAX_APPS} apps. A source that fails is reported as {@code
 * edgefleet_fleet_source_up{source} 0} and its gauges are left out, so one broken query does not
 * hide the rest.
 */
public final class FleetGauges implements MultiCollector {
  private static final Logger LOG = LoggerFactory.getLogger(FleetGauges.class);

  public static final int MAX_TAG_KEYS = 5;
  public static final int MAX_TAG_SERIES = 1000;
  public static final int MAX_APPS = 500;
  public static final String OTHER = "_other";

  /** The app states of {@code edgefleet_app_devices}. */
  public static final List<String> APP_STATES =
      List.of("READY", "FAILED", "PENDING", "PENDING_OFFLINE");

  /** One device as the gauges need it: its derived status and its tags. */
  public record Device(String status, Map<String, String> tags) {}

  /** How many devices run {@code app} in {@code state} (one of {@link #APP_STATES}). */
  public record AppCount(String app, String state, long devices) {}

  /** How many alerts of a rule fire. */
  public record AlertCount(String rule, String severity, long firing) {}

  /** Where the numbers come from; each supplier is called once per scrape. */
  public record Sources(
      Supplier<List<Device>> devices,
      Supplier<Map<String, Long>> rollouts,
      Supplier<List<AppCount>> apps,
      Supplier<List<AlertCount>> alerts) {}

  private final List<String> tagKeys;
  private final List<String> tagLabels;
  private final Sources sources;

  /**
   * @param tagKeys device tag keys for {@code edgefleet_devices_by_tags}; each becomes the label
   *     {@code tag_<key>} with characters other than letters, digits and {@code _} replaced by
   *     {@code _}
   * @throws IllegalArgumentException for more than {@value #MAX_TAG_KEYS} keys, an invalid key, or
   *     two keys that give the same label
   */
  public FleetGauges(List<String> tagKeys, Sources sources) {
    this.tagKeys = List.copyOf(new LinkedHashSet<>(tagKeys));
    this.tagLabels = labelsFor(this.tagKeys);
    this.sources = sources;
  }

  /** The label names for these tag keys, validated (see the constructor). */
  public static List<String> labelsFor(List<String> tagKeys) {
    if (tagKeys.size() > MAX_TAG_KEYS) {
      throw new IllegalArgumentException(
          "at most "
              + MAX_TAG_KEYS
              + " metrics tag keys keep the number of series bounded; got "
              + tagKeys.size()
              + ": "
              + tagKeys);
    }
    List<String> labels = new ArrayList<>();
    Set<String> seen = new LinkedHashSet<>();
    for (String key : tagKeys) {
      Labels.validateKey(key);
      String label = "tag_" + key.replaceAll("[^A-Za-z0-9_]", "_");
      if (!seen.add(label)) {
        throw new IllegalArgumentException(
            "metrics tag keys " + tagKeys + " give the label " + label + " twice");
      }
      labels.add(label);
    }
    return List.copyOf(labels);
  }

  @Override
  public MetricSnapshots collect() {
    List<MetricSnapshot> out = new ArrayList<>();
    Map<String, Boolean> up = new LinkedHashMap<>();
    up.put("devices", read("devices", sources.devices()).map(d -> devices(d, out)).orElse(false));
    up.put(
        "rollouts", read("rollouts", sources.rollouts()).map(r -> rollouts(r, out)).orElse(false));
    up.put("apps", read("apps", sources.apps()).map(a -> apps(a, out)).orElse(false));
    up.put("alerts", read("alerts", sources.alerts()).map(a -> alerts(a, out)).orElse(false));
    GaugeSnapshot.Builder g =
        GaugeSnapshot.builder()
            .name("edgefleet_fleet_source_up")
            .help("1 if the source of the fleet gauges could be read at this scrape, else 0");
    up.forEach((source, ok) -> g.dataPoint(point(ok ? 1 : 0, "source", source)));
    out.add(g.build());
    return new MetricSnapshots(out);
  }

  private static <T> java.util.Optional<T> read(String name, Supplier<T> source) {
    try {
      return java.util.Optional.ofNullable(source.get());
    } catch (RuntimeException e) {
      LOG.warn("fleet gauges: {} could not be read: {}", name, e.toString());
      return java.util.Optional.empty();
    }
  }

  private boolean devices(List<Device> devices, List<MetricSnapshot> out) {
    Map<String, Long> byStatus = new LinkedHashMap<>();
    for (DeviceStatus s : DeviceStatus.values()) {
      byStatus.put(s.name(), 0L);
    }
    Map<List<String>, Long> byTags = new HashMap<>();
    for (Device d : devices) {
      byStatus.merge(d.status(), 1L, Long::sum);
      if (!tagKeys.isEmpty()) {
        List<String> key = new ArrayList<>(tagKeys.size() + 1);
        key.add(d.status());
        for (String k : tagKeys) {
          key.add(d.tags().getOrDefault(k, ""));
        }
        byTags.merge(key, 1L, Long::sum);
      }
    }
    GaugeSnapshot.Builder g =
        GaugeSnapshot.builder()
            .name("edgefleet_devices")
            .help("Devices by status (every status is listed, also at 0)");
    byStatus.forEach((status, n) -> g.dataPoint(point(n, "status", status)));
    out.add(g.build());
    if (!tagKeys.isEmpty()) {
      GaugeSnapshot.Builder t =
          GaugeSnapshot.builder()
              .name("edgefleet_devices_by_tags")
              .help(
                  "Devices by status and the tags "
                      + String.join(", ", tagKeys)
                      + " (combinations without devices are absent; the rarest beyond "
                      + MAX_TAG_SERIES
                      + " series are added up under "
                      + OTHER
                      + ")");
      bounded(byTags, MAX_TAG_SERIES)
          .forEach(
              (key, n) -> {
                String[] labels = new String[2 * key.size()];
                labels[0] = "status";
                labels[1] = key.getFirst();
                for (int i = 0; i < tagLabels.size(); i++) {
                  labels[2 + 2 * i] = tagLabels.get(i);
                  labels[3 + 2 * i] = key.get(i + 1);
                }
                t.dataPoint(point(n, labels));
              });
      out.add(t.build());
    }
    return true;
  }

  /**
   * At most {@code max} entries: the most frequent combinations as they are, the others added up
   * per status under {@link #OTHER}.
   */
  static Map<List<String>, Long> bounded(Map<List<String>, Long> counts, int max) {
    if (counts.size() <= max) {
      Map<List<String>, Long> all = new TreeMap<>(orderOfKeys());
      all.putAll(counts);
      return all;
    }
    List<Map.Entry<List<String>, Long>> sorted = new ArrayList<>(counts.entrySet());
    sorted.sort(
        Map.Entry.<List<String>, Long>comparingByValue()
            .reversed()
            .thenComparing(Map.Entry.comparingByKey(orderOfKeys())));
    // Room for one "other" series per status that overflows.
    long statuses = counts.keySet().stream().map(List::getFirst).distinct().count();
    int keep = (int) Math.max(0, max - statuses);
    Map<List<String>, Long> out = new TreeMap<>(orderOfKeys());
    for (int i = 0; i < sorted.size(); i++) {
      Map.Entry<List<String>, Long> e = sorted.get(i);
      if (i < keep) {
        out.put(e.getKey(), e.getValue());
      } else {
        List<String> other = new ArrayList<>(e.getKey().size());
        other.add(e.getKey().getFirst());
        for (int k = 1; k < e.getKey().size(); k++) {
          other.add(OTHER);
        }
        out.merge(other, e.getValue(), Long::sum);
      }
    }
    return out;
  }

  private static Comparator<List<String>> orderOfKeys() {
    return (a, b) -> {
      for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
        int c = a.get(i).compareTo(b.get(i));
        if (c != 0) {
          return c;
        }
      }
      return Integer.compare(a.size(), b.size());
    };
  }

  private static boolean rollouts(Map<String, Long> counts, List<MetricSnapshot> out) {
    GaugeSnapshot.Builder g =
        GaugeSnapshot.builder()
            .name("edgefleet_rollouts")
            .help("Rollouts by state (every state is listed, also at 0)");
    Map<String, Long> all = new LinkedHashMap<>();
    for (RolloutEngine.State s : RolloutEngine.State.values()) {
      all.put(s.name(), 0L);
    }
    all.putAll(counts);
    all.forEach((state, n) -> g.dataPoint(point(n, "state", state)));
    out.add(g.build());
    return true;
  }

  private static boolean apps(List<AppCount> counts, List<MetricSnapshot> out) {
    Map<String, Long> total = new HashMap<>();
    for (AppCount c : counts) {
      total.merge(c.app(), c.devices(), Long::sum);
    }
    Set<String> kept = new LinkedHashSet<>();
    total.entrySet().stream()
        .sorted(
            Map.Entry.<String, Long>comparingByValue()
                .reversed()
                .thenComparing(Map.Entry.comparingByKey()))
        .limit(MAX_APPS)
        .forEach(e -> kept.add(e.getKey()));
    Map<String, Map<String, Long>> byApp = new TreeMap<>();
    for (AppCount c : counts) {
      String app = kept.contains(c.app()) ? c.app() : OTHER;
      Map<String, Long> states =
          byApp.computeIfAbsent(
              app,
              k -> {
                Map<String, Long> m = new LinkedHashMap<>();
                APP_STATES.forEach(s -> m.put(s, 0L));
                return m;
              });
      states.merge(c.state(), c.devices(), Long::sum);
    }
    GaugeSnapshot.Builder g =
        GaugeSnapshot.builder()
            .name("edgefleet_app_devices")
            .help(
                "Devices an app should run on, by app and state (READY, FAILED, PENDING,"
                    + " PENDING_OFFLINE)");
    byApp.forEach(
        (app, states) ->
            states.forEach((state, n) -> g.dataPoint(point(n, "app", app, "state", state))));
    out.add(g.build());
    return true;
  }

  private static boolean alerts(List<AlertCount> counts, List<MetricSnapshot> out) {
    GaugeSnapshot.Builder g =
        GaugeSnapshot.builder()
            .name("edgefleet_alerts_firing")
            .help("Alerts firing, by rule and severity");
    Map<List<String>, Long> merged = new TreeMap<>(orderOfKeys());
    for (AlertCount c : counts) {
      merged.merge(List.of(c.rule(), c.severity()), c.firing(), Long::sum);
    }
    merged.forEach((k, n) -> g.dataPoint(point(n, "rule", k.get(0), "severity", k.get(1))));
    out.add(g.build());
    return true;
  }

  private static GaugeDataPointSnapshot point(double value, String... labels) {
    return GaugeDataPointSnapshot.builder()
        .labels(io.prometheus.metrics.model.snapshots.Labels.of(labels))
        .value(value)
        .build();
  }
}
