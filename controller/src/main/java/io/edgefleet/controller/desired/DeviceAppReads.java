package io.edgefleet.controller.desired;

import java.time.Instant;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdbi.v3.core.Handle;

/**
 * Reads of {@code device_apps} and {@code device_desired} for other packages, inside the caller's
 * handle (and so its transaction).
 */
public final class DeviceAppReads {
  /** What a device was told to run of an app: revision, bundle and commit (may be null). */
  public record Entry(String revision, String bundle, String commit) {}

  /**
   * How one app stands on one device: what it should run and what it reports.
   *
   * @param notPlaced why the device cannot run the app's kind of workload (it does not get it), or
   *     null
   */
  public record Report(
      String desiredRevision,
      String running,
      String phase,
      String reason,
      String renderError,
      String notPlaced) {
    public Report(
        String desiredRevision, String running, String phase, String reason, String renderError) {
      this(desiredRevision, running, phase, reason, renderError, null);
    }
  }

  /**
   * What each device was told to run of an app, by device id; devices with no bundle are left out.
   */
  public Map<String, Entry> entries(Handle h, String app) {
    Map<String, Entry> out = new HashMap<>();
    h.createQuery(
            "SELECT device_id, desired_revision, desired_bundle, desired_commit FROM device_apps"
                + " WHERE app = :a AND desired_bundle IS NOT NULL")
        .bind("a", app)
        .map(
            (rs, ctx) ->
                Map.entry(
                    rs.getString(1), new Entry(rs.getString(2), rs.getString(3), rs.getString(4))))
        .forEach(e -> out.put(e.getKey(), e.getValue()));
    return out;
  }

  /** The revision of an app (from a source) the device was last told to run, if any. */
  public Optional<String> desiredRevision(Handle h, String deviceId, String app, String source) {
    return h.createQuery(
            "SELECT desired_revision FROM device_apps WHERE device_id = :d AND app = :a AND"
                + " source = :s")
        .bind("d", deviceId)
        .bind("a", app)
        .bind("s", source)
        .mapTo(String.class)
        .findOne();
  }

  /** The revision of an app (from a source) the device last reported ready, if any. */
  public Optional<String> readyRevision(Handle h, String deviceId, String app, String source) {
    return h.createQuery(
            "SELECT ready_revision FROM device_apps WHERE device_id = :d AND app = :a AND"
                + " source = :s AND ready_revision IS NOT NULL")
        .bind("d", deviceId)
        .bind("a", app)
        .bind("s", source)
        .mapTo(String.class)
        .findOne();
  }

  /** How the app stands on every device it is desired on, by device id (one indexed read). */
  public Map<String, Report> reports(Handle h, String app) {
    Map<String, Report> out = new HashMap<>();
    h.createQuery(
            "SELECT device_id, desired_revision, running_revision, phase, reason, render_error,"
                + " not_placed FROM device_apps WHERE app = :a")
        .bind("a", app)
        .map(
            (rs, ctx) ->
                Map.entry(
                    rs.getString(1),
                    new Report(
                        rs.getString(2),
                        rs.getString(3),
                        rs.getString(4),
                        rs.getString(5),
                        rs.getString(6),
                        rs.getString(7))))
        .forEach(e -> out.put(e.getKey(), e.getValue()));
    return out;
  }

  /** One app on one device, as the desired state and the device's report have it. */
  public record AppRow(
      String deviceId,
      String app,
      String desiredRevision,
      String running,
      String phase,
      String reason,
      String renderError,
      Instant desiredSince,
      Instant reportedAt) {}

  /**
   * Every app of these devices (of all devices when empty) that they are to run: apps not placed on
   * a device (it cannot run their kind of workload) are left out.
   */
  public List<AppRow> apps(Handle h, Optional<Collection<String>> ids) {
    var q =
        h.createQuery(
            "SELECT device_id, app, desired_revision, running_revision, phase, reason,"
                + " render_error, desired_since, reported_at FROM device_apps WHERE not_placed IS"
                + " NULL"
                + (ids.isPresent() ? " AND device_id IN (<ids>)" : ""));
    ids.ifPresent(list -> q.bindList("ids", List.copyOf(list)));
    return q.map(
            (rs, ctx) -> {
              long reported = rs.getLong(9);
              boolean hasReport = !rs.wasNull();
              return new AppRow(
                  rs.getString(1),
                  rs.getString(2),
                  rs.getString(3),
                  rs.getString(4),
                  rs.getString(5),
                  rs.getString(6),
                  rs.getString(7),
                  Instant.ofEpochMilli(rs.getLong(8)),
                  hasReport ? Instant.ofEpochMilli(reported) : null);
            })
        .list();
  }

  /** What a device reported of an app: its running revision and phase. */
  public record Reported(String deviceId, String app, String running, String phase) {}

  /** Every app a device reported a phase for. */
  public List<Reported> reported(Handle h) {
    return h.createQuery(
            "SELECT device_id, app, running_revision, phase FROM device_apps"
                + " WHERE phase IS NOT NULL")
        .map(
            (rs, ctx) ->
                new Reported(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4)))
        .list();
  }

  /** The names of the apps a device should run. */
  public List<String> appNames(Handle h, String deviceId) {
    return h.createQuery("SELECT app FROM device_apps WHERE device_id = :d")
        .bind("d", deviceId)
        .mapTo(String.class)
        .list();
  }

  /**
   * When each of these devices' desired-state document last changed (all devices when empty), in
   * epoch milliseconds, by device id.
   */
  public Map<String, Long> documentTimes(Handle h, Optional<Collection<String>> ids) {
    var q =
        h.createQuery(
            "SELECT device_id, updated_at FROM device_desired"
                + (ids.isPresent() ? " WHERE device_id IN (<ids>)" : ""));
    ids.ifPresent(list -> q.bindList("ids", List.copyOf(list)));
    Map<String, Long> out = new HashMap<>();
    q.map((rs, ctx) -> Map.entry(rs.getString(1), rs.getLong(2)))
        .forEach(e -> out.put(e.getKey(), e.getValue()));
    return out;
  }
}
