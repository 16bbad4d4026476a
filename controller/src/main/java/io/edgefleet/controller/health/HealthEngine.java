package io.edgefleet.controller.health;

import io.edgefleet.controller.desired.DeviceAppReads;
import io.edgefleet.controller.devices.DeviceRecord;
import io.edgefleet.controller.devices.DeviceService;
import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.devices.DeviceStatuses;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.events.DeviceEventReads;
import io.edgefleet.controller.events.FleetEvents;
import io.edgefleet.controller.gateway.AgentGateway;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.CompactTelemetry;
import io.edgefleet.protocol.Telemetry;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.Predicate;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.statement.PreparedBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The health model: refines the presence status of every reachable device into {@code ONLINE},
 * {@code DEGRADED} or {@code ERROR} (see {@link HealthRules}), says since when each device is in
 * its status, and records every change of status as a {@code health} event and every change of an
 * app's reported phase as an {@code app} event.
 *
 * <p>Reads are cheap: status is derived in memory from presence, the latest metrics (held by
 * telemetry ingestion) and a per-device cache of app state and refusals. The cache is loaded once,
 * refreshed in bulk at {@link #tick(Instant)} for the devices something happened to, and reloaded
 * as a whole every {@link HealthPolicy#refresh()} as a safety net. {@link #tick(Instant)} also
 * persists status transitions ({@code device_health}), so {@code since} survives a restart.
 *
 * <p>Thread-safe: reports arrive on socket threads, reads on request threads, ticks on one
 * scheduler thread.
 */
public final class HealthEngine implements DeviceService.StatusRefiner {
  private static final Logger LOG = LoggerFactory.getLogger(HealthEngine.class);
  private static final Set<DeviceStatus> REACHABLE =
      EnumSet.of(DeviceStatus.ONLINE, DeviceStatus.DEGRADED, DeviceStatus.ERROR);
  private static final String REFUSAL_KINDS = "desired-state-";
  // A refusal is matched to the document it refused by the time it was received; the device's own
  // time narrows the search (index on device_id, at) and may be this far off.
  private static final long CLOCK_SLACK_MS = Duration.ofDays(1).toMillis();
  private static final int CHUNK = 500;
  private static final int MAX_TEXT = 2000;

  private final Jdbi jdbi;
  private final Clock clock;
  private final HealthPolicy policy;
  private final Function<String, Optional<Telemetry.Metrics>> metrics;
  private final DeviceStore store = new DeviceStore();
  private final DeviceAppReads deviceApps = new DeviceAppReads();
  private final Map<String, DeviceRecord> devices = new ConcurrentHashMap<>();
  private final Map<String, Signals> signals = new ConcurrentHashMap<>();
  private final Map<String, Persisted> persisted = new ConcurrentHashMap<>();
  private final Map<String, Map<String, String>> reportedPhases = new ConcurrentHashMap<>();
  private final Set<String> changedDevices = ConcurrentHashMap.newKeySet();
  private final Set<String> changedSignals = ConcurrentHashMap.newKeySet();
  private final Object tickLock = new Object();
  private final DeviceStatuses statuses;
  private final Predicate<String> admitAppEvent;
  private volatile Instant lastReload = Instant.EPOCH;

  /** A status as persisted: it holds since {@code since}. */
  record Persisted(DeviceStatus status, String reason, Instant since, Instant reachableSince) {}

  /**
   * @param metrics the newest metric summary of a device, from memory (telemetry ingestion)
   * @param statuses the status of a device as lifecycle and presence tell it, which this engine
   *     refines and {@link #tick(Instant)} persists
   * @param admitAppEvent whether the device may record one more {@code app} event now (its event
   *     allowance): a device that reports phase changes faster than its allowance has the excess
   *     events dropped (its apps' state is still followed)
   */
  public HealthEngine(
      Jdbi jdbi,
      Clock clock,
      HealthPolicy policy,
      Function<String, Optional<Telemetry.Metrics>> metrics,
      DeviceStatuses statuses,
      Predicate<String> admitAppEvent) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.policy = policy;
    this.metrics = metrics;
    this.statuses = statuses;
    this.admitAppEvent = admitAppEvent;
  }

  public HealthPolicy policy() {
    return policy;
  }

  /**
   * The record as the status needs it: without the device's key and certificate in PEM (about 1 KB
   * per device, kept for every enrolled device).
   */
  private static DeviceRecord slim(DeviceRecord d) {
    return new DeviceRecord(
        d.id(),
        d.name(),
        d.serial(),
        d.lifecycle(),
        d.enrollmentCode(),
        d.keyFingerprint(),
        null,
        null,
        d.certificateSerial(),
        d.previousCertificateSerial(),
        d.certificateExpiresAt(),
        d.tags(),
        d.facts(),
        d.agentVersion(),
        d.onboardingTokenId(),
        d.createdAt(),
        d.enrolledAt(),
        d.decommissionedAt());
  }

  /** Loads devices, persisted statuses and every device's app state and refusals. */
  public void load() {
    jdbi.useHandle(
        h -> {
          h.createQuery(
                  "SELECT device_id, status, reason, since, reachable_since FROM device_health")
              .map((rs, ctx) -> Map.entry(rs.getString(1), persisted(rs)))
              .forEach(e -> persisted.put(e.getKey(), e.getValue()));
          for (DeviceRecord d : store.all(h)) {
            devices.put(d.id(), slim(d));
          }
          signals.putAll(readSignals(h, Optional.empty()));
          for (DeviceAppReads.Reported r : deviceApps.reported(h)) {
            reportedPhases
                .computeIfAbsent(r.deviceId(), k -> new ConcurrentHashMap<>())
                .put(r.app(), r.running() + "\u0000" + r.phase());
          }
        });
    lastReload = clock.instant();
  }

  /** A device's registry entry changed (enrolled, approved, tagged, retired). */
  public void deviceChanged(String deviceId) {
    changedDevices.add(deviceId);
    changedSignals.add(deviceId);
  }

  /** What a device should run changed (its desired state was recomputed). */
  public void desiredChanged(String deviceId) {
    changedSignals.add(deviceId);
  }

  /**
   * A device reported something over its connection, already stored by the services that own it:
   * app reports become {@code app} events when a phase or revision changed; refusals of the desired
   * state are picked up at the next tick.
   */
  public void reported(String deviceId, AgentMessage message) {
    switch (message) {
      case AgentMessage.AppReport report -> {
        appEvents(deviceId, report);
        remember(deviceId, report);
        changedSignals.add(deviceId);
      }
      case AgentMessage.Event event -> {
        if (event.kind() != null && event.kind().startsWith(REFUSAL_KINDS)) {
          changedSignals.add(deviceId);
        }
      }
      default -> {}
    }
  }

  /** Applies a report to the cache at once, so views are current before the next tick. */
  private void remember(String deviceId, AgentMessage.AppReport report) {
    Instant now = clock.instant();
    Map<String, AppState> byName = new HashMap<>();
    for (AppState s : report.apps()) {
      if (s != null && s.name() != null && s.phase() != null) {
        byName.put(s.name(), s);
      }
    }
    signals.computeIfPresent(
        deviceId,
        (id, old) ->
            new Signals(
                old.apps().stream()
                    .map(
                        a -> {
                          AppState s = byName.get(a.name());
                          return s == null
                              ? a
                              : new Signals.App(
                                  a.name(),
                                  a.desired(),
                                  cut(s.revision(), 100),
                                  s.phase().name(),
                                  cut(s.reason()),
                                  a.renderError(),
                                  a.desiredSince(),
                                  now);
                        })
                    .toList(),
                old.refusal()));
  }

  /**
   * Wraps the telemetry sink so that device events arriving through the outbox (refusals among
   * them) reach the health model at the next tick.
   */
  public AgentGateway.TelemetrySink observing(AgentGateway.TelemetrySink sink) {
    return new AgentGateway.TelemetrySink() {
      @Override
      public long batch(String deviceId, List<Telemetry> records) {
        long upTo = sink.batch(deviceId, records);
        for (Telemetry t : records) {
          if (t instanceof Telemetry.DeviceEvent e
              && e.kind() != null
              && e.kind().startsWith(REFUSAL_KINDS)) {
            changedSignals.add(deviceId);
            break;
          }
        }
        return upTo;
      }

      @Override
      public long raw(String deviceId, com.fasterxml.jackson.databind.JsonNode records) {
        long upTo = sink.raw(deviceId, records);
        changedSignals.add(deviceId);
        return upTo;
      }

      @Override
      public void refused(String deviceId, String reason) {
        sink.refused(deviceId, reason);
      }

      @Override
      public CompactTelemetry.Decoder decoder() {
        return sink.decoder();
      }
    };
  }

  @Override
  public DeviceService.Status refine(
      DeviceRecord device, DeviceService.Status status, Instant now) {
    Persisted p = persisted.get(device.id());
    DeviceStatus result = status.status();
    String reason = status.reason();
    Instant estimate = status.since();
    if (status.status() == DeviceStatus.ONLINE) {
      Instant reachable = reachableSince(p, now);
      Optional<HealthRules.Assessment> a =
          HealthRules.assess(
              signals.getOrDefault(device.id(), Signals.NONE),
              metrics.apply(device.id()),
              device.facts(),
              reachable,
              now,
              policy);
      if (a.isPresent()) {
        result = a.get().status();
        reason = a.get().reason();
        estimate = a.get().since().isBefore(reachable) ? reachable : a.get().since();
      }
    }
    Instant since;
    if (p != null && p.status() == result) {
      since = p.since();
    } else {
      // A new status never began before the previous one, nor in the future.
      since = estimate.isAfter(now) ? now : estimate;
      if (p != null && since.isBefore(p.since())) {
        since = p.since();
      }
    }
    return new DeviceService.Status(result, reason, since);
  }

  /** Whether the tags put the device in maintenance (tag {@link HealthPolicy#maintenanceTag()}). */
  public boolean inMaintenance(Map<String, String> tags) {
    return "true".equalsIgnoreCase(tags.getOrDefault(policy.maintenanceTag(), ""));
  }

  /**
   * Whether a reachable device is still converging on its desired state: an app is not READY on its
   * desired revision yet, but neither failed nor late. From memory.
   */
  public boolean updating(String deviceId, Instant now) {
    return HealthRules.updating(
        signals.getOrDefault(deviceId, Signals.NONE),
        reachableSince(persisted.get(deviceId), now),
        now,
        policy);
  }

  /** The status last persisted for a device, if any. */
  Optional<Persisted> persisted(String deviceId) {
    return Optional.ofNullable(persisted.get(deviceId));
  }

  /**
   * Refreshes the cache for the devices something happened to (or all, every {@link
   * HealthPolicy#refresh()}), derives every device's status as of {@code now} and persists each
   * change with a {@code health} event, in one transaction. Failures are logged and retried at the
   * next tick.
   *
   * @return how many devices changed status
   */
  public int tick(Instant now) {
    synchronized (tickLock) {
      refresh(now);
      List<Transition> transitions = new ArrayList<>();
      for (DeviceRecord d : devices.values()) {
        DeviceService.Status v = refine(d, statuses.derive(d, now), now);
        Persisted p = persisted.get(d.id());
        if (p == null || p.status() != v.status()) {
          Instant reachable =
              !REACHABLE.contains(v.status())
                  ? null
                  : p != null && REACHABLE.contains(p.status()) && p.reachableSince() != null
                      ? p.reachableSince()
                      : v.since();
          transitions.add(
              new Transition(
                  d.id(), p, new Persisted(v.status(), cut(v.reason()), v.since(), reachable)));
        }
      }
      if (transitions.isEmpty()) {
        return 0;
      }
      try {
        jdbi.useTransaction(h -> persist(h, transitions, now));
      } catch (RuntimeException e) {
        LOG.warn(
            "{} status change(s) not persisted; will retry: {}", transitions.size(), e.toString());
        return 0;
      }
      transitions.forEach(t -> persisted.put(t.deviceId(), t.to()));
      return transitions.size();
    }
  }

  private record Transition(String deviceId, Persisted from, Persisted to) {}

  private void persist(Handle h, List<Transition> transitions, Instant now) {
    PreparedBatch upsert =
        h.prepareBatch(
            "INSERT INTO device_health (device_id, status, reason, since, reachable_since,"
                + " updated_at) VALUES (:d, :status, :reason, :since, :reachable, :now)"
                + " ON CONFLICT (device_id) DO UPDATE SET status = excluded.status, reason ="
                + " excluded.reason, since = excluded.since, reachable_since ="
                + " excluded.reachable_since, updated_at = excluded.updated_at");
    FleetEvents events = FleetEvents.batch(h, "health");
    for (Transition t : transitions) {
      upsert
          .bind("d", t.deviceId())
          .bind("status", t.to().status().name())
          .bind("reason", t.to().reason())
          .bind("since", t.to().since().toEpochMilli())
          .bind(
              "reachable",
              t.to().reachableSince() == null ? null : t.to().reachableSince().toEpochMilli())
          .bind("now", now.toEpochMilli())
          .add();
      // The first assessment of a device is where it starts, not a change.
      if (t.from() != null) {
        events.add(
            t.deviceId(),
            now.toEpochMilli(),
            t.to().status().name(),
            severity(t.to().status()),
            null,
            cut(t.from().status() + " → " + t.to().status() + ": " + t.to().reason()));
      }
    }
    upsert.execute();
    events.store();
  }

  private static String severity(DeviceStatus s) {
    return switch (s) {
      case ERROR -> "error";
      case DEGRADED, OFFLINE -> "warning";
      default -> "info";
    };
  }

  private Instant reachableSince(Persisted p, Instant now) {
    // Not reachable by the last tick: it has just come back, so its apps get their chance now.
    return p != null && REACHABLE.contains(p.status()) && p.reachableSince() != null
        ? p.reachableSince()
        : now;
  }

  private void refresh(Instant now) {
    if (Duration.between(lastReload, now).compareTo(policy.refresh()) >= 0) {
      changedDevices.clear();
      changedSignals.clear();
      jdbi.useHandle(
          h -> {
            Map<String, DeviceRecord> all = new HashMap<>();
            store.all(h).forEach(d -> all.put(d.id(), slim(d)));
            devices.keySet().retainAll(all.keySet());
            devices.putAll(all);
            Map<String, Signals> fresh = readSignals(h, Optional.empty());
            signals.keySet().retainAll(fresh.keySet());
            signals.putAll(fresh);
          });
      lastReload = now;
      return;
    }
    Set<String> changed = drain(changedDevices);
    Set<String> changedApps = drain(changedSignals);
    if (changed.isEmpty() && changedApps.isEmpty()) {
      return;
    }
    try {
      jdbi.useHandle(
          h -> {
            for (String id : changed) {
              store.byId(h, id).ifPresent(d -> devices.put(id, slim(d)));
            }
            List<String> ids = new ArrayList<>(changedApps);
            for (int i = 0; i < ids.size(); i += CHUNK) {
              List<String> chunk = ids.subList(i, Math.min(ids.size(), i + CHUNK));
              Map<String, Signals> fresh = readSignals(h, Optional.of(chunk));
              for (String id : chunk) {
                signals.put(id, fresh.getOrDefault(id, Signals.NONE));
              }
            }
          });
    } catch (RuntimeException e) {
      changedDevices.addAll(changed);
      changedSignals.addAll(changedApps);
      throw e;
    }
  }

  private static Set<String> drain(Set<String> set) {
    Set<String> out = new HashSet<>();
    for (String id : List.copyOf(set)) {
      if (set.remove(id)) {
        out.add(id);
      }
    }
    return out;
  }

  /** App state and current refusals of these devices (all when empty), in two queries. */
  private Map<String, Signals> readSignals(Handle h, Optional<Collection<String>> ids) {
    Map<String, List<Signals.App>> apps = new HashMap<>();
    for (DeviceAppReads.AppRow a : deviceApps.apps(h, ids)) {
      apps.computeIfAbsent(a.deviceId(), k -> new ArrayList<>())
          .add(
              new Signals.App(
                  a.app(),
                  a.desiredRevision(),
                  a.running(),
                  a.phase(),
                  a.reason(),
                  a.renderError(),
                  a.desiredSince(),
                  a.reportedAt()));
    }
    // Refusals recorded since the device's current document (its events may be placed up to a
    // day earlier by a device clock behind the controller's).
    Map<String, Signals.Refusal> refusals = new HashMap<>();
    Map<String, Long> documents = deviceApps.documentTimes(h, ids);
    if (!documents.isEmpty()) {
      long since = Collections.min(documents.values()) - CLOCK_SLACK_MS;
      for (DeviceEventReads.Stored e :
          DeviceEventReads.byKindPrefix(h, REFUSAL_KINDS, ids, since)) {
        Long updated = documents.get(e.deviceId());
        if (updated == null || e.at() < updated - CLOCK_SLACK_MS || e.recorded() < updated) {
          continue;
        }
        refusals.merge(
            e.deviceId(),
            new Signals.Refusal(e.kind(), e.message(), Instant.ofEpochMilli(e.recorded())),
            (a, b) -> b.recorded().isAfter(a.recorded()) ? b : a);
      }
    }
    Map<String, Signals> out = new HashMap<>();
    Set<String> all = new HashSet<>(apps.keySet());
    all.addAll(refusals.keySet());
    for (String id : all) {
      out.put(id, new Signals(apps.getOrDefault(id, List.of()), refusals.get(id)));
    }
    return out;
  }

  /** Records an {@code app} event for every app whose reported revision or phase changed. */
  private void appEvents(String deviceId, AgentMessage.AppReport report) {
    Map<String, String> previous =
        reportedPhases.computeIfAbsent(deviceId, k -> new ConcurrentHashMap<>());
    Set<String> known = knownApps(deviceId, report);
    List<String[]> changes = new ArrayList<>();
    for (AppState s : report.apps()) {
      if (s == null || s.name() == null || s.phase() == null || !known.contains(s.name())) {
        continue;
      }
      String key = s.revision() + "\u0000" + s.phase().name();
      String before = previous.get(s.name());
      if (!key.equals(before)) {
        String was = "";
        if (before != null) {
          String[] b = before.split("\u0000", 2);
          was =
              Objects.equals(b[0], s.revision())
                  ? " (was " + b[1] + ")"
                  : " (was " + b[0] + " " + b[1] + ")";
        }
        changes.add(
            new String[] {
              s.name(),
              s.phase().name(),
              s.name()
                  + " "
                  + s.revision()
                  + " "
                  + s.phase().name()
                  + (s.reason() == null || s.reason().isBlank() ? "" : ": " + s.reason())
                  + was,
              key
            });
      }
    }
    if (changes.isEmpty()) {
      return;
    }
    List<String[]> recorded = changes.stream().filter(c -> admitAppEvent.test(deviceId)).toList();
    if (recorded.isEmpty()) {
      changes.forEach(c -> previous.put(c[0], c[3]));
      return;
    }
    long now = clock.millis();
    try {
      jdbi.useTransaction(
          h -> {
            FleetEvents batch = FleetEvents.batch(h, "app");
            for (String[] c : recorded) {
              batch.add(
                  deviceId,
                  now,
                  c[1],
                  c[1].equals("FAILED") ? "error" : "info",
                  cut(c[0], 200),
                  cut(c[2]));
            }
            batch.store();
          });
    } catch (RuntimeException e) {
      LOG.warn("app events of {} not recorded: {}", deviceId, e.toString());
      return;
    }
    changes.forEach(c -> previous.put(c[0], c[3]));
  }

  /** The apps the device should run: from the cache, or the database for an app not cached yet. */
  private Set<String> knownApps(String deviceId, AgentMessage.AppReport report) {
    Set<String> names = new HashSet<>();
    signals.getOrDefault(deviceId, Signals.NONE).apps().forEach(a -> names.add(a.name()));
    boolean uncached = report.apps().stream().anyMatch(s -> s != null && !names.contains(s.name()));
    if (uncached) {
      jdbi.useHandle(h -> names.addAll(deviceApps.appNames(h, deviceId)));
    }
    return names;
  }

  private static Persisted persisted(ResultSet rs) throws SQLException {
    long reachable = rs.getLong(5);
    boolean hasReachable = !rs.wasNull();
    return new Persisted(
        DeviceStatus.valueOf(rs.getString(2)),
        rs.getString(3),
        Instant.ofEpochMilli(rs.getLong(4)),
        hasReachable ? Instant.ofEpochMilli(reachable) : null);
  }

  private static String cut(String s) {
    return cut(s, MAX_TEXT);
  }

  private static String cut(String s, int max) {
    return s == null || s.length() <= max ? s : s.substring(0, max);
  }
}
