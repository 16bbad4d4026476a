package io.edgefleet.controller.health;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.devices.DeviceService;
import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.devices.DeviceView;
import io.edgefleet.controller.devices.FleetSummary;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.Durations;
import io.edgefleet.protocol.Labels;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * The fleet at a glance: counts per status and what they mean, for all devices or those a selector
 * chooses, optionally per value of one tag. One read of the registry; status, maintenance and
 * updating come from memory. Thread-safe.
 */
public final class FleetSummaries {
  private static final Set<DeviceStatus> ENROLLED =
      EnumSet.of(
          DeviceStatus.ONLINE,
          DeviceStatus.DEGRADED,
          DeviceStatus.ERROR,
          DeviceStatus.OFFLINE,
          DeviceStatus.NEVER_SEEN);

  private final DeviceService devices;
  private final HealthEngine health;
  private final Clock clock;
  private final Supplier<Map<String, Integer>> clusters;

  public FleetSummaries(DeviceService devices, HealthEngine health, Clock clock) {
    this(devices, health, clock, Map::of);
  }

  /**
   * @param clusters how many K3s clusters are in each state, for the summary of the whole fleet
   */
  public FleetSummaries(
      DeviceService devices,
      HealthEngine health,
      Clock clock,
      Supplier<Map<String, Integer>> clusters) {
    this.clusters = clusters;
    this.devices = devices;
    this.health = health;
    this.clock = clock;
  }

  /**
   * @param selector a label selector over device tags; empty for every device
   * @param by a tag key to group by, if any
   * @throws ControllerException {@code VALIDATION_FAILED} for a malformed selector or tag key
   */
  public FleetReport summary(Optional<String> selector, Optional<String> by) {
    return summary(selector, by, Optional.empty());
  }

  /**
   * The summary of the devices a caller sees.
   *
   * @param visible for a caller confined to projects, the devices (by tags) it sees; the cluster
   *     counts of the whole fleet are then left out
   */
  public FleetReport summary(
      Optional<String> selector,
      Optional<String> by,
      Optional<java.util.function.Predicate<Map<String, String>>> visible) {
    Selector s = Selector.parse("selector", selector.orElse(""));
    by.ifPresent(
        key -> {
          try {
            Labels.validateKey(key);
          } catch (IllegalArgumentException e) {
            throw ControllerException.invalid("by: " + e.getMessage());
          }
        });
    List<DeviceView> all = devices.list(Optional.empty());
    if (visible.isPresent()) {
      return report(all.stream().filter(v -> visible.get().test(v.tags())).toList(), s, by, false);
    }
    return report(all, s, by, true);
  }

  /**
   * The summary of every device, from views already read: what {@code GET /api/v1/fleet/summary}
   * answers without a selector, for whoever just read every device anyway.
   */
  public FleetReport summary(List<DeviceView> all) {
    return report(all, Selector.everything(), Optional.empty(), true);
  }

  /**
   * The summary of some devices only, from views already read, without the fleet's cluster counts:
   * what a caller confined to projects is told.
   */
  public FleetReport summaryOf(List<DeviceView> some) {
    return report(some, Selector.everything(), Optional.empty(), false);
  }

  private FleetReport report(
      List<DeviceView> views, Selector s, Optional<String> by, boolean wholeFleet) {
    Instant now = clock.instant();
    List<Row> rows = new ArrayList<>();
    Map<String, Integer> agentVersions = new TreeMap<>();
    for (DeviceView v : views) {
      if (s.matches(v.tags())) {
        if (v.agentVersion() != null) {
          agentVersions.merge(v.agentVersion(), 1, Integer::sum);
        }
        rows.add(
            new Row(
                v.status(),
                v.statusSince(),
                health.inMaintenance(v.tags()),
                (v.status() == DeviceStatus.ONLINE || v.status() == DeviceStatus.DEGRADED)
                    && health.updating(v.id(), now),
                v.tags(),
                v.trust() == null ? null : v.trust().state()));
      }
    }
    List<FleetReport.Group> groups = new ArrayList<>();
    if (by.isPresent()) {
      Map<String, List<Row>> byValue = new TreeMap<>();
      List<Row> without = new ArrayList<>();
      for (Row r : rows) {
        String value = r.tags().get(by.get());
        if (value == null) {
          without.add(r);
        } else {
          byValue.computeIfAbsent(value, k -> new ArrayList<>()).add(r);
        }
      }
      byValue.forEach(
          (value, in) -> groups.add(new FleetReport.Group(value, counts(in), meaning(in, now))));
      if (!without.isEmpty()) {
        groups.add(new FleetReport.Group(null, counts(without), meaning(without, now)));
      }
    }
    return new FleetReport(
        counts(rows),
        meaning(rows, now),
        s.isEverything() ? null : s.toString(),
        by.orElse(null),
        groups,
        s.isEverything() && wholeFleet ? clusters.get() : Map.of(),
        agentVersions);
  }

