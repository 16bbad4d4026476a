package io.edgefleet.controller.agentreleases;

import io.edgefleet.controller.desired.AgentSections;
import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.controller.desired.DeviceAppReads;
import io.edgefleet.controller.desired.ReleaseGate;
import io.edgefleet.controller.devices.DeviceRecord;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.rollouts.SubjectReports;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AgentRelease;
import io.edgefleet.protocol.DeviceFacts;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * Which agent release devices should run, and how they stand: the agent as a subject of the rollout
 * engine. The operator's latest agent rollout ({@code agent_targets}) is the subject's one "app"
 * ({@value #APP} from {@value #SOURCE}) at the release's version; the rollout gate decides per
 * device whether it gets that version, the one it had before (a rollback) or what it was told
 * before; this class turns that into the document's {@code agent} section (the release for the
 * device's architecture). The devices' slot reports tell the rollouts how each device stands.
 * Thread-safe.
 */
public final class AgentTargets implements AgentSections, SubjectReports {
  /** The app name agent rollouts carry. */
  public static final String APP = "edgefleet-agent";

  /** The source name agent rollouts carry. */
  public static final String SOURCE = "agent-releases";

  /** The rollout subject of the agent. */
  public static final String SUBJECT = SOURCE + "/" + APP;

  /** One agent rollout the operator started. */
  public record Target(
      long seq,
      String version,
      String selector,
      String rolloutId,
      String createdBy,
      Instant createdAt) {}

  private final Jdbi jdbi;
  private final AgentReleases releases;
  private final AgentSlotReports slots;
  private final ReleaseGate gate;
  private final DeviceStore devices = new DeviceStore();
  private final Map<String, String> archs = new ConcurrentHashMap<>();
  private volatile Optional<Target> current;
  private volatile Selector selector = Selector.everything();

  public AgentTargets(Jdbi jdbi, AgentReleases releases, AgentSlotReports slots, ReleaseGate gate) {
    this.jdbi = jdbi;
    this.releases = releases;
    this.slots = slots;
    this.gate = gate;
    reload();
  }

  /** The operator's latest agent rollout. */
  public Optional<Target> current() {
    return current;
  }

  /** The agent as the rollout engine's one app, when it was ever rolled out. */
  public List<AppCatalog.App> apps() {
    return current.map(t -> List.of(app(t))).orElse(List.of());
  }

  private AppCatalog.App app(Target t) {
    Selector s = selector;
    return new AppCatalog.App(APP, SOURCE, t.version(), s::matches, true);
  }

  /**
   * Records a new target inside the rollout's transaction and makes it current at once (the rollout
   * engine reads its rollouts before the apps, so it never sees the new rollout without its
   * target); call {@link #reload} should the transaction fail.
   */
  void record(Handle h, String version, Selector target, String rolloutId, String actor, long now) {
    long seq =
        h.createQuery("SELECT COALESCE(MAX(seq), 0) + 1 FROM agent_targets")
            .mapTo(Long.class)
            .one();
    h.createUpdate(
            "INSERT INTO agent_targets (seq, version, selector, rollout_id, created_by,"
                + " created_at) VALUES (:seq, :v, :s, :r, :by, :now)")
        .bind("seq", seq)
        .bind("v", version)
        .bind("s", target.toString())
        .bind("r", rolloutId)
        .bind("by", actor)
        .bind("now", now)
        .execute();
    selector = target;
    current =
        Optional.of(
            new Target(
                seq, version, target.toString(), rolloutId, actor, Instant.ofEpochMilli(now)));
  }

  /** Reads the latest target again. */
  void reload() {
    Optional<Target> t =
        jdbi.withHandle(
            h ->
                h.createQuery(
                        "SELECT seq, version, selector, rollout_id, created_by, created_at FROM"
                            + " agent_targets ORDER BY seq DESC")
                    .setMaxRows(1)
                    .map(
                        (rs, ctx) ->
                            new Target(
                                rs.getLong(1),
                                rs.getString(2),
                                rs.getString(3),
                                rs.getString(4),
                                rs.getString(5),
                                Instant.ofEpochMilli(rs.getLong(6))))
                    .findFirst());
    t.ifPresent(x -> selector = Selector.parse(x.selector()));
    current = t;
  }

  /**
   * Whether an agent rollout needs {@code version}: the latest one targets it, or returns devices
   * to it on a rollback (the one before).
   */
  public static Optional<String> userOf(Jdbi jdbi, String version) {
    List<String[]> latest =
        jdbi.withHandle(
            h ->
                h.createQuery("SELECT version, rollout_id FROM agent_targets ORDER BY seq DESC")
                    .setMaxRows(2)
                    .map((rs, ctx) -> new String[] {rs.getString(1), rs.getString(2)})
                    .list());
    if (!latest.isEmpty() && latest.get(0)[0].equals(version)) {
      return Optional.of("agent rollout " + latest.get(0)[1] + " targets it");
    }
    if (latest.size() > 1 && latest.get(1)[0].equals(version)) {
      return Optional.of(
          "agent rollout " + latest.get(0)[1] + " returns devices to it on a rollback");
    }
    return Optional.empty();
  }

  // -------------------------------------------------------------------------------------------
  // The desired state's agent section

  @Override
  public AgentRelease sectionFor(
      Handle h,
      String deviceId,
      DeviceFacts facts,
      Map<String, String> tags,
      Supplier<AgentRelease> previous) {
    Optional<Target> t = current;
    if (t.isEmpty()) {
      return null;
    }
    String arch = facts == null ? null : facts.arch();
    if (!selector.matches(tags)) {
      // Devices outside the rollout are told nothing: they keep the agent they run.
      return null;
    }
    ReleaseGate.Decision d =
        gate.decide(h, deviceId, List.of(app(t.get()))).getOrDefault(APP, ReleaseGate.FOLLOW);
    return switch (d) {
      case ReleaseGate.Follow f -> release(t.get().version(), arch);
      case ReleaseGate.Keep k -> previous.get();
      case ReleaseGate.Pin p -> release(p.revision(), arch);
      case ReleaseGate.Absent a -> null;
    };
  }

  private AgentRelease release(String version, String arch) {
    if (version == null || arch == null) {
      return null;
    }
    return releases.find(version, arch).map(AgentReleases.Release::signed).orElse(null);
  }

  // -------------------------------------------------------------------------------------------
  // How devices stand, for the rollouts

  @Override
  public boolean owns(String app) {
    return APP.equals(app);
  }

  @Override
  public Map<String, DeviceAppReads.Report> reports(
      Handle h, String app, String to, Collection<String> members) {
    Map<String, String> arch = archs(h, members);
    Map<String, AgentSlotReports.Slots> all = slots.all();
    Map<String, DeviceAppReads.Report> out = new HashMap<>();
    List<String> silent = new ArrayList<>();
    for (String device : members) {
      String a = arch.get(device);
      if (a != null && releases.find(to, a).isEmpty()) {
        out.put(
            device,
            new DeviceAppReads.Report(
                null,
                to,
                "FAILED",
                "no release of the agent " + to + " for its architecture " + a,
                null));
        continue;
      }
      AgentSlotReports.Slots s = all.get(device);
      if (s != null) {
        out.put(device, report(s, to));
      } else {
        silent.add(device);
      }
    }
    if (!silent.isEmpty()) {
      // A device that reports no slots counts as updated when its hello names the version.
      for (DeviceRecord d : devices.byIds(h, silent).values()) {
        if (d.agentVersion() != null) {
          out.put(d.id(), new DeviceAppReads.Report(null, d.agentVersion(), "READY", null, null));
        }
      }
    }
    return out;
  }

  /** How a device stands from its slot report, judged against the target version {@code to}. */
  static DeviceAppReads.Report report(AgentSlotReports.Slots s, String to) {
    String phase = s.updatePhase();
    String version = s.updateVersion();
    boolean failed =
        AgentMessage.AgentUpdate.ROLLED_BACK.equals(phase)
            || AgentMessage.AgentUpdate.REFUSED.equals(phase);
    if (failed && to.equals(version)) {
      return new DeviceAppReads.Report(
          null,
          to,
          "FAILED",
          (AgentMessage.AgentUpdate.REFUSED.equals(phase) ? "refused" : "rolled back")
              + (s.updateReason() == null ? "" : ": " + s.updateReason()),
          null);
    }
    String running = s.activeVersion();
    boolean underWay =
        phase != null && !failed && !AgentMessage.AgentUpdate.CONFIRMED.equals(phase);
    if (running == null || underWay) {
      return new DeviceAppReads.Report(
          null,
          running,
          phase == null ? null : phase.toUpperCase(Locale.ROOT),
          version == null ? null : "update to " + version + " " + phase,
          null);
    }
    return new DeviceAppReads.Report(null, running, "READY", null, null);
  }

  @Override
  public Map<String, DeviceAppReads.Entry> entries(Handle h, String app) {
    Map<String, AgentSlotReports.Slots> all = slots.all();
    Map<String, String> arch = archs(h, all.keySet());
    Map<String, DeviceAppReads.Entry> out = new HashMap<>();
    all.forEach(
        (device, s) -> {
          String running = s.activeVersion();
          String a = arch.get(device);
          if (running != null && a != null) {
            releases
                .find(running, a)
                .ifPresent(
                    r -> out.put(device, new DeviceAppReads.Entry(running, r.digest(), null)));
          }
        });
    return out;
  }

  /** The architecture of each device that reported one (cached: it does not change). */
  private Map<String, String> archs(Handle h, Collection<String> ids) {
    List<String> missing = new ArrayList<>();
    for (String id : ids) {
      if (!archs.containsKey(id)) {
        missing.add(id);
      }
    }
    if (!missing.isEmpty()) {
      for (DeviceRecord d : devices.byIds(h, missing).values()) {
        if (d.facts() != null && d.facts().arch() != null) {
          archs.put(d.id(), d.facts().arch());
        }
      }
    }
    Map<String, String> out = new HashMap<>();
    for (String id : ids) {
      String a = archs.get(id);
      if (a != null) {
        out.put(id, a);
      }
    }
    return out;
  }
}
