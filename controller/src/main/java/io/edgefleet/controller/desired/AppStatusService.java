package io.edgefleet.controller.desired;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.events.DeviceEventReads;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AppState;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import org.jdbi.v3.core.Jdbi;

/**
 * What devices report they run, joined with what they should run. Truth comes from the device: an
 * app counts as running a revision only when the device says so. A device that is offline and
 * behind is {@code PENDING_OFFLINE}, never failed. Thread-safe.
 */
public final class AppStatusService {
  private static final int MAX_TEXT = 2000;

  private final Jdbi jdbi;
  private final Clock clock;
  private final Function<String, DeviceStatus> presence;
  private final DeviceEventReads eventReads;
  private final StagingStatus staging;
  private final DeviceStore deviceStore = new DeviceStore();

  /** The device event kind of drift repairs: what agents put back that someone else changed. */
  public static final String DRIFT_KIND = "drift-repaired";

  /** How long a drift repair is shown with an app's state. */
  public static final Duration RECENT_DRIFT = Duration.ofHours(1);

  /**
   * Drift notes read for one listing at most (each device reports at most one per app per 10 min).
   */
  private static final int MAX_DRIFT_ROWS = 10_000;

  /**
   * How one app stands on one device.
   *
   * @param desiredCommit optional: for an app from Git, the full SHA of the commit that brought it
   *     to {@code desiredRevision} (null for catalog deployments and for revisions desired before
   *     the controller recorded provenance)
   * @param runningRevision the revision the device last reported, in whatever phase ({@code state}
   *     tells for the desired one)
   * @param drift the newest drift repair the device reported for the app within {@link
   *     #RECENT_DRIFT}, or null: someone keeps deleting or changing the app's objects there
   * @param readyRevision the revision the device last reported ready: what it really runs, also
   *     while a newer one is applying or has failed (null before the first ready report)
   * @param staging the revision a rollout holds back from the device while it downloads that
   *     revision's artifacts ahead, and how far it is ({@code sha256:… staging 40 MiB of 100 MiB}
   *     or {@code sha256:… held}); null when the device stages nothing of the app
   */
  public record DeviceApp(
      String deviceId,
      String deviceName,
      String app,
      String source,
      String desiredRevision,
      String desiredCommit,
      String runningRevision,
      State state,
      String reason,
      Instant desiredSince,
      Instant reportedAt,
      Drift drift,
      String readyRevision,
      String staging) {
    DeviceApp withStaging(String staging) {
      return new DeviceApp(
          deviceId,
          deviceName,
          app,
          source,
          desiredRevision,
          desiredCommit,
          runningRevision,
          state,
          reason,
          desiredSince,
          reportedAt,
          drift,
          readyRevision,
          staging);
    }

    DeviceApp withDeviceName(String name) {
      return new DeviceApp(
          deviceId,
          name,
          app,
          source,
          desiredRevision,
          desiredCommit,
          runningRevision,
          state,
          reason,
          desiredSince,
          reportedAt,
          drift,
          readyRevision,
          staging);
    }
  }

  /**
   * A recent {@value #DRIFT_KIND} event.
   *
   * @param at when the device made the repair (its time, as the event log keeps it)
   * @param message what it repaired, e.g. {@code recreated Deployment web/web 14 times in the last
   *     10 min}
   */
  public record Drift(Instant at, String message) {}

  public enum State {
    READY,
    PROGRESSING,
    APPLIED,
    FAILED,
    PENDING,
    PENDING_OFFLINE,
    /**
     * The device cannot run the app's kind of workload (a container app on a node without a
     * container engine): it does not get the app; the reason says what it lacks. Neither failed nor
     * pending.
     */
    NOT_PLACED
  }

  /**
   * Counts per app across devices.
   *
   * @param notPlaced targeted devices that cannot run the app's kind of workload (counted in {@code
   *     devices}, not in {@code pending})
   */
  public record AppSummary(
      String app,
      String source,
      int devices,
      int ready,
      int failed,
      int pending,
      int pendingOffline,
      int notPlaced) {}

  /**
   * How far the app revisions one commit of a Git source brought have reached the devices, in
   * devices (not apps): those that should run one of them ({@code targeted}), that run all of them
   * ({@code delivered}), that report all of them {@code READY} ({@code ready}), and that failed one
   * of them, in applying it or in rendering it for the device ({@code failed}).
   */
  public record CommitDevices(int targeted, int delivered, int ready, int failed) {}

  /**
   * An event a device reported.
   *
   * @param deviceAt the time the device claimed when the controller did not believe it (too far
   *     ahead of its clock or too old); {@code at} is then when the event arrived
   */
  public record DeviceEvent(
      String id, String deviceId, Instant at, String kind, String message, Instant deviceAt) {}

  public AppStatusService(Jdbi jdbi, Clock clock, Function<String, DeviceStatus> presence) {
    this(jdbi, clock, presence, StagingStatus.NONE);
  }

  /**
   * @param staging how far devices are with what they stage, shown with each device's app
   */
  public AppStatusService(
      Jdbi jdbi, Clock clock, Function<String, DeviceStatus> presence, StagingStatus staging) {
    this.staging = staging;
    this.jdbi = jdbi;
    this.clock = clock;
    this.presence = presence;
    this.eventReads = new DeviceEventReads(jdbi);
  }

