package io.edgefleet.controller.clusters;

import io.edgefleet.controller.artifacts.K3sBinaries;
import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.clusters.ClusterModel.Candidate;
import io.edgefleet.controller.clusters.ClusterModel.Definition;
import io.edgefleet.controller.clusters.ClusterModel.Member;
import io.edgefleet.controller.clusters.ClusterModel.Report;
import io.edgefleet.controller.clusters.ClusterModel.State;
import io.edgefleet.controller.clusters.ClusterPlanner.Plan;
import io.edgefleet.controller.common.ClusterTags;
import io.edgefleet.controller.devices.DeviceRecord;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.Presence;
import io.edgefleet.controller.events.FleetEvents;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ClusterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BiPredicate;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps every cluster at its plan: on its own single worker thread it runs the {@link
 * ClusterPlanner} for a cluster whenever a member reports, a device changes, an operator changes
 * the cluster, and on a tick; it persists the members, mirrors membership into the devices' cluster
 * tags, publishes the sections ({@link ClusterSectionTable}) and asks the desired state engine to
 * recompute each device whose section changed. Reports are queued, never handled on the caller's
 * thread. Thread-safe.
 */
public final class ClusterEngine implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ClusterEngine.class);

  /** A stored report is written again at most this often unless its phase changed. */
  static final Duration REPORT_PERSIST_EVERY = Duration.ofSeconds(10);

  private final Jdbi jdbi;
  private final Clock clock;
  private final ClusterStore store;
  private final DeviceStore devices;
  private final Function<String, Presence.Snapshot> presence;
  private final Predicate<String> quarantined;
  private final K3sBinaries k3s;
  private final ProfileSource profiles;
  private final ClusterSectionTable sections;
  private final BiPredicate<String, Map<String, String>> clusterTags;
  private final Consumer<String> recompute;
  private final AuditLog audit;
  private final Duration tick;
  private final ClusterPlanner planner = new ClusterPlanner();
  private final ScheduledExecutorService worker;

  /** Latest report per device, from memory. */
  private final Map<String, Report> reports = new ConcurrentHashMap<>();

  /** The last plan of each cluster (worker-written, read by views). */
  private final Map<String, Plan> plans = new ConcurrentHashMap<>();

  /** The profile each cluster follows, by its last plan (worker-written, read by views). */
  private final Map<String, String> followed = new ConcurrentHashMap<>();

  // Owned by the worker thread.
  private final Map<String, List<Member>> members = new HashMap<>();
  private final Map<String, Instant> persistedReports = new HashMap<>();
  private final Map<String, String> persistedPhases = new HashMap<>();
  private final Set<String> dirty = new LinkedHashSet<>();
  private boolean dirtyAll;
  private boolean scheduled;
  private final Object lock = new Object();

  /**
   * @param presence whether a device is connected and when it was last seen
   * @param quarantined whether device trust keeps a device out
   * @param clusterTags sets the cluster tags of a device ({@code DeviceService.setClusterTags})
   * @param recompute asks the desired state engine to recompute a device
   * @param tick how often every cluster is planned even without a change
   */
  public ClusterEngine(
      Jdbi jdbi,
      Clock clock,
      ClusterStore store,
      DeviceStore devices,
      Function<String, Presence.Snapshot> presence,
      Predicate<String> quarantined,
      K3sBinaries k3s,
      ProfileSource profiles,
      ClusterSectionTable sections,
      BiPredicate<String, Map<String, String>> clusterTags,
      Consumer<String> recompute,
      AuditLog audit,
      Duration tick) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.store = store;
    this.devices = devices;
    this.presence = presence;
    this.quarantined = quarantined;
    this.k3s = k3s;
    this.profiles = profiles;
    this.sections = sections;
    this.clusterTags = clusterTags;
    this.recompute = recompute;
    this.audit = audit;
    this.tick = tick;
    this.worker =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "edgefleet-clusters");
              t.setDaemon(true);
              return t;
            });
  }

  /** Loads the members and their last reports, publishes their sections, and starts the tick. */
  public void start() {
    var loaded =
        worker.submit(
            () -> {
              for (ClusterStore.MemberRow row : jdbi.withHandle(store::members)) {
                members.computeIfAbsent(row.cluster(), k -> new ArrayList<>()).add(row.member());
                if (row.report() != null) {
                  reports.putIfAbsent(
                      row.member().deviceId(), new Report(row.report(), row.reportAt()));
                }
              }
              runAll();
            });
    try {
      loaded.get(60, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      LOG.warn("loading the clusters failed; they are planned at the next tick", e);
    }
    worker.scheduleWithFixedDelay(
        this::requestAll, tick.toMillis(), tick.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** A member's report: kept, and its cluster planned soon. Never blocks. */
  public void report(String deviceId, AgentMessage.ClusterNode node) {
    if (node == null || node.cluster() == null) {
      return;
    }
    reports.put(deviceId, new Report(node, clock.instant()));
    request(node.cluster());
  }

  /** A device changed (tags, lifecycle, presence): every cluster is planned soon. */
  public void deviceChanged(String deviceId) {
    requestAll();
  }

  /** Plans one cluster soon. */
  public void request(String cluster) {
    synchronized (lock) {
      dirty.add(cluster);
      schedule();
    }
  }

  /** Plans every cluster soon. */
  public void requestAll() {
    synchronized (lock) {
      dirtyAll = true;
      schedule();
    }
  }

  /** Plans one cluster now and waits for it (after an operator's change). */
  public void planNow(String cluster) {
    try {
      worker.submit(() -> runOne(cluster)).get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      LOG.warn("planning cluster {} failed", cluster, e);
    }
  }

  /** Forgets a deleted cluster now: its members lose their sections and tags. */
  public void forget(String cluster) {
    try {
      worker
          .submit(
              () -> {
                List<Member> old = members.remove(cluster);
                plans.remove(cluster);
                followed.remove(cluster);
                if (old != null) {
                  for (Member m : old) {
                    release(m.deviceId());
                  }
                }
              })
          .get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      LOG.warn("forgetting cluster {} failed", cluster, e);
    }
  }

  /** The last plan of a cluster, if it was planned. */
  public Optional<Plan> plan(String cluster) {
    return Optional.ofNullable(plans.get(cluster));
  }

  /**
   * The profile a cluster follows ({@code NAME}, or {@code NAME@N} when pinned), by its last plan:
   * the one it names, else the one whose selector matches it.
   */
  public Optional<String> profile(String cluster) {
    return Optional.ofNullable(followed.get(cluster));
  }

  /** The profile versions a cluster should run and runs; null fields when it follows none. */
  public ProfileSource.Revisions profileRevisions(String cluster, String applierDeviceId) {
    String profile = followed.get(cluster);
    return profile == null
        ? new ProfileSource.Revisions(null, null)
        : profiles.revisions(cluster, profile, applierDeviceId);
  }

  /** How many clusters are in each state, by the last plans (from memory). */
  public Map<String, Integer> countByState() {
    Map<String, Integer> out = new java.util.TreeMap<>();
    plans.values().forEach(p -> out.merge(p.state().name(), 1, Integer::sum));
    return out;
  }

  /** The latest report of a device. */
  public Optional<Report> report(String deviceId) {
    return Optional.ofNullable(reports.get(deviceId));
  }

  private void schedule() {
    if (!scheduled) {
      scheduled = true;
      worker.execute(this::drain);
    }
  }

  private void drain() {
    Set<String> todo;
    boolean all;
    synchronized (lock) {
      todo = new LinkedHashSet<>(dirty);
      all = dirtyAll;
      dirty.clear();
      dirtyAll = false;
      scheduled = false;
    }
    try {
      if (all) {
        runAll();
      } else {
        for (String c : todo) {
          runOne(c);
        }
      }
    } catch (RuntimeException e) {
      LOG.warn("planning clusters failed; trying again at the next tick", e);
    }
  }

  private void runAll() {
    List<ClusterStore.Row> rows = jdbi.withHandle(store::all);
    if (rows.isEmpty()) {
      // No cluster to plan: every device change would otherwise read the whole fleet.
      return;
    }
    List<DeviceRecord> all = jdbi.withHandle(devices::forViews);
    for (ClusterStore.Row row : rows) {
      run(row, all);
    }
  }

  private void runOne(String cluster) {
    Optional<ClusterStore.Row> row = jdbi.withHandle(h -> store.byName(h, cluster));
    if (row.isEmpty()) {
      return;
    }
    run(row.get(), jdbi.withHandle(devices::forViews));
  }

  private void run(ClusterStore.Row row, List<DeviceRecord> all) {
    try {
      plan(row, all);
    } catch (RuntimeException e) {
      LOG.warn("planning cluster {} failed", row.name(), e);
    }
  }

  private void plan(ClusterStore.Row row, List<DeviceRecord> all) {
    Instant now = clock.instant();
    String profile = profiles.profileOf(row.name(), row.labels(), row.profile()).orElse(null);
    if (profile == null) {
      followed.remove(row.name());
    } else {
      followed.put(row.name(), profile);
    }
    Definition def = definition(row, profile);
    List<Member> current = members.getOrDefault(row.name(), List.of());
    Set<String> memberIds = new LinkedHashSet<>();
    current.forEach(m -> memberIds.add(m.deviceId()));
    Map<String, String> clusterOf = new HashMap<>();
    members.forEach((c, ms) -> ms.forEach(m -> clusterOf.put(m.deviceId(), c)));
    List<Candidate> candidates = new ArrayList<>();
    for (DeviceRecord d : all) {
      if (!memberIds.contains(d.id()) && !def.selector().matches(d.tags())) {
        continue;
      }
      Presence.Snapshot p = presence.apply(d.id());
      String other = clusterOf.get(d.id());
      candidates.add(
          new Candidate(
              d.id(),
              d.name(),
              d.tags(),
              d.lifecycle() == DeviceRecord.Lifecycle.ACTIVE,
              quarantined.test(d.id()),
              p.connected(),
              p.lastSeen().orElse(null),
              d.enrolledAt() != null ? d.enrolledAt() : d.createdAt(),
              d.facts() == null ? null : d.facts().arch(),
              other != null && !other.equals(row.name()) ? other : null));
    }
    Map<String, Report> memberReports = new HashMap<>();
    for (Member m : current) {
      Report r = reports.get(m.deviceId());
      if (r != null) {
        memberReports.put(m.deviceId(), r);
      }
    }
    // a server's report also speaks of the others: reports of every member are given
    Plan plan =
        planner.plan(
            new ClusterPlanner.Input(
                def,
                candidates,
                current,
                memberReports,
                row.applier(),
                row.state(),
                k3s::k3s,
                now));
    plans.put(row.name(), plan);
    boolean membersChanged = !plan.members().equals(current);
    boolean outcomeChanged =
        plan.state() != row.state()
            || !plan.reasons().equals(row.reasons())
            || !Objects.equals(plan.applier(), row.applier());
    if (membersChanged || outcomeChanged || !plan.changes().isEmpty()) {
      jdbi.useTransaction(
          h -> {
            if (membersChanged) {
              store.replaceMembers(h, row.name(), plan.members());
            }
            if (outcomeChanged) {
              store.setOutcome(h, row.name(), plan.state(), plan.reasons(), plan.applier());
            }
            for (String change : plan.changes()) {
              audit.record(h, "controller", "cluster.change", row.name(), Map.of("change", change));
            }
            if (plan.state() != row.state()) {
              FleetEvents events = FleetEvents.batch(h, EVENT_SOURCE);
              events.add(
                  "",
                  clock.millis(),
                  "cluster." + plan.state().name().toLowerCase(java.util.Locale.ROOT),
                  plan.state() == State.DEGRADED ? "warning" : "info",
                  null,
                  stateMessage(row.name(), row.state(), plan.state(), plan.reasons()));
              events.store();
              audit.record(
                  h,
                  "controller",
                  "cluster.state",
                  row.name(),
                  Map.of(
                      "from", row.state().name(),
                      "to", plan.state().name(),
                      "reasons", plan.reasons()));
            }
          });
    }
    if (plan.members().isEmpty()) {
      members.remove(row.name());
    } else {
      members.put(row.name(), plan.members());
    }
    persistReports(plan.members());
    // sections and tags of the members, and of those that left
    Set<String> affected = new LinkedHashSet<>(memberIds);
    plan.members().forEach(m -> affected.add(m.deviceId()));
    Map<String, DeviceRecord> byId = new HashMap<>();
    for (DeviceRecord d : all) {
      if (affected.contains(d.id())) {
        byId.put(d.id(), d);
      }
    }
    String profileName = profileName(profile);
    for (String id : affected) {
      ClusterSpec section = plan.sections().get(id);
      if (sections.put(id, section)) {
        recompute.accept(id);
      }
      Member m =
          plan.members().stream().filter(x -> x.deviceId().equals(id)).findFirst().orElse(null);
      Map<String, String> tags = new LinkedHashMap<>();
      if (m != null && !m.removing()) {
        tags.put(ClusterTags.NAME, row.name());
        tags.put(ClusterTags.ROLE, m.role());
        if (id.equals(plan.applier())) {
          tags.put(ClusterTags.APPLIER, "true");
        }
        if (profileName != null) {
          tags.put(ClusterTags.PROFILE, profileName);
        }
      }
      DeviceRecord d = byId.get(id);
      if (d != null && !tags.equals(clusterTagsOf(d.tags()))) {
        clusterTags.test(id, tags);
      }
    }
  }

  private void release(String deviceId) {
    if (sections.put(deviceId, null)) {
      recompute.accept(deviceId);
    }
    clusterTags.test(deviceId, Map.of());
  }

  private void persistReports(List<Member> ms) {
    List<Map.Entry<String, Report>> due = new ArrayList<>();
    for (Member m : ms) {
      Report r = reports.get(m.deviceId());
      if (r == null) {
        continue;
      }
      Instant last = persistedReports.get(m.deviceId());
      boolean phaseChanged = !r.node().phase().equals(persistedPhases.get(m.deviceId()));
      if (last == null
          || phaseChanged
          || (r.at().isAfter(last) && !r.at().isBefore(last.plus(REPORT_PERSIST_EVERY)))) {
        due.add(Map.entry(m.deviceId(), r));
      }
    }
    if (due.isEmpty()) {
      return;
    }
    jdbi.useTransaction(
        h -> {
          for (Map.Entry<String, Report> e : due) {
            store.setReport(h, e.getKey(), e.getValue().node(), e.getValue().at());
          }
        });
    for (Map.Entry<String, Report> e : due) {
      persistedReports.put(e.getKey(), e.getValue().at());
      persistedPhases.put(e.getKey(), e.getValue().node().phase());
    }
  }

  /**
   * The cluster's definition with the Kubernetes layer of the profile it follows (null: none) over
   * its own version and configuration.
   */
  private Definition definition(ClusterStore.Row row, String profile) {
    String version = row.kubernetesVersion();
    Map<String, Object> config = new LinkedHashMap<>(row.config());
    if (profile != null) {
      Optional<ProfileSource.KubernetesLayer> layer =
          profiles.kubernetesFor(row.name(), profile, row.applier());
      if (layer.isPresent()) {
        if (layer.get().kubernetesVersion() != null) {
          version = layer.get().kubernetesVersion();
        }
        config.putAll(layer.get().config());
      }
    }
    return new Definition(
        row.name(),
        Selector.parse(row.selector()),
        row.serversMin(),
        row.serversMax(),
        row.agentsMin(),
        row.agentsMax(),
        version,
        row.labels(),
        config,
        Duration.ofSeconds(row.graceSeconds()),
        row.deactivated(),
        row.tokenVersion());
  }

  /** The source of the cluster events in the event log. */
  public static final String EVENT_SOURCE = "cluster";

  /** A cluster's change of state in words, with the reasons it is not at its desired shape. */
  static String stateMessage(String cluster, State from, State to, List<String> reasons) {
    return "cluster "
        + cluster
        + " is "
        + to
        + " (was "
        + from
        + ")"
        + (reasons.isEmpty() || to == State.READY ? "" : ": " + String.join("; ", reasons));
  }

  static String profileName(String profile) {
    if (profile == null) {
      return null;
    }
    int at = profile.indexOf('@');
    return at < 0 ? profile : profile.substring(0, at);
  }

  private static Map<String, String> clusterTagsOf(Map<String, String> tags) {
    Map<String, String> out = new LinkedHashMap<>();
    tags.forEach(
        (k, v) -> {
          if (ClusterTags.reserved(k)) {
            out.put(k, v);
          }
        });
    return out;
  }

  @Override
  public void close() {
    worker.shutdownNow();
  }
}
