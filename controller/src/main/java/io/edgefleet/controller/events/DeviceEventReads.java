package io.edgefleet.controller.events;

import java.time.Instant;
import java.util.List;
import org.jdbi.v3.core.Jdbi;

/** Reads of {@code device_events} for other packages. Thread-safe. */
public final class DeviceEventReads {
  /**
   * An event a device reported, or the controller recorded about it.
   *
   * @param deviceAt the time the device claimed when the controller did not believe it; {@code at}
   *     is then when the event arrived
   */
  public record Recorded(
      String id, String deviceId, Instant at, String kind, String message, Instant deviceAt) {}

  /** An event of one kind about one app on one device. */
  public record AppEvent(String deviceId, String app, Instant at, String message) {}

  private final Jdbi jdbi;

  public DeviceEventReads(Jdbi jdbi) {
    this.jdbi = jdbi;
  }

  /** The device's newest events, newest first (by {@code at}, then id). */
  public List<Recorded> newest(String deviceId, int limit) {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT id, device_id, at, kind, message, device_at FROM device_events WHERE"
                        + " device_id = :d ORDER BY at DESC, id DESC LIMIT :limit")
                .bind("d", deviceId)
                .bind("limit", limit)
                .map(
                    (rs, ctx) -> {
                      String id = rs.getString(1);
                      String device = rs.getString(2);
                      long at = rs.getLong(3);
                      String kind = rs.getString(4);
                      String message = rs.getString(5);
                      long deviceAt = rs.getLong(6);
                      return new Recorded(
                          id,
                          device,
                          Instant.ofEpochMilli(at),
                          kind,
                          message,
                          rs.wasNull() ? null : Instant.ofEpochMilli(deviceAt));
                    })
                .list());
  }

  /** The newest events of {@code kind} of one app since {@code since}, newest first. */
  public List<AppEvent> ofKindByApp(String kind, String app, Instant since, int limit) {
    return ofKind(kind, "app = :v", app, since, limit);
  }

  /** The newest events of {@code kind} of one device since {@code since}, newest first. */
  public List<AppEvent> ofKindByDevice(String kind, String deviceId, Instant since, int limit) {
    return ofKind(kind, "device_id = :v", deviceId, since, limit);
  }

  private List<AppEvent> ofKind(String kind, String where, String value, Instant since, int limit) {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT device_id, app, at, message FROM device_events WHERE kind = :k AND "
                        + where
                        + " AND at >= :since ORDER BY at DESC LIMIT :limit")
                .bind("k", kind)
                .bind("v", value)
                .bind("since", since.toEpochMilli())
                .bind("limit", limit)
                .map(
                    (rs, ctx) ->
                        new AppEvent(
                            rs.getString(1),
                            rs.getString(2),
                            Instant.ofEpochMilli(rs.getLong(3)),
                            rs.getString(4)))
                .list());
  }
}