  /** Records a device's report. Unknown apps are ignored; oversized text is cut. */
  public void report(String deviceId, AgentMessage.AppReport report) {
    long now = clock.millis();
    jdbi.useTransaction(
        h -> {
          for (AppState s : report.apps()) {
            if (s == null || s.name() == null || s.phase() == null) {
              continue;
            }
            boolean ready = s.phase() == AppState.Phase.READY;
            h.createUpdate(
                    "UPDATE device_apps SET running_revision = :rev, phase = :phase, reason ="
                        + " :reason, reported_at = :now"
                        + (ready ? ", ready_revision = :rev" : "")
                        + " WHERE device_id = :d AND app = :app")
                .bind("rev", cut(s.revision(), 100))
                .bind("phase", s.phase().name())
                .bind("reason", cut(s.reason(), MAX_TEXT))
                .bind("now", now)
                .bind("d", deviceId)
                .bind("app", s.name())
                .execute();
          }
        });
  }

  /**
   * The device's newest events, newest first (by the time they happened as far as the controller
   * believes it: see {@link io.edgefleet.controller.events.DeviceEvents}).
   */
  public List<DeviceEvent> events(String deviceId, int limit) {
    return eventReads.newest(deviceId, limit).stream()
        .map(
            e -> new DeviceEvent(e.id(), e.deviceId(), e.at(), e.kind(), e.message(), e.deviceAt()))
        .toList();
  }

  /** Every device the app should run on, with its state and recent drift. */
  public List<DeviceApp> byApp(String app) {
    List<DeviceApp> rows =
        query(
            "WHERE a.app = :v ORDER BY a.device_id",
            app,
            recentDrift(eventReads.ofKindByApp(DRIFT_KIND, app, driftSince(), MAX_DRIFT_ROWS)));
    if (rows.isEmpty() && !known(app)) {
      throw ControllerException.notFound("app", app);
    }
    Map<String, StageArtifacts.Stage> stages = jdbi.withHandle(h -> StageArtifacts.ofApp(h, app));
    return stages.isEmpty()
        ? rows
        : rows.stream().map(r -> staged(r, stages.get(r.deviceId()))).toList();
  }

  private DeviceApp staged(DeviceApp row, StageArtifacts.Stage stage) {
    return stage == null
        ? row
        : row.withStaging(
            stage.revision() + " " + staging.describe(row.deviceId(), stage.artifacts()));
  }

  /** Every app the device should run, with its state and recent drift. */
  public List<DeviceApp> byDevice(String deviceId) {
    List<DeviceApp> rows =
        query(
            "WHERE a.device_id = :v ORDER BY a.app",
            deviceId,
            recentDrift(
                eventReads.ofKindByDevice(DRIFT_KIND, deviceId, driftSince(), MAX_DRIFT_ROWS)));
    Map<String, StageArtifacts.Stage> stages = jdbi.withHandle(h -> StageArtifacts.of(h, deviceId));
    return stages.isEmpty()
        ? rows
        : rows.stream().map(r -> staged(r, stages.get(r.app()))).toList();
  }

  public List<AppSummary> summary() {
    return summary(id -> true);
  }

  /**
   * The apps of the devices {@code seen} accepts (by id), counted over those devices only: for a
   * caller confined to projects, the apps of its projects' devices.
   */
  public List<AppSummary> summary(java.util.function.Predicate<String> seen) {
    List<DeviceApp> all =
        query("ORDER BY a.app", null, Map.of()).stream()
            .filter(d -> seen.test(d.deviceId()))
            .toList();
    java.util.Map<String, int[]> counts = new java.util.TreeMap<>();
    java.util.Map<String, String> sources = new java.util.HashMap<>();
    for (DeviceApp d : all) {
      int[] c = counts.computeIfAbsent(d.app(), k -> new int[6]);
      sources.putIfAbsent(d.app(), d.source());
      c[0]++;
      switch (d.state()) {
        case READY -> c[1]++;
        case FAILED -> c[2]++;
        case PENDING_OFFLINE -> c[4]++;
        case NOT_PLACED -> c[5]++;
        default -> c[3]++;
      }
    }
    return counts.entrySet().stream()
        .map(
            e ->
                new AppSummary(
                    e.getKey(),
                    sources.get(e.getKey()),
                    e.getValue()[0],
                    e.getValue()[1],
                    e.getValue()[2],
                    e.getValue()[3],
                    e.getValue()[4],
                    e.getValue()[5]))
        .toList();
  }

