package io.edgefleet.controller.devices;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.statement.PreparedBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who is connected and when each device was last heard, kept in memory. Heartbeats only touch
 * memory; {@link #flush()} writes the changed {@code last_seen} values in one batch, so the
 * database sees one statement per flush interval rather than one per heartbeat. Thread-safe.
 */
public final class Presence {
  private static final Logger LOG = LoggerFactory.getLogger(Presence.class);

  private final Jdbi jdbi;
  private final Clock clock;
  private final Map<String, Entry> entries = new ConcurrentHashMap<>();

  /** What is known about one device's link. */
  public record Snapshot(
      Optional<Instant> lastSeen, boolean connected, Optional<Instant> disconnectedAt) {}

  private static final class Entry {
    volatile long lastSeen;
    volatile long flushed;
    volatile boolean connected;
    volatile long disconnectedAt;
  }

  public Presence(Jdbi jdbi, Clock clock) {
    this.jdbi = jdbi;
    this.clock = clock;
  }

  /**
   * Loads the last flushed values, so a restarted controller still knows when devices were seen.
   */
  public void load() {
    jdbi.useHandle(
        h ->
            h.createQuery("SELECT device_id, last_seen FROM device_presence")
                .map((rs, ctx) -> Map.entry(rs.getString(1), rs.getLong(2)))
                .forEach(
                    e -> {
                      Entry entry = entries.computeIfAbsent(e.getKey(), k -> new Entry());
                      entry.lastSeen = Math.max(entry.lastSeen, e.getValue());
                      entry.flushed = entry.lastSeen;
                    }));
  }

  public void connected(String deviceId) {
    Entry e = entries.computeIfAbsent(deviceId, k -> new Entry());
    e.connected = true;
    e.lastSeen = clock.millis();
  }

  public void heartbeat(String deviceId) {
    entries.computeIfAbsent(deviceId, k -> new Entry()).lastSeen = clock.millis();
  }

  public void disconnected(String deviceId) {
    Entry e = entries.get(deviceId);
    if (e != null) {
      e.connected = false;
      e.disconnectedAt = clock.millis();
    }
  }

  public void forget(String deviceId) {
    entries.remove(deviceId);
  }

  public Snapshot snapshot(String deviceId) {
    Entry e = entries.get(deviceId);
    if (e == null) {
      return new Snapshot(Optional.empty(), false, Optional.empty());
    }
    return new Snapshot(
        e.lastSeen == 0 ? Optional.empty() : Optional.of(Instant.ofEpochMilli(e.lastSeen)),
        e.connected,
        e.disconnectedAt == 0
            ? Optional.empty()
            : Optional.of(Instant.ofEpochMilli(e.disconnectedAt)));
  }

  public int connectedCount() {
    int n = 0;
    for (Entry e : entries.values()) {
      if (e.connected) {
        n++;
      }
    }
    return n;
  }

  /**
   * Writes every {@code last_seen} that changed since the previous flush, in one batch.
   *
   * @return how many rows were written
   */
  public int flush() {
    List<Map.Entry<String, Long>> dirty = new ArrayList<>();
    entries.forEach(
        (id, e) -> {
          long seen = e.lastSeen;
          if (seen != e.flushed) {
            dirty.add(Map.entry(id, seen));
          }
        });
    if (dirty.isEmpty()) {
      return 0;
    }
    try {
      jdbi.useTransaction(
          h -> {
            PreparedBatch batch =
                h.prepareBatch(
                    "INSERT INTO device_presence (device_id, last_seen) VALUES (:id, :seen)"
                        + " ON CONFLICT (device_id) DO UPDATE SET last_seen = excluded.last_seen");
            for (Map.Entry<String, Long> d : dirty) {
              batch.bind("id", d.getKey()).bind("seen", d.getValue()).add();
            }
            batch.execute();
          });
    } catch (RuntimeException ex) {
      LOG.warn("presence flush of {} devices failed; will retry: {}", dirty.size(), ex.toString());
      return 0;
    }
    for (Map.Entry<String, Long> d : dirty) {
      Entry e = entries.get(d.getKey());
      if (e != null) {
        e.flushed = d.getValue();
      }
    }
    return dirty.size();
  }
}