  /** One device as the summary needs it. */
  record Row(
      DeviceStatus status,
      Instant since,
      boolean maintenance,
      boolean updating,
      Map<String, String> tags,
      String trust) {}

  private static FleetSummary counts(List<Row> rows) {
    return FleetSummary.count(
        rows.stream().map(Row::status).toList(),
        rows.stream().map(Row::trust).filter(t -> t != null).toList());
  }

  /** The derived figures and the sentence for these devices. */
  static FleetReport.Health meaning(List<Row> rows, Instant now) {
    int enrolled = 0;
    int maintenance = 0;
    int online = 0;
    int degraded = 0;
    int error = 0;
    int offline = 0;
    int neverSeen = 0;
    int updating = 0;
    int pending = 0;
    Instant offlineSince = null;
    for (Row r : rows) {
      if (r.status() == DeviceStatus.PENDING) {
        pending++;
      }
      if (!ENROLLED.contains(r.status())) {
        continue;
      }
      enrolled++;
      if (r.maintenance()) {
        maintenance++;
        continue;
      }
      switch (r.status()) {
        case ONLINE -> online++;
        case DEGRADED -> degraded++;
        case ERROR -> error++;
        case OFFLINE -> {
          offline++;
          if (offlineSince == null || r.since().isBefore(offlineSince)) {
            offlineSince = r.since();
          }
        }
        default -> neverSeen++;
      }
      if (r.updating()) {
        updating++;
      }
    }
    int operational = online + degraded;
    double percent = enrolled == 0 ? 0 : Math.floor(1000.0 * operational / enrolled) / 10;
    return new FleetReport.Health(
        enrolled,
        operational,
        percent,
        updating,
        maintenance,
        offlineSince,
        sentence(
            new Figures(
                enrolled,
                operational,
                percent,
                online,
                degraded,
                updating,
                maintenance,
                error,
                offline,
                offlineSince == null ? Duration.ZERO : Duration.between(offlineSince, now),
                neverSeen,
                pending)));
  }

  /** The numbers the sentence is made of. */
  record Figures(
      int enrolled,
      int operational,
      double percent,
      int online,
      int degraded,
      int updating,
      int maintenance,
      int error,
      int offline,
      Duration longestOffline,
      int neverSeen,
      int pending) {}

  /**
   * For example: {@code 99.5 % of 2,000 devices are operational (1,985 online, 5 degraded, 12
   * updating); 10 in maintenance; 0 in error; 3 offline, the longest for 14h; 0 never seen}.
   */
  static String sentence(Figures f) {
    StringBuilder s = new StringBuilder();
    if (f.enrolled() == 0) {
      s.append("no enrolled devices");
    } else {
      s.append(percent(f.percent()))
          .append(" of ")
          .append(number(f.enrolled()))
          .append(f.enrolled() == 1 ? " device is operational (" : " devices are operational (")
          .append(number(f.online()))
          .append(" online, ")
          .append(number(f.degraded()))
          .append(" degraded");
      if (f.updating() > 0) {
        s.append(", ").append(number(f.updating())).append(" updating");
      }
      s.append("); ")
          .append(number(f.maintenance()))
          .append(" in maintenance; ")
          .append(number(f.error()))
          .append(" in error; ")
          .append(number(f.offline()))
          .append(" offline");
      if (f.offline() == 1) {
        s.append(" for ").append(Durations.human(f.longestOffline()));
      } else if (f.offline() > 1) {
        s.append(", the longest for ").append(Durations.human(f.longestOffline()));
      }
      s.append("; ").append(number(f.neverSeen())).append(" never seen");
    }
    if (f.pending() > 0) {
      s.append("; ")
          .append(number(f.pending()))
          .append(f.pending() == 1 ? " waits" : " wait")
          .append(" for approval");
    }
    return s.toString();
  }

  private static String number(int n) {
    return String.format(Locale.ROOT, "%,d", n);
  }

  private static String percent(double p) {
    return p == Math.rint(p)
        ? String.format(Locale.ROOT, "%d %%", (long) p)
        : String.format(Locale.ROOT, "%.1f %%", p);
  }
}
