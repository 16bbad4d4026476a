package io.edgefleet.controller.devices;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.statement.PreparedBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who is connected and when each device was last heard, kept in memory. Heartbeats only touch
 * memory; {@link #flush()} writes the changed rows in one batch, so the database sees one statement
 * per flush interval rather than one per heartbeat. Thread-safe.
 *
 * <p>Several controller replicas on one database share presence: each flushes the devices whose
 * connections it holds, naming itself as their holder, and {@link #refresh()} reads what the others
 * wrote since its previous read. A device held by another replica then shows as connected here,
 * with the time that replica last heard from it, so the leader judges rollouts and alerts on the
 * whole fleet. A row is only ever replaced by news at least as new: a replica that lost a device to
 * another one cannot write it back as disconnected.
 */
public final class Presence {
  private static final Logger LOG = LoggerFactory.getLogger(Presence.class);

  /**
   * Rows written this long before the previous read are read again: a flush that committed late
   * (its transaction began before the read) is not missed, and clocks of replicas may differ a
   * little.
   */
  static final Duration REREAD = Duration.ofSeconds(10);

  private final Jdbi jdbi;
  private final Clock clock;
  private final String replica;
  private final boolean shared;
  private final Duration lag;
  private final Map<String, Entry> entries = new ConcurrentHashMap<>();
  private volatile long readThrough = -1;

  /**
   * What is known about one device's link.
   *
   * @param staleBy how much older than the truth {@code lastSeen} may be: zero for a device
   *     connected here, the flush and read intervals for one another replica holds
   */
  public record Snapshot(
      Optional<Instant> lastSeen,
      boolean connected,
      Optional<Instant> disconnectedAt,
      Duration staleBy) {
    public Snapshot(
        Optional<Instant> lastSeen, boolean connected, Optional<Instant> disconnectedAt) {
      this(lastSeen, connected, disconnectedAt, Duration.ZERO);
    }
  }

  private static final class Entry {
    volatile long lastSeen;
    volatile boolean connected;
    volatile long disconnectedAt;

    /** When the connection this entry speaks of was opened (0: unknown). */
    volatile long connectedAt;

    /** The other replica that holds the connection, or null. */
    volatile String elsewhere;

    /** What the last flush wrote (or a refresh read): unchanged entries are not written again. */
    volatile long flushedSeen;

    volatile boolean flushedConnected;
  }

  /** Presence of a single controller process (the embedded SQLite default). */
  public Presence(Jdbi jdbi, Clock clock) {
    this(jdbi, clock, "local", false, Duration.ZERO);
  }

  /**
   * @param replica this replica's name, written as the holder of the devices connected here
   * @param shared whether other replicas share the database (then {@link #refresh()} reads theirs)
   * @param interval how often every replica flushes and reads: a last-seen time read from another
   *     replica may be this much older than the truth, twice over
   */
  public Presence(Jdbi jdbi, Clock clock, String replica, boolean shared, Duration interval) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.replica = replica;
    this.shared = shared;
    this.lag = interval.multipliedBy(2).plusSeconds(1);
  }

  /**
   * Loads the stored values, so a restarted controller still knows when devices were seen; with
   * replicas, also which devices the others hold.
   */
  public void load() {
    if (shared) {
      refresh();
      return;
    }
    jdbi.useHandle(
        h ->
            h.createQuery("SELECT device_id, last_seen FROM device_presence")
                .map((rs, ctx) -> Map.entry(rs.getString(1), rs.getLong(2)))
                .forEach(
                    e -> {
                      Entry entry = entries.computeIfAbsent(e.getKey(), k -> new Entry());
                      entry.lastSeen = Math.max(entry.lastSeen, e.getValue());
                      entry.flushedSeen = entry.lastSeen;
                    }));
  }

  public void connected(String deviceId) {
    Entry e = entries.computeIfAbsent(deviceId, k -> new Entry());
    long now = clock.millis();
    e.connected = true;
    e.elsewhere = null;
    e.connectedAt = Math.max(now, e.connectedAt + 1);
    e.lastSeen = now;
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
    boolean elsewhere = !e.connected && e.elsewhere != null;
    return new Snapshot(
        e.lastSeen == 0 ? Optional.empty() : Optional.of(Instant.ofEpochMilli(e.lastSeen)),
        e.connected || elsewhere,
        e.disconnectedAt == 0
            ? Optional.empty()
            : Optional.of(Instant.ofEpochMilli(e.disconnectedAt)),
        elsewhere ? lag : Duration.ZERO);
  }

  /**
   * The replica that holds the device's connection as far as this one knows: this replica's name
   * when the socket is here, another's as of its last flush, empty when none does.
   */
  public Optional<String> holder(String deviceId) {
    Entry e = entries.get(deviceId);
    if (e == null) {
      return Optional.empty();
    }
    return e.connected ? Optional.of(replica) : Optional.ofNullable(e.elsewhere);
  }

  /** This replica's name. */
  public String replica() {
    return replica;
  }

  /** Connections held by this replica. */
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
   * Writes every device whose last-seen time or connection changed here since the previous flush,
   * in one batch. A row that another replica wrote with newer news is left as it is.
   *
   * @return how many rows were written
   */
  public int flush() {
    record Dirty(String id, long seen, boolean connected, long disconnectedAt, long connectedAt) {}
    List<Dirty> dirty = new ArrayList<>();
    entries.forEach(
        (id, e) -> {
          long seen = e.lastSeen;
          boolean connected = e.connected;
          if (seen != e.flushedSeen || connected != e.flushedConnected) {
            dirty.add(new Dirty(id, seen, connected, e.disconnectedAt, e.connectedAt));
          }
        });
    if (dirty.isEmpty()) {
      return 0;
    }
    long now = clock.millis();
    try {
      jdbi.useTransaction(
          h -> {
            PreparedBatch batch =
                h.prepareBatch(
                    "INSERT INTO device_presence (device_id, last_seen, replica,"
                        + " disconnected_at, connected_at, written_at)"
                        + " VALUES (:id, :seen, :replica, :disconnected, :connectedAt, :now)"
                        + " ON CONFLICT (device_id) DO UPDATE SET last_seen = excluded.last_seen,"
                        + " replica = excluded.replica,"
                        + " disconnected_at = excluded.disconnected_at,"
                        + " connected_at = excluded.connected_at,"
                        + " written_at = excluded.written_at"
                        // A newer connection wins; news of the same connection wins when newer.
                        + " WHERE device_presence.connected_at < excluded.connected_at"
                        + " OR (device_presence.connected_at = excluded.connected_at"
                        + " AND device_presence.last_seen <= excluded.last_seen)");
            for (Dirty d : dirty) {
              batch
                  .bind("id", d.id())
                  .bind("seen", d.seen())
                  .bind("replica", d.connected() ? replica : null)
                  .bind("disconnected", d.disconnectedAt() == 0 ? null : d.disconnectedAt())
                  .bind("connectedAt", d.connectedAt())
                  .bind("now", now)
                  .add();
            }
            batch.execute();
          });
    } catch (RuntimeException ex) {
      LOG.warn("presence flush of {} devices failed; will retry: {}", dirty.size(), ex.toString());
      return 0;
    }
    for (Dirty d : dirty) {
      Entry e = entries.get(d.id());
      if (e != null) {
        e.flushedSeen = d.seen();
        e.flushedConnected = d.connected();
      }
    }
    return dirty.size();
  }

  /**
   * Reads what other replicas wrote since the previous read (a little before it: see {@link
   * #REREAD}). Devices connected here keep what this replica knows. Does nothing for a single
   * process.
   *
   * @return how many rows changed what this replica knows
   */
  public int refresh() {
    if (!shared) {
      return 0;
    }
    long started = clock.millis();
    long since = readThrough < 0 ? Long.MIN_VALUE : readThrough - REREAD.toMillis();
    record Row(String id, long seen, String holder, long disconnectedAt, long connectedAt) {}
    List<Row> rows;
    try {
      rows =
          jdbi.withHandle(
              h ->
                  h.createQuery(
                          "SELECT device_id, last_seen, replica, disconnected_at, connected_at"
                              + " FROM device_presence WHERE written_at > :since")
                      .bind("since", since)
                      .map(
                          (rs, ctx) ->
                              new Row(
                                  rs.getString(1),
                                  rs.getLong(2),
                                  rs.getString(3),
                                  rs.getLong(4),
                                  rs.getLong(5)))
                      .list());
    } catch (RuntimeException ex) {
      LOG.warn("reading the other replicas' presence failed; will retry: {}", ex.toString());
      return 0;
    }
    int changed = 0;
    for (Row r : rows) {
      Entry e = entries.computeIfAbsent(r.id(), k -> new Entry());
      if (e.connected || replica.equals(r.holder())) {
        continue;
      }
      boolean newerConnection = r.connectedAt() > e.connectedAt;
      if (!newerConnection && (r.connectedAt() < e.connectedAt || r.seen() < e.lastSeen)) {
        continue;
      }
      String before = e.elsewhere;
      boolean news =
          newerConnection || r.seen() > e.lastSeen || r.disconnectedAt() > e.disconnectedAt;
      e.lastSeen = Math.max(e.lastSeen, r.seen());
      e.connectedAt = r.connectedAt();
      // The close of an older connection says nothing of the one open now.
      e.disconnectedAt =
          r.holder() != null && newerConnection
              ? 0
              : Math.max(e.disconnectedAt, r.disconnectedAt());
      e.elsewhere = r.holder();
      e.flushedSeen = e.lastSeen;
      e.flushedConnected = false;
      if (news || !Objects.equals(before, e.elsewhere)) {
        changed++;
      }
    }
    readThrough = started;
    return changed;
  }
}
