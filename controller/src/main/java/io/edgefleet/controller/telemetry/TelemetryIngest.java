package io.edgefleet.controller.telemetry;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.events.DeviceEvents;
import io.edgefleet.controller.events.EventLimits;
import io.edgefleet.controller.gateway.AgentGateway;
import io.edgefleet.protocol.CompactTelemetry;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.Telemetry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.statement.PreparedBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stores what agents drain from their outboxes. Every record is validated on its own: a bad one is
 * skipped, counted and reported as a controller-side event of the device, the rest of its batch is
 * stored. Events and loss records join the device's event log ({@code device_events}), metric
 * summaries go to {@code device_metrics} for a short window ({@link #RETENTION}); both are stored
 * once per (device, seq) however often a device resends them, and each batch is one transaction.
 * The newest summary per device is also kept in memory for cheap reads.
 *
 * <p>Events and loss records are placed in time and take from the device's event allowance by
 * {@link DeviceEvents}: from the first one over the allowance, the rest of the batch is neither
 * stored nor acknowledged, so the device keeps it in its outbox and sends it again later.
 *
 * <p>Batches come as JSON ({@code tel}) or compact binary messages ({@link CompactTelemetry}); both
 * are decoded into the same records and go through the same validation and storage. A compact
 * message that cannot be read is refused as a whole, like a JSON message that is not JSON.
 *
 * <p>Thread-safe: batches of different devices are ingested concurrently on their sockets' threads.
 */
public final class TelemetryIngest implements AgentGateway.TelemetrySink {
  private static final Logger LOG = LoggerFactory.getLogger(TelemetryIngest.class);

  /** How long metric summaries are kept in SQL; Prometheus keeps anything longer. */
  public static final Duration RETENTION = Duration.ofHours(24);

  /** Kind of the event a loss record becomes in the device's event log. */
  public static final String LOSS_KIND = "telemetry-loss";

  /** Kind of the controller-side event recorded when a device's telemetry was refused. */
  public static final String REFUSED_KIND = "telemetry-refused";

  /** At most one refusal event per device in this time; the next one counts the rest. */
  static final Duration REFUSAL_EVENT_EVERY = Duration.ofMinutes(1);

  private static final TypeReference<TreeMap<String, Telemetry.Stat>> STATS =
      new TypeReference<>() {};

  /**
   * Metric names kept once for all connections' decoders (every device of a fleet reports much the
   * same names); beyond this many, a decoder keeps its own copy.
   */
  static final int MAX_SHARED_NAMES = 100_000;

  private final Map<String, String> names = new ConcurrentHashMap<>();

  private final Jdbi jdbi;
  private final Clock clock;
  private final DeviceEvents deviceEvents;
  private final Map<String, Telemetry.Metrics> latest = new ConcurrentHashMap<>();
  private final Map<String, Refusals> refusals = new ConcurrentHashMap<>();
  private final LongAdder batches = new LongAdder();
  private final LongAdder records = new LongAdder();
  private final LongAdder duplicates = new LongAdder();
  private final LongAdder refused = new LongAdder();
  private final LongAdder refusedMessages = new LongAdder();
  private final LongAdder expired = new LongAdder();

  /**
   * One summary of a device's metrics over [{@code from}, {@code at}]; {@code partial} when the
   * window ended early because the agent stopped (omitted from JSON when false).
   */
  public record Summary(
      long seq,
      Instant from,
      Instant at,
      Map<String, Telemetry.Stat> metrics,
      @com.fasterxml.jackson.annotation.JsonInclude(
              com.fasterxml.jackson.annotation.JsonInclude.Include.NON_DEFAULT)
          boolean partial) {
    static Summary of(Telemetry.Metrics m) {
      return new Summary(m.seq(), m.from(), m.at(), new TreeMap<>(m.metrics()), m.partial());
    }
  }

  /**
   * Answer of {@code GET /api/v1/devices/{id}/metrics}: the newest summary (null if none yet) and
   * the summaries of the window asked for, oldest first.
   */
  public record DeviceMetrics(String deviceId, Summary latest, List<Summary> summaries) {}

  /** With the default {@link EventLimits} for device events. */
  public TelemetryIngest(Jdbi jdbi, Clock clock) {
    this(jdbi, clock, new DeviceEvents(jdbi, clock, EventLimits.defaults()));
  }

  public TelemetryIngest(Jdbi jdbi, Clock clock, DeviceEvents deviceEvents) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.deviceEvents = deviceEvents;
  }

  /** Loads the newest stored summary of every device, so a restarted controller knows them. */
  public void load() {
    jdbi.useHandle(
        h ->
            h.createQuery(
                    "SELECT m.device_id, m.seq, m.from_at, m.at, m.metrics, m.partial FROM"
                        + " device_metrics m"
                        + " WHERE m.at = (SELECT MAX(x.at) FROM device_metrics x WHERE"
                        + " x.device_id = m.device_id)")
                .map(
                    (rs, ctx) ->
                        Map.entry(
                            rs.getString(1),
                            new Telemetry.Metrics(
                                rs.getLong(2),
                                Instant.ofEpochMilli(rs.getLong(3)),
                                Instant.ofEpochMilli(rs.getLong(4)),
                                stats(rs.getString(5)),
                                rs.getBoolean(6))))
                .forEach(e -> newest(e.getKey(), e.getValue())));
  }

  @Override
  public long batch(String deviceId, List<Telemetry> batch) {
    return ingest(deviceId, batch, 0);
  }

  /** A decoder for one connection's compact batches, keeping metric names once for all. */
  @Override
  public CompactTelemetry.Decoder decoder() {
    return new CompactTelemetry.Decoder(this::shared);
  }

  private String shared(String name) {
    String kept = names.get(name);
    if (kept != null) {
      return kept;
    }
    if (names.size() >= MAX_SHARED_NAMES) {
      return name;
    }
    kept = names.putIfAbsent(name, name);
    return kept == null ? name : kept;
  }

  @Override
  public long raw(String deviceId, JsonNode array) {
    if (!array.isArray()) {
      refused(deviceId, "a telemetry message without a records array");
      return 0;
    }
    List<Telemetry> good = new ArrayList<>(array.size());
    List<String> problems = new ArrayList<>();
    long upTo = 0;
    for (JsonNode node : array) {
      long seq = node.path("seq").canConvertToExactIntegral() ? node.path("seq").asLong() : 0;
      try {
        good.add(Json.mapper().treeToValue(node, Telemetry.class));
      } catch (IOException | IllegalArgumentException e) {
        problems.add("record " + (seq > 0 ? seq : "?") + ": unreadable: " + firstLine(e));
        if (seq > 0) {
          upTo = Math.max(upTo, seq);
        }
      }
    }
    refused.add(problems.size());
    long acknowledged = ingest(deviceId, good, upTo);
    if (!problems.isEmpty()) {
      refusedEvent(deviceId, problems.size(), problems.getFirst());
    }
    return acknowledged;
  }

  /**
   * Validates, admits and stores a batch; returns the seq to acknowledge, at least {@code
   * unreadableUpTo} (records refused before they could be read) unless records are held back.
   */
  private long ingest(String deviceId, List<Telemetry> batch, long unreadableUpTo) {
    List<Telemetry> good = new ArrayList<>(batch.size());
    List<String> problems = new ArrayList<>();
    long upTo = unreadableUpTo;
    Instant now = clock.instant();
    if (batch.size() > TelemetryValidation.MAX_RECORDS) {
      refusedMessages.increment();
      refused.add(batch.size());
      refusedEvent(
          deviceId,
          batch.size(),
          "a batch may hold " + TelemetryValidation.MAX_RECORDS + " records, got " + batch.size());
      return 0;
    }
    for (Telemetry t : batch) {
      if (t != null && t.seq() > 0) {
        upTo = Math.max(upTo, t.seq());
      }
      Optional<String> problem = TelemetryValidation.problem(t, now);
      if (problem.isPresent()) {
        problems.add((t == null ? "record" : "record " + t.seq()) + ": " + problem.get());
      } else {
        good.add(t);
      }
    }
    // Events take from the device's allowance in the order it recorded them; from the first one
    // over it, nothing more of the batch is stored or acknowledged: the outbox sends it again.
    long[] eventSeqs =
        good.stream()
            .filter(t -> !(t instanceof Telemetry.Metrics))
            .mapToLong(Telemetry::seq)
            .sorted()
            .toArray();
    int admitted = deviceEvents.admitOutbox(deviceId, eventSeqs);
    if (admitted < eventSeqs.length) {
      long heldFrom = eventSeqs[admitted];
      good.removeIf(t -> t.seq() >= heldFrom);
      upTo = Math.min(upTo, heldFrom - 1);
    }
    store(deviceId, good, now);
    if (!problems.isEmpty()) {
      refused.add(problems.size());
      refusedEvent(deviceId, problems.size(), problems.getFirst());
    }
    return upTo;
  }

  @Override
  public void refused(String deviceId, String reason) {
    refusedMessages.increment();
    refusedEvent(deviceId, 1, reason);
  }

  private void store(String deviceId, List<Telemetry> good, Instant now) {
    batches.increment();
    if (good.isEmpty()) {
      return;
    }
    long nowMs = now.toEpochMilli();
    long oldest = now.minus(RETENTION).toEpochMilli();
    Telemetry.Metrics newest = null;
    int[] counts =
        jdbi.inTransaction(
            h -> {
              DeviceEvents.OutboxBatch events = DeviceEvents.outboxBatch(h);
              PreparedBatch metrics =
                  h.prepareBatch(
                      "INSERT INTO device_metrics (device_id, seq, from_at, at, metrics,"
                          + " received_at, partial) VALUES (:d, :seq, :from, :at, :m, :now,"
                          + " :partial) ON CONFLICT (device_id, seq) DO NOTHING");
              int stale = 0;
              for (Telemetry t : good) {
                switch (t) {
                  case Telemetry.DeviceEvent e ->
                      events.add(
                          deviceId,
                          e.seq(),
                          deviceEvents.place(e.at(), now),
                          e.kind(),
                          e.severity() == null ? "info" : e.severity(),
                          e.app(),
                          e.message(),
                          nowMs);
                  case Telemetry.Loss l ->
                      events.add(
                          deviceId,
                          l.seq(),
                          deviceEvents.place(l.at(), now),
                          LOSS_KIND,
                          "warning",
                          null,
                          lossMessage(l),
                          nowMs);
                  case Telemetry.Metrics m -> {
                    if (m.at().toEpochMilli() < oldest) {
                      stale++;
                      continue;
                    }
                    metrics
                        .bind("d", deviceId)
                        .bind("seq", m.seq())
                        .bind("from", m.from().toEpochMilli())
                        .bind("at", m.at().toEpochMilli())
                        .bind("m", Json.write(new TreeMap<>(m.metrics())))
                        .bind("now", nowMs)
                        .bind("partial", m.partial())
                        .add();
                  }
                }
              }
              int inserted = events.store() + inserted(metrics);
              return new int[] {inserted, stale};
            });
    for (Telemetry t : good) {
      if (t instanceof Telemetry.Metrics m
          && m.at().toEpochMilli() >= oldest
          && (newest == null || m.at().isAfter(newest.at()))) {
        newest = m;
      }
    }
    if (newest != null) {
      newest(deviceId, newest);
    }
    records.add(counts[0]);
    expired.add(counts[1]);
    duplicates.add(good.size() - counts[0] - counts[1]);
  }

  private static int inserted(PreparedBatch b) {
    if (b.size() == 0) {
      return 0;
    }
    int n = 0;
    for (int c : b.execute()) {
      // Drivers may answer SUCCESS_NO_INFO (-2) for a row they did insert.
      n += c == java.sql.Statement.SUCCESS_NO_INFO ? 1 : Math.max(0, c);
    }
    return n;
  }

  private static String lossMessage(Telemetry.Loss l) {
    String why = l.reason() == null || l.reason().isBlank() ? "outbox full" : l.reason();
    return l.events() == 0
        ? why
        : why + " (" + l.events() + " event" + (l.events() == 1 ? "" : "s") + " lost)";
  }

  private void newest(String deviceId, Telemetry.Metrics m) {
    latest.merge(deviceId, m, (old, neu) -> neu.at().isAfter(old.at()) ? neu : old);
  }

  /** Records (at most once a minute per device) that telemetry of the device was refused. */
  private void refusedEvent(String deviceId, int count, String reason) {
    long now = clock.millis();
    Refusals r = refusals.computeIfAbsent(deviceId, k -> new Refusals());
    long pending;
    String first;
    synchronized (r) {
      r.count += count;
      if (r.reason == null) {
        r.reason = reason;
      }
      if (now - r.lastEventAt < REFUSAL_EVENT_EVERY.toMillis()) {
        return;
      }
      pending = r.count;
      first = r.reason;
      r.count = 0;
      r.reason = null;
      r.lastEventAt = now;
    }
    String message =
        "telemetry refused ("
            + pending
            + (pending == 1 ? " record or message" : " records or messages")
            + "): "
            + cut(first, TelemetryValidation.MAX_MESSAGE - 100);
    LOG.info("device {}: {}", deviceId, message);
    try {
      deviceEvents.recordWarning(deviceId, now, REFUSED_KIND, message);
    } catch (RuntimeException e) {
      LOG.warn("cannot record refused telemetry of {}: {}", deviceId, e.toString());
    }
  }

  private static final class Refusals {
    long lastEventAt = Long.MIN_VALUE / 2;
    long count;
    String reason;
  }

  /** The newest summary of a device, from memory. */
  public Optional<Telemetry.Metrics> latest(String deviceId) {
    return Optional.ofNullable(latest.get(deviceId));
  }

  /** The newest summary of every device that sent one, from memory (a snapshot). */
  public Map<String, Telemetry.Metrics> latestAll() {
    return Map.copyOf(latest);
  }

  /** The device's newest summary and its summaries that end at or after {@code since} ago. */
  public DeviceMetrics metrics(String deviceId, Duration since) {
    long from = clock.instant().minus(since).toEpochMilli();
    List<Summary> summaries =
        jdbi.withHandle(
            h ->
                h.createQuery(
                        "SELECT seq, from_at, at, metrics, partial FROM device_metrics WHERE"
                            + " device_id = :d AND at >= :from ORDER BY at, seq")
                    .bind("d", deviceId)
                    .bind("from", from)
                    .map(
                        (rs, ctx) ->
                            new Summary(
                                rs.getLong(1),
                                Instant.ofEpochMilli(rs.getLong(2)),
                                Instant.ofEpochMilli(rs.getLong(3)),
                                stats(rs.getString(4)),
                                rs.getBoolean(5)))
                    .list());
    return new DeviceMetrics(
        deviceId, latest(deviceId).map(Summary::of).orElse(null), List.copyOf(summaries));
  }

  /** Deletes summaries older than {@link #RETENTION}; returns how many. */
  public int prune() {
    long cutoff = clock.instant().minus(RETENTION).toEpochMilli();
    List<String> devices =
        jdbi.withHandle(
            h ->
                h.createQuery("SELECT DISTINCT device_id FROM device_metrics")
                    .mapTo(String.class)
                    .list());
    int deleted = 0;
    for (String d : devices) {
      // Per device, so the (device_id, at) index serves the delete.
      deleted +=
          jdbi.withHandle(
              h ->
                  h.createUpdate("DELETE FROM device_metrics WHERE device_id = :d AND at < :c")
                      .bind("d", d)
                      .bind("c", cutoff)
                      .execute());
    }
    latest.values().removeIf(m -> m.at().toEpochMilli() < cutoff);
    return deleted;
  }

  /** Batches received (each answered with one acknowledgement). */
  public long batches() {
    return batches.sum();
  }

  /** Records stored for the first time. */
  public long records() {
    return records.sum();
  }

  /** Records received again that were already stored (a resend after a lost acknowledgement). */
  public long duplicates() {
    return duplicates.sum();
  }

  /** Records refused by validation (skipped, acknowledged, reported as an event). */
  public long refused() {
    return refused.sum();
  }

  /** Whole messages refused (too large, unreadable, too many records). */
  public long refusedMessages() {
    return refusedMessages.sum();
  }

  /** Valid summaries not stored because they ended before the retention window. */
  public long expired() {
    return expired.sum();
  }

  private static Map<String, Telemetry.Stat> stats(String json) {
    try {
      return Json.mapper().readValue(json, STATS);
    } catch (IOException e) {
      throw new UncheckedIOException("corrupt metrics column", e);
    }
  }

  private static String cut(String s, int max) {
    return s == null || s.length() <= max ? s : s.substring(0, max) + "…";
  }

  private static String firstLine(Exception e) {
    String m = String.valueOf(e.getMessage());
    int nl = m.indexOf('\n');
    return cut(nl < 0 ? m : m.substring(0, nl), 300);
  }
}
