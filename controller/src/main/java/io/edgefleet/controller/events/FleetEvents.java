package io.edgefleet.controller.events;

import io.edgefleet.controller.common.Ids;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.statement.PreparedBatch;

/**
 * Writes {@code fleet_events}: what the controller concluded about a device (its health changed, an
 * app's reported state changed), read back by the {@link EventLog}. A batch runs inside the
 * caller's handle, and so its transaction.
 */
public final class FleetEvents {
  private final PreparedBatch batch;
  private final String source;
  private int size;

  private FleetEvents(PreparedBatch batch, String source) {
    this.batch = batch;
    this.source = source;
  }

  /** A batch of events from {@code source} ({@code health}, {@code app}). */
  public static FleetEvents batch(Handle h, String source) {
    return new FleetEvents(
        h.prepareBatch(
            "INSERT INTO fleet_events (id, device_id, source, at, kind, severity, app,"
                + " message) VALUES (:id, :d, :source, :at, :kind, :severity, :app,"
                + " :message)"),
        source);
  }

  /** Adds one event; {@code app} may be null. */
  public void add(
      String deviceId, long at, String kind, String severity, String app, String message) {
    batch
        .bind("id", Ids.next("fev"))
        .bind("d", deviceId)
        .bind("source", source)
        .bind("at", at)
        .bind("kind", kind)
        .bind("severity", severity)
        .bind("app", app)
        .bind("message", message)
        .add();
    size++;
  }

  /** Stores the events added, if any. */
  public void store() {
    if (size > 0) {
      batch.execute();
    }
  }
}
