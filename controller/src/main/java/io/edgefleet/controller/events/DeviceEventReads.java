package io.edgefleet.controller.events;

import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
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

  /** An event as stored, with when the controller recorded it. */
  public record Stored(String deviceId, String kind, String message, long at, long recorded) {}

  /**
   * The events whose kind starts with {@code kindPrefix} of these devices (all when empty) that
   * happened at or after {@code since} (epoch milliseconds), inside the caller's handle.
   */
  public static List<Stored> byKindPrefix(
      Handle h, String kindPrefix, Optional<Collection<String>> ids, long since) {
    var q =
        h.createQuery(
                "SELECT device_id, kind, message, at, COALESCE(received_at, at) FROM device_events"
                    + " WHERE kind LIKE :kinds AND at >= :since"
                    + (ids.isPresent() ? " AND device_id IN (<ids>)" : ""))
            .bind("kinds", kindPrefix + "%")
            .bind("since", since);
    ids.ifPresent(list -> q.bindList("ids", List.copyOf(list)));
    return q.map(
            (rs, ctx) ->
                new Stored(
                    rs.getString(1),
                    rs.getString(2),
                    rs.getString(3),
                    rs.getLong(4),
                    rs.getLong(5)))
        .list();
  }
}
