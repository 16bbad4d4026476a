package io.edgefleet.controller.alerts;

import io.edgefleet.controller.clusters.ClusterStore;
import io.edgefleet.controller.desired.FailedApps;
import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.DeviceTrustView;
import io.edgefleet.controller.devices.Presence;
import io.edgefleet.controller.rollouts.RolloutReads;
import io.edgefleet.controller.telemetry.MetricReads;
import io.edgefleet.protocol.Telemetry;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jdbi.v3.core.Jdbi;

/**
 * Reads the {@link Facts} of one tick with a fixed number of queries, whatever the fleet's size:
 * one for the active devices (status and offline time come from presence in memory), one for failed
 * apps, one for paused rollouts, one for degraded clusters, and the latest disk usage from the
 * telemetry ingestion's memory when given it (else one query through the telemetry package).
 * Sources no rule needs are not read. Thread-safe.
 */
final class FleetFacts {
  /** {@code disk.<mount>.used.percent}, e.g. {@code disk./.used.percent}. */
  static final Pattern DISK = Pattern.compile("disk\\.(.+)\\.used\\.percent");

  private final Jdbi jdbi;
  private final DeviceStore deviceStore;
  private final ClusterStore clusterStore = new ClusterStore();
  private final RolloutReads rollouts;
  private final MetricReads metricReads;
  private final FailedApps failedApps;
  private final Function<String, DeviceStatus> status;
  private final Function<String, Presence.Snapshot> presence;
  private final Function<String, Optional<Telemetry.Metrics>> latest;
  private final UnaryOperator<Instant> offlineFrom;
  private final Function<String, DeviceTrustView> trust;

  FleetFacts(
      Jdbi jdbi,
      Function<String, DeviceStatus> status,
      Function<String, Presence.Snapshot> presence,
      Function<String, Optional<Telemetry.Metrics>> latest) {
    this(jdbi, status, presence, latest, UnaryOperator.identity());
  }

  /**
   * @param offlineFrom where a device's offline time counts from, given when it was last heard
   *     from: lets time spent waiting for a stopped controller not count
   */
  FleetFacts(
      Jdbi jdbi,
      Function<String, DeviceStatus> status,
      Function<String, Presence.Snapshot> presence,
      Function<String, Optional<Telemetry.Metrics>> latest,
      UnaryOperator<Instant> offlineFrom) {
    this(jdbi, status, presence, latest, offlineFrom, id -> DeviceTrustView.SOFTWARE_KEY);
  }

  /**
   * @param trust the trust of a device, from memory
   */
  FleetFacts(
      Jdbi jdbi,
      Function<String, DeviceStatus> status,
      Function<String, Presence.Snapshot> presence,
      Function<String, Optional<Telemetry.Metrics>> latest,
      UnaryOperator<Instant> offlineFrom,
      Function<String, DeviceTrustView> trust) {
    this.trust = trust;
    this.jdbi = jdbi;
    this.offlineFrom = offlineFrom;
    this.deviceStore = new DeviceStore();
    this.rollouts = new RolloutReads(jdbi);
    this.metricReads = new MetricReads(jdbi);
    this.failedApps = new FailedApps(jdbi);
    this.status = status;
    this.presence = presence;
    this.latest = latest;
  }

  /** Reads the latest metric summary per device from memory instead of the database. */
  Facts read(Set<RuleType> needed) {
    if (needed.isEmpty()) {
      return Facts.NONE;
    }
    boolean aboutDevices = needed.stream().anyMatch(RuleType::aboutDevices);
    List<Facts.Device> devices = aboutDevices ? devices() : List.of();
    List<Facts.FailedApp> failed = needed.contains(RuleType.APP_FAILED) ? failedApps() : List.of();
    List<Facts.Disk> disks = needed.contains(RuleType.DISK_USAGE) ? disks(devices) : List.of();
    List<Facts.PausedRollout> paused =
        needed.contains(RuleType.ROLLOUT_PAUSED) ? pausedRollouts() : List.of();
    List<Facts.DegradedCluster> degraded =
        needed.contains(RuleType.CLUSTER_DEGRADED) ? degradedClusters() : List.of();
    return new Facts(devices, failed, disks, paused, degraded);
  }

  private List<Facts.Device> devices() {
    List<DeviceStore.Active> rows = jdbi.withHandle(deviceStore::active);
    List<Facts.Device> out = new ArrayList<>(rows.size());
    for (DeviceStore.Active r : rows) {
      DeviceStatus s = status.apply(r.id());
      DeviceTrustView t = trust.apply(r.id());
      out.add(
          new Facts.Device(
              r.id(),
              r.name(),
              r.tags(),
              s,
              s == DeviceStatus.OFFLINE
                  ? offlineFrom.apply(offlineSince(presence.apply(r.id())))
                  : null,
              r.certificateExpires(),
              t != null && t.quarantined() ? new Facts.Quarantine(t.reason(), t.since()) : null));
    }
    return out;
  }

  /** When the connection closed if that came after the last heartbeat, else the last heartbeat. */
  static Instant offlineSince(Presence.Snapshot p) {
    Optional<Instant> seen = p.lastSeen();
    Optional<Instant> closed =
        p.disconnectedAt().filter(d -> seen.map(s -> !d.isBefore(s)).orElse(true));
    return closed.or(() -> seen).orElse(null);
  }

  private List<Facts.FailedApp> failedApps() {
    return failedApps.list().stream()
        .map(f -> new Facts.FailedApp(f.deviceId(), f.app(), f.reason()))
        .toList();
  }

  private List<Facts.DegradedCluster> degradedClusters() {
    return jdbi.withHandle(clusterStore::degraded).stream()
        .map(c -> new Facts.DegradedCluster(c.name(), c.labels(), c.reasons()))
        .toList();
  }

  private List<Facts.PausedRollout> pausedRollouts() {
    return rollouts.paused().stream()
        .map(p -> new Facts.PausedRollout(p.id(), p.app(), p.reason(), p.since()))
        .toList();
  }

  private List<Facts.Disk> disks(List<Facts.Device> devices) {
    Function<String, Optional<Telemetry.Metrics>> memory = latest;
    List<Facts.Disk> out = new ArrayList<>();
    if (memory != null) {
      for (Facts.Device d : devices) {
        memory.apply(d.id()).ifPresent(m -> addDisks(out, d.id(), m.at(), m.metrics()));
      }
      return out;
    }
    // Without the ingestion's memory: the newest summary of every device, in one query.
    metricReads.eachNewest((deviceId, at, metrics) -> addDisks(out, deviceId, at, metrics));
    return out;
  }

  private static void addDisks(
      List<Facts.Disk> out, String deviceId, Instant at, Map<String, Telemetry.Stat> metrics) {
    if (metrics == null) {
      return;
    }
    metrics.forEach(
        (name, stat) -> {
          Matcher m = DISK.matcher(name);
          if (m.matches() && stat != null && Double.isFinite(stat.last())) {
            out.add(new Facts.Disk(deviceId, m.group(1), stat.last(), at));
          }
        });
  }
}
