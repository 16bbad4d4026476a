package io.edgefleet.controller.agentreleases;

import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AgentRelease;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What devices report of their agent slots ({@link AgentMessage.AgentSlots}): the active slot, both
 * slots' versions and the last update with its phase. A report is checked and queued on the
 * socket's thread and written by one worker thread (the latest report of a device wins), so a slow
 * database never holds a device's connection. A report of an update rolled back or refused is also
 * recorded as a warning event of the device. Thread-safe.
 */
public final class AgentSlotReports implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AgentSlotReports.class);
  private static final Set<String> PHASES =
      Set.of(
          AgentMessage.AgentUpdate.DOWNLOADING,
          AgentMessage.AgentUpdate.STAGED,
          AgentMessage.AgentUpdate.TRIAL,
          AgentMessage.AgentUpdate.CONFIRMED,
          AgentMessage.AgentUpdate.ROLLED_BACK,
          AgentMessage.AgentUpdate.REFUSED);
  private static final int MAX_REASON = 1000;

  /** Where failed updates are told as device events. */
  @FunctionalInterface
  public interface UpdateEvents {
    UpdateEvents NONE = (device, at, kind, message) -> {};

    void warning(String deviceId, long at, String kind, String message);
  }

  /** A device's slots as stored. */
  public record Slots(
      String deviceId,
      String active,
      String slotA,
      String slotB,
      String updateVersion,
      String updatePhase,
      String updateReason,
      Long updateBytes,
      Long updateTotal,
      Instant updateAt,
      Instant reportedAt) {
    /** The version in the active slot, or null. */
    public String activeVersion() {
      if ("a".equals(active)) {
        return slotA;
      }
      if ("b".equals(active)) {
        return slotB;
      }
      return null;
    }
  }

  private final Jdbi jdbi;
  private final Clock clock;
  private final UpdateEvents events;
  private final Map<String, AgentMessage.AgentSlots> pending = new ConcurrentHashMap<>();
  private final AtomicBoolean scheduled = new AtomicBoolean();
  private final ExecutorService writer;
  private final List<Runnable> listeners;
  private volatile Map<String, Slots> cache;

  /**
   * @param written called (on the writer thread) after reports were stored, e.g. so that rollouts
   *     judge them
   */
  public AgentSlotReports(Jdbi jdbi, Clock clock, UpdateEvents events, List<Runnable> written) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.events = events;
    this.listeners = List.copyOf(written);
    this.writer =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "agent-slot-reports");
              t.setDaemon(true);
              return t;
            });
    this.cache = load();
  }

  /**
   * Takes a device's report; called on the socket's thread, never blocks.
   *
   * @throws IllegalArgumentException when the report is out of shape (the gateway counts it)
   */
  public void report(String deviceId, AgentMessage.AgentSlots slots) {
    String problem = problem(slots);
    if (problem != null) {
      throw new IllegalArgumentException("agent slots report refused: " + problem);
    }
    pending.put(deviceId, slots);
    if (scheduled.compareAndSet(false, true)) {
      try {
        writer.execute(this::drain);
      } catch (RejectedExecutionException e) {
        scheduled.set(false);
      }
    }
  }

  /** Why a report cannot be stored, or null. */
  static String problem(AgentMessage.AgentSlots s) {
    if (s.active() != null && !s.active().equals("a") && !s.active().equals("b")) {
      return "active must be a or b";
    }
    if (!version(s.slotA()) || !version(s.slotB())) {
      return "a slot version is not a version";
    }
    AgentMessage.AgentUpdate u = s.update();
    if (u != null) {
      if (u.version() == null || !version(u.version())) {
        return "the update names no valid version";
      }
      if (u.phase() == null || !PHASES.contains(u.phase())) {
        return "unknown update phase " + u.phase();
      }
      if (u.bytes() < 0 || u.total() < 0) {
        return "negative byte counts";
      }
    }
    return null;
  }

  private static boolean version(String v) {
    return v == null || AgentRelease.VERSION.matcher(v).matches();
  }

  private void drain() {
    try {
      while (!pending.isEmpty()) {
        Map<String, AgentMessage.AgentSlots> batch = new HashMap<>();
        for (String id : List.copyOf(pending.keySet())) {
          AgentMessage.AgentSlots s = pending.remove(id);
          if (s != null) {
            batch.put(id, s);
          }
        }
        write(batch);
      }
    } catch (RuntimeException e) {
      LOG.warn("agent slot reports could not be stored: {}", e.toString());
    } finally {
      scheduled.set(false);
      if (!pending.isEmpty() && scheduled.compareAndSet(false, true)) {
        try {
          writer.execute(this::drain);
        } catch (RejectedExecutionException e) {
          scheduled.set(false);
        }
      }
    }
  }

  private void write(Map<String, AgentMessage.AgentSlots> batch) {
    long now = clock.millis();
    Map<String, Slots> before = cache;
    List<String[]> warnings = new ArrayList<>();
    jdbi.useTransaction(
        h -> {
          for (Map.Entry<String, AgentMessage.AgentSlots> e : batch.entrySet()) {
            upsert(h, e.getKey(), e.getValue(), now);
            AgentMessage.AgentUpdate u = e.getValue().update();
            Slots old = before.get(e.getKey());
            if (u != null
                && (u.phase().equals(AgentMessage.AgentUpdate.ROLLED_BACK)
                    || u.phase().equals(AgentMessage.AgentUpdate.REFUSED))
                && (old == null
                    || !u.phase().equals(old.updatePhase())
                    || !u.version().equals(old.updateVersion())
                    || !Objects.equals(at(u), old.updateAt()))) {
              warnings.add(
                  new String[] {
                    e.getKey(),
                    u.phase(),
                    "agent update to "
                        + u.version()
                        + (u.phase().equals(AgentMessage.AgentUpdate.REFUSED)
                            ? " refused"
                            : " rolled back")
                        + (u.reason() == null ? "" : ": " + trim(u.reason()))
                  });
            }
          }
        });
    Map<String, Slots> after = new HashMap<>(before);
    batch.forEach((id, slots) -> after.put(id, slots(id, slots, now)));
    cache = Map.copyOf(after);
    for (String[] w : warnings) {
      try {
        events.warning(w[0], now, "agent-update-" + w[1], w[2]);
      } catch (RuntimeException e) {
        LOG.warn("agent update event for {} not recorded: {}", w[0], e.toString());
      }
    }
    for (Runnable l : listeners) {
      try {
        l.run();
      } catch (RuntimeException e) {
        LOG.warn("agent slot listener failed: {}", e.toString());
      }
    }
  }

  private static Slots slots(String id, AgentMessage.AgentSlots s, long now) {
    AgentMessage.AgentUpdate u = s.update();
    return new Slots(
        id,
        s.active(),
        s.slotA(),
        s.slotB(),
        u == null ? null : u.version(),
        u == null ? null : u.phase(),
        u == null || u.reason() == null ? null : trim(u.reason()),
        u == null ? null : u.bytes(),
        u == null ? null : u.total(),
        u == null ? null : at(u),
        Instant.ofEpochMilli(now));
  }

  private static Instant at(AgentMessage.AgentUpdate u) {
    return u.at() == null ? null : Instant.ofEpochMilli(u.at().toEpochMilli());
  }

  private static String trim(String s) {
    return s.length() <= MAX_REASON ? s : s.substring(0, MAX_REASON - 1) + "…";
  }

  private static void upsert(Handle h, String deviceId, AgentMessage.AgentSlots s, long now) {
    int n =
        bound(
                h.createUpdate(
                    "UPDATE agent_slot_reports SET active = :active, slot_a = :a, slot_b = :b,"
                        + " update_version = :uv, update_phase = :up, update_reason = :ur,"
                        + " update_bytes = :ub, update_total = :ut, update_at = :uat, reported_at"
                        + " = :now WHERE device_id = :d"),
                deviceId,
                s,
                now)
            .execute();
    if (n == 0) {
      bound(
              h.createUpdate(
                  "INSERT INTO agent_slot_reports (device_id, active, slot_a, slot_b,"
                      + " update_version, update_phase, update_reason, update_bytes, update_total,"
                      + " update_at, reported_at) VALUES (:d, :active, :a, :b, :uv, :up, :ur, :ub,"
                      + " :ut, :uat, :now)"),
              deviceId,
              s,
              now)
          .execute();
    }
  }

  /** {@code q} with a report's values bound to the names both statements of upsert use. */
  private static org.jdbi.v3.core.statement.Update bound(
      org.jdbi.v3.core.statement.Update q, String deviceId, AgentMessage.AgentSlots s, long now) {
    AgentMessage.AgentUpdate u = s.update();
    return q.bind("d", deviceId)
        .bind("active", s.active())
        .bind("a", s.slotA())
        .bind("b", s.slotB())
        .bind("uv", u == null ? null : u.version())
        .bind("up", u == null ? null : u.phase())
        .bind("ur", u == null || u.reason() == null ? null : trim(u.reason()))
        .bind("ub", u == null ? null : u.bytes())
        .bind("ut", u == null ? null : u.total())
        .bind("uat", u == null || u.at() == null ? null : u.at().toEpochMilli())
        .bind("now", now);
  }

  /** The stored slots of a device. */
  public Optional<Slots> of(String deviceId) {
    return Optional.ofNullable(cache.get(deviceId));
  }

  /** Every device's stored slots. */
  public Map<String, Slots> all() {
    return cache;
  }

  private Map<String, Slots> load() {
    Map<String, Slots> out = new HashMap<>();
    jdbi.useHandle(
        h ->
            h.createQuery(
                    "SELECT device_id, active, slot_a, slot_b, update_version, update_phase,"
                        + " update_reason, update_bytes, update_total, update_at, reported_at FROM"
                        + " agent_slot_reports")
                .map(
                    (rs, ctx) ->
                        new Slots(
                            rs.getString(1),
                            rs.getString(2),
                            rs.getString(3),
                            rs.getString(4),
                            rs.getString(5),
                            rs.getString(6),
                            rs.getString(7),
                            nullableLong(rs, 8),
                            nullableLong(rs, 9),
                            Optional.ofNullable(nullableLong(rs, 10))
                                .map(Instant::ofEpochMilli)
                                .orElse(null),
                            Instant.ofEpochMilli(rs.getLong(11))))
                .forEach(s -> out.put(s.deviceId(), s)));
    return Map.copyOf(out);
  }

  private static Long nullableLong(java.sql.ResultSet rs, int column) throws java.sql.SQLException {
    long v = rs.getLong(column);
    return rs.wasNull() ? null : v;
  }

  @Override
  public void close() {
    writer.shutdown();
  }
}
