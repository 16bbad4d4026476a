package io.edgefleet.controller.desired;

import java.util.List;
import java.util.Objects;
import org.jdbi.v3.core.Jdbi;

/** The apps that fail on their devices, in one query, as alert rules see them. Thread-safe. */
public final class FailedApps {
  private final Jdbi jdbi;

  public FailedApps(Jdbi jdbi) {
    this.jdbi = jdbi;
  }

  /** An app failing on a device, and why. */
  public record Failed(String deviceId, String app, String reason) {}

  /** The failing apps, by device and app. */
  public List<Failed> list() {
    return jdbi.withHandle(
        h ->
            h
                .createQuery(
                    "SELECT device_id, app, phase, reason, render_error, desired_revision,"
                        + " running_revision FROM device_apps WHERE phase = 'FAILED' OR"
                        + " render_error IS NOT NULL ORDER BY device_id, app")
                .map(
                    (rs, ctx) -> {
                      String phase = rs.getString(3);
                      String reason = rs.getString(4);
                      String renderError = rs.getString(5);
                      String desired = rs.getString(6);
                      String running = rs.getString(7);
                      // The same judgement as the app status the API shows: a render error
                      // before anything ran, or FAILED reported for the desired revision.
                      if (renderError != null && running == null) {
                        return new Failed(
                            rs.getString(1),
                            rs.getString(2),
                            "cannot be rendered for this device: " + renderError);
                      }
                      if ("FAILED".equals(phase) && Objects.equals(desired, running)) {
                        return new Failed(rs.getString(1), rs.getString(2), reason);
                      }
                      return null;
                    })
                .list()
                .stream()
                .filter(Objects::nonNull)
                .toList());
  }
}
