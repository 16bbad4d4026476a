package io.edgefleet.controller.desired;

import java.util.HashMap;
import java.util.Map;
import org.jdbi.v3.core.Handle;

/**
 * Reads of {@code device_apps} for other packages, inside the caller's handle (and so its
 * transaction).
 */
public final class DeviceAppReads {
  /** What a device was told to run of an app: revision, bundle and commit (may be null). */
  public record Entry(String revision, String bundle, String commit) {}

  /** How one app stands on one device: what it should run and what it reports. */
  public record Report(
      String desiredRevision, String running, String phase, String reason, String renderError) {}

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

  /** How the app stands on every device it is desired on, by device id (one indexed read). */
  public Map<String, Report> reports(Handle h, String app) {
    Map<String, Report> out = new HashMap<>();
    h.createQuery(
            "SELECT device_id, desired_revision, running_revision, phase, reason, render_error"
                + " FROM device_apps WHERE app = :a")
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
                        rs.getString(6))))
        .forEach(e -> out.put(e.getKey(), e.getValue()));
    return out;
  }
}