  /**
   * For each commit of a Git source that brought an app revision some device should run now, how
   * far that has reached the devices, by the commit's full SHA. Counted from what devices report.
   */
  public Map<String, CommitDevices> byCommit(String source) {
    // Per commit and device: {rows, delivered rows, ready rows, failed rows}.
    Map<String, Map<String, int[]>> perCommit = new TreeMap<>();
    jdbi.useHandle(
        h ->
            h.createQuery(
                    "SELECT device_id, desired_commit, desired_revision, running_revision, phase,"
                        + " render_error FROM device_apps WHERE source = :s AND not_placed IS NULL AND desired_commit IS"
                        + " NOT NULL")
                .bind("s", source)
                .map(
                    (rs, ctx) -> {
                      boolean delivered =
                          Objects.equals(rs.getString("desired_revision"), rs.getString(4));
                      String phase = rs.getString("phase");
                      int[] c =
                          perCommit
                              .computeIfAbsent(rs.getString(2), k -> new HashMap<>())
                              .computeIfAbsent(rs.getString(1), k -> new int[4]);
                      c[0]++;
                      if (delivered) {
                        c[1]++;
                      }
                      if (delivered && State.READY.name().equals(phase)) {
                        c[2]++;
                      }
                      if ((delivered && State.FAILED.name().equals(phase))
                          || rs.getString("render_error") != null) {
                        c[3]++;
                      }
                      return c;
                    })
                .forEach(c -> {}));
    Map<String, CommitDevices> out = new TreeMap<>();
    perCommit.forEach(
        (commit, devices) -> {
          int delivered = 0;
          int ready = 0;
          int failed = 0;
          for (int[] c : devices.values()) {
            delivered += c[1] == c[0] ? 1 : 0;
            ready += c[2] == c[0] ? 1 : 0;
            failed += c[3] > 0 ? 1 : 0;
          }
          out.put(commit, new CommitDevices(devices.size(), delivered, ready, failed));
        });
    return out;
  }

  private boolean known(String app) {
    return jdbi.withHandle(
        h ->
            h.createQuery("SELECT COUNT(*) FROM device_apps WHERE app = :a")
                    .bind("a", app)
                    .mapTo(Integer.class)
                    .one()
                > 0);
  }

  /**
   * The newest drift repair per device and app within {@link #RECENT_DRIFT}, keyed {@code
   * device/app}: one indexed read of the event log (by app, or by device).
   */
  private Map<String, Drift> recentDrift(List<DeviceEventReads.AppEvent> rows) {
    Map<String, Drift> newest = new HashMap<>();
    rows.forEach(
        e -> newest.putIfAbsent(e.deviceId() + "/" + e.app(), new Drift(e.at(), e.message())));
    return newest;
  }

  private Instant driftSince() {
    return clock.instant().minus(RECENT_DRIFT);
  }

  private List<DeviceApp> query(String where, String value, Map<String, Drift> drift) {
    String sql =
        "SELECT a.device_id, NULL, a.app, a.source, a.desired_revision, a.running_revision,"
            + " a.phase, a.reason, a.render_error, a.desired_since, a.reported_at, a.desired_commit,"
            + " a.ready_revision, a.not_placed FROM device_apps a "
            + where;
    return jdbi.withHandle(
        h -> {
          var q = h.createQuery(sql);
          if (value != null) {
            q.bind("v", value);
          }
          List<DeviceApp> rows = q.map((rs, ctx) -> row(rs, drift)).list();
          // Only apps of devices that exist are listed, each with the device's name.
          Set<String> ids = new HashSet<>();
          rows.forEach(r -> ids.add(r.deviceId()));
          Map<String, String> names = deviceStore.names(h, ids);
          List<DeviceApp> named = new ArrayList<>(rows.size());
          for (DeviceApp r : rows) {
            if (names.containsKey(r.deviceId())) {
              named.add(r.withDeviceName(names.get(r.deviceId())));
            }
          }
          return named;
        });
  }

  private DeviceApp row(ResultSet rs, Map<String, Drift> drift) throws SQLException {
    String deviceId = rs.getString(1);
    String desired = rs.getString(5);
    String running = rs.getString(6);
    String phase = rs.getString(7);
    String reason = rs.getString(8);
    String renderError = rs.getString(9);
    long reported = rs.getLong(11);
    boolean hasReport = !rs.wasNull();
    String notPlaced = rs.getString(14);
    State state;
    if (notPlaced != null) {
      state = State.NOT_PLACED;
      reason = notPlaced;
    } else if (renderError != null && running == null) {
      state = State.FAILED;
      reason = "cannot be rendered for this device: " + renderError;
    } else if (Objects.equals(desired, running) && phase != null) {
      state = State.valueOf(phase);
    } else if (presence.apply(deviceId) != DeviceStatus.ONLINE) {
      state = State.PENDING_OFFLINE;
      reason = "device is offline; it updates when it reconnects";
    } else {
      state = State.PENDING;
      reason = running == null ? "not reported yet" : "running " + running + ", updating";
    }
    return new DeviceApp(
        deviceId,
        rs.getString(2),
        rs.getString(3),
        rs.getString(4),
        desired,
        rs.getString(12),
        running,
        state,
        reason,
        Instant.ofEpochMilli(rs.getLong(10)),
        hasReport ? Instant.ofEpochMilli(reported) : null,
        drift.get(deviceId + "/" + rs.getString(3)),
        rs.getString(13),
        null);
  }

  private static String cut(String s, int max) {
    return s == null ? null : s.length() <= max ? s : s.substring(0, max);
  }
}
