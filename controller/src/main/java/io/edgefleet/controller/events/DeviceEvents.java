package io.edgefleet.controller.events;

import io.edgefleet.controller.common.Ids;
import io.edgefleet.controller.common.Lru;
import io.edgefleet.controller.common.TokenBucket;
import io.edgefleet.protocol.AgentMessage;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.statement.PreparedBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a device may add to the event log, and where in time it goes.
 *
 * <p><b>Time.</b> A device's time for an event is believed when it lies between {@link
 * EventLimits#retention()} before the moment the event arrived (devices keep events in their outbox
 * through outages and deliver them late) and {@link EventLimits#maxAhead()} after it. Otherwise the
 * event is placed at the time it arrived and keeps the device's claim as {@code deviceAt}, so a
 * wrong or forged clock can neither pin an event at the top of every listing nor hide it before the
 * start of the log.
 *
 * <p><b>Rate.</b> Each device has an allowance of {@link EventLimits#burst()} events that refills
 * at {@link EventLimits#perMinute()} a minute; events it reports live beyond it are dropped and
 * counted, records of its outbox beyond it are not acknowledged, so the device keeps them and sends
 * them again later. {@link #flush()} records what was dropped and held back as one {@value
 * #RATE_KIND} event per device and minute at most. Allowances of at most {@value #MAX_DEVICES}
 * devices are kept (the least recently active go first and start full again).
 *
 * <p>Thread-safe.
 */
public final class DeviceEvents {
  private static final Logger LOG = LoggerFactory.getLogger(DeviceEvents.class);

  /** Kind of the event that records a device went over its allowance. */
  public static final String RATE_KIND = "event-rate-exceeded";

  /** Allowances kept in memory at most. */
  public static final int MAX_DEVICES = 100_000;

  /** Longest kind and message of an event a device reports live; longer ones are cut. */
  static final int MAX_KIND = 100;

  static final int MAX_MESSAGE = 2000;

  private final Jdbi jdbi;
  private final Clock clock;
  private final EventLimits limits;
  private final Lru<String, Allowance> allowances = Lru.ofEntries(MAX_DEVICES);
  // Guarded by this: devices over their allowance since the last flush.
  private final Map<String, Excess> excess = new HashMap<>();
  private final LongAdder dropped = new LongAdder();
  private final LongAdder heldBack = new LongAdder();
  private final LongAdder skewed = new LongAdder();

  /**
   * Where an event goes in time.
   *
   * @param at the time it happened, as far as the controller believes
   * @param deviceAt the time the device claimed when it was not believed; null when it was
   */
  public record Placement(Instant at, Instant deviceAt) {}

  public DeviceEvents(Jdbi jdbi, Clock clock, EventLimits limits) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.limits = limits;
  }

  public EventLimits limits() {
    return limits;
  }

  /** Where an event a device dated {@code claimed} (null: undated) and that arrived now goes. */
  public Placement place(Instant claimed, Instant arrived) {
    if (claimed == null) {
      return new Placement(arrived, null);
    }
    if (claimed.isAfter(arrived.plus(limits.maxAhead()))
        || claimed.isBefore(arrived.minus(limits.retention()))) {
      skewed.increment();
      return new Placement(arrived, claimed);
    }
    return new Placement(claimed, null);
  }

  /**
   * Takes one event from the device's allowance; when it is used up, returns false and counts the
   * event as dropped.
   */
  public boolean admit(String deviceId) {
    long now = clock.millis();
    synchronized (this) {
      if (allowance(deviceId, now).take(now)) {
        return true;
      }
      excess(deviceId, now).dropped++;
    }
    dropped.increment();
    return false;
  }

  /**
   * How many of these outbox records (events and loss records, by ascending seq) the device's
   * allowance takes, in order; the rest are held back: the device keeps them and sends them again.
   * A record held back again after a resend is counted once.
   */
  public int admitOutbox(String deviceId, long[] seqs) {
    if (seqs.length == 0) {
      return 0;
    }
    long now = clock.millis();
    int taken = 0;
    long newlyHeld = 0;
    synchronized (this) {
      Allowance a = allowance(deviceId, now);
      while (taken < seqs.length && a.take(now)) {
        taken++;
      }
      if (taken < seqs.length) {
        for (int i = taken; i < seqs.length; i++) {
          if (seqs[i] > a.heldUpTo) {
            newlyHeld++;
          }
        }
        a.heldUpTo = Math.max(a.heldUpTo, seqs[seqs.length - 1]);
        if (newlyHeld > 0) {
          excess(deviceId, now).heldBack += newlyHeld;
        }
      }
    }
    heldBack.add(newlyHeld);
    return taken;
  }

  /**
   * Stores an event a device reported live (not through its outbox), placed in time and within its
   * allowance; events without a kind or message are ignored, long ones are cut.
   *
   * @return whether it was stored
   */
  public boolean record(String deviceId, AgentMessage.Event event) {
    if (event.kind() == null || event.message() == null) {
      return false;
    }
    if (!admit(deviceId)) {
      return false;
    }
    Instant now = clock.instant();
    Placement p = place(event.at(), now);
    jdbi.useHandle(
        h ->
            h.createUpdate(
                    "INSERT INTO device_events (id, device_id, at, kind, message, received_at,"
                        + " device_at) VALUES (:id, :d, :at, :kind, :msg, :now, :deviceAt)")
                .bind("id", Ids.next("evt"))
                .bind("d", deviceId)
                .bind("at", p.at().toEpochMilli())
                .bind("kind", cut(event.kind(), MAX_KIND))
                .bind("msg", cut(event.message(), MAX_MESSAGE))
                .bind("now", now.toEpochMilli())
                .bind("deviceAt", p.deviceAt() == null ? null : p.deviceAt().toEpochMilli())
                .execute());
    return true;
  }

  /**
   * Starts a batch of events and loss records drained from a device's outbox, stored in the
   * caller's transaction once per (device, seq).
   */
  public static OutboxBatch outboxBatch(Handle h) {
    return new OutboxBatch(
        h.prepareBatch(
            "INSERT INTO device_events (id, device_id, at, kind, message, seq, severity,"
                + " app, received_at, device_at) VALUES (:id, :d, :at, :kind, :msg, :seq,"
                + " :sev, :app, :now, :deviceAt) ON CONFLICT (device_id, seq) DO NOTHING"));
  }

  /** Outbox events of one batch, see {@link #outboxBatch}. */
  public static final class OutboxBatch {
    private final PreparedBatch batch;

    private OutboxBatch(PreparedBatch batch) {
      this.batch = batch;
    }

    /** Adds one record, placed in time by {@link #place}. */
    public void add(
        String deviceId,
        long seq,
        Placement p,
        String kind,
        String severity,
        String app,
        String message,
        long receivedAt) {
      batch
          .bind("id", Ids.next("evt"))
          .bind("d", deviceId)
          .bind("at", p.at().toEpochMilli())
          .bind("deviceAt", p.deviceAt() == null ? null : p.deviceAt().toEpochMilli())
          .bind("kind", kind)
          .bind("seq", seq)
          .bind("sev", severity)
          .bind("app", app)
          .bind("msg", message)
          .bind("now", receivedAt)
          .add();
    }

    /**
     * Stores the records added.
     *
     * @return how many were new
     */
    public int store() {
      if (batch.size() == 0) {
        return 0;
      }
      int n = 0;
      for (int c : batch.execute()) {
        // Drivers may answer SUCCESS_NO_INFO (-2) for a row they did insert.
        n += c == java.sql.Statement.SUCCESS_NO_INFO ? 1 : Math.max(0, c);
      }
      return n;
    }
  }

  /** Stores a warning the controller raises about a device, outside its allowance. */
  public void recordWarning(String deviceId, long at, String kind, String message) {
    jdbi.useHandle(
        h ->
            h.createUpdate(
                    "INSERT INTO device_events (id, device_id, at, kind, message, severity,"
                        + " received_at) VALUES (:id, :d, :at, :kind, :msg, 'warning', :at)")
                .bind("id", Ids.next("evt"))
                .bind("d", deviceId)
                .bind("at", at)
                .bind("kind", kind)
                .bind("msg", message)
                .execute());
  }

  /**
   * Records one {@value #RATE_KIND} event for each device that went over its allowance since the
   * last flush, counting what was dropped and held back; a device whose events keep coming too fast
   * gets one such event per flush. Called about once a minute.
   *
   * @return how many were recorded
   */
  public int flush() {
    Map<String, Excess> due;
    synchronized (this) {
      if (excess.isEmpty()) {
        return 0;
      }
      due = new HashMap<>(excess);
      excess.clear();
    }
    long now = clock.millis();
    List<String> messages = new ArrayList<>();
    try {
      jdbi.useTransaction(
          h -> {
            PreparedBatch batch =
                h.prepareBatch(
                    "INSERT INTO device_events (id, device_id, at, kind, message, severity,"
                        + " received_at) VALUES (:id, :d, :now, :kind, :msg, 'warning', :now)");
            due.forEach(
                (deviceId, x) -> {
                  String message = message(x);
                  messages.add(deviceId + ": " + message);
                  batch
                      .bind("id", Ids.next("evt"))
                      .bind("d", deviceId)
                      .bind("now", now)
                      .bind("kind", RATE_KIND)
                      .bind("msg", message)
                      .add();
                });
            batch.execute();
          });
    } catch (RuntimeException e) {
      // Kept for the next flush rather than lost.
      synchronized (this) {
        due.forEach((id, x) -> excess.merge(id, x, Excess::plus));
      }
      LOG.warn("events about devices over their event rate not recorded: {}", e.toString());
      return 0;
    }
    messages.forEach(m -> LOG.warn("device {}", m));
    return due.size();
  }

  /** Device events dropped because their device was over its allowance. */
  public long dropped() {
    return dropped.sum();
  }

  /** Outbox records held back (counted once each) because their device was over its allowance. */
  public long heldBack() {
    return heldBack.sum();
  }

  /** Events whose device time was not believed. */
  public long skewed() {
    return skewed.sum();
  }

  private String message(Excess x) {
    StringBuilder sb =
        new StringBuilder("the device reported events faster than allowed (")
            .append(limits.burst())
            .append(" at once, then ")
            .append(limits.perMinute())
            .append(" a minute) since ")
            .append(Instant.ofEpochMilli(x.since))
            .append(':');
    if (x.dropped > 0) {
      sb.append(' ').append(x.dropped).append(x.dropped == 1 ? " event" : " events");
      sb.append(" dropped");
    }
    if (x.heldBack > 0) {
      sb.append(x.dropped > 0 ? ";" : "").append(' ').append(x.heldBack);
      sb.append(x.heldBack == 1 ? " record" : " records");
      sb.append(" held back in its outbox, which sends them again as the allowance refills");
    }
    return sb.toString();
  }

  // Both called with this held.
  private Allowance allowance(String deviceId, long now) {
    Allowance a = allowances.get(deviceId).orElse(null);
    if (a == null) {
      a = new Allowance(limits.burst(), now);
      allowances.put(deviceId, a);
    }
    return a;
  }

  private Excess excess(String deviceId, long now) {
    Excess x = excess.get(deviceId);
    if (x == null) {
      if (excess.size() >= MAX_DEVICES) {
        // Only counted in the totals then; the map stays bounded until the next flush.
        return new Excess(now);
      }
      x = new Excess(now);
      excess.put(deviceId, x);
    }
    return x;
  }

  private static String cut(String s, int max) {
    return s.length() <= max ? s : s.substring(0, max);
  }

  /** One device's bucket of events, and what it held back. Guarded by the owner. */
  private final class Allowance {
    private final TokenBucket bucket;

    /** The highest outbox seq counted as held back, so a resend is not counted again. */
    private long heldUpTo;

    Allowance(int burst, long now) {
      this.bucket = new TokenBucket(burst, now);
    }

    boolean take(long now) {
      return bucket.take(now, limits.burst(), limits.perMinute()) == 0;
    }
  }

  /** What one device had dropped and held back since {@code since}. */
  private static final class Excess {
    private final long since;
    private long dropped;
    private long heldBack;

    Excess(long since) {
      this.since = since;
    }

    Excess plus(Excess other) {
      Excess sum = new Excess(Math.min(since, other.since));
      sum.dropped = dropped + other.dropped;
      sum.heldBack = heldBack + other.heldBack;
      return sum;
    }
  }
}
