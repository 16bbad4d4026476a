package io.edgefleet.controller.downloads;

import com.fasterxml.jackson.core.type.TypeReference;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.Json;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What each device reports of its artifacts ({@link AgentMessage.ArtifactReport}): the verified
 * artifacts it holds, the downloads under way and why downloads wait. The latest report of each
 * device is kept in memory and in a small table; a report is checked on the socket's thread, and
 * written by one worker thread only when what it says changed (progress of a running download
 * changes the stored row at most as often as the device reports, which it bounds). Thread-safe.
 */
public final class ArtifactReports implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ArtifactReports.class);

  /** The most held artifacts one report may list. */
  static final int MAX_HELD = 10_000;

  /** The most downloads one report may list. */
  static final int MAX_FETCHING = 1_000;

  /** The longest waiting reason kept. */
  static final int MAX_WAITING = 500;

  private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");

  /** One download under way: {@code bytes} of {@code size} verified so far. */
  public record Fetch(String digest, long size, long bytes) {}

  /** A device's latest report; {@link #EMPTY} for a device that sent none. */
  public record Report(List<String> held, List<Fetch> fetching, String waiting, Instant at) {
    public static final Report EMPTY = new Report(List.of(), List.of(), null, null);

    public Report {
      held = List.copyOf(held);
      fetching = List.copyOf(fetching);
    }

    boolean sameAs(Report o) {
      return held.equals(o.held)
          && fetching.equals(o.fetching)
          && java.util.Objects.equals(waiting, o.waiting);
    }
  }

  private final Jdbi jdbi;
  private final Clock clock;
  private final Map<String, Report> reports = new ConcurrentHashMap<>();
  private final Map<String, Report> pending = new ConcurrentHashMap<>();
  private final AtomicBoolean scheduled = new AtomicBoolean();
  private final ExecutorService writer;
  private final List<Runnable> listeners;

  /**
   * @param written called on the writer thread after changed reports were stored (so that rollouts
   *     waiting for devices to stage look again)
   */
  public ArtifactReports(Jdbi jdbi, Clock clock, List<Runnable> written) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.listeners = List.copyOf(written);
    this.writer =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "artifact-reports");
              t.setDaemon(true);
              return t;
            });
    load();
  }

  /**
   * Takes a device's report; called on the socket's thread, never blocks. A report that says what
   * the stored one says is not written again.
   *
   * @throws IllegalArgumentException when the report is out of shape (the gateway counts it)
   */
  public void report(String deviceId, AgentMessage.ArtifactReport r) {
    Report report = check(r, clock.instant());
    Report before = reports.get(deviceId);
    if (before != null && before.sameAs(report)) {
      return;
    }
    reports.put(deviceId, report);
    pending.put(deviceId, report);
    if (scheduled.compareAndSet(false, true)) {
      try {
        writer.execute(this::drain);
      } catch (RejectedExecutionException e) {
        scheduled.set(false);
      }
    }
  }

  /** The latest report of a device; {@link Report#EMPTY} when it sent none. */
  public Report of(String deviceId) {
    return reports.getOrDefault(deviceId, Report.EMPTY);
  }

  /** The latest report of a device, if it sent one. */
  public Optional<Report> find(String deviceId) {
    return Optional.ofNullable(reports.get(deviceId));
  }

  static Report check(AgentMessage.ArtifactReport r, Instant now) {
    if (r.held().size() > MAX_HELD) {
      throw new IllegalArgumentException("artifact report lists more than " + MAX_HELD + " held");
    }
    if (r.fetching().size() > MAX_FETCHING) {
      throw new IllegalArgumentException(
          "artifact report lists more than " + MAX_FETCHING + " downloads");
    }
    List<String> held = new ArrayList<>(new java.util.TreeSet<>(r.held()));
    for (String d : held) {
      if (d == null || !DIGEST.matcher(d).matches()) {
        throw new IllegalArgumentException("artifact report holds a malformed digest");
      }
    }
    List<Fetch> fetching = new ArrayList<>();
    for (AgentMessage.ArtifactProgress p : r.fetching()) {
      if (p == null
          || p.digest() == null
          || !DIGEST.matcher(p.digest()).matches()
          || p.size() < 0
          || p.bytes() < 0
          || p.bytes() > p.size()) {
        throw new IllegalArgumentException("artifact report has a malformed download");
      }
      fetching.add(new Fetch(p.digest(), p.size(), p.bytes()));
    }
    String waiting = r.waiting();
    if (waiting != null) {
      waiting = waiting.strip();
      if (waiting.isEmpty()) {
        waiting = null;
      } else if (waiting.length() > MAX_WAITING) {
        waiting = waiting.substring(0, MAX_WAITING - 1) + "…";
      }
    }
    return new Report(held, fetching, waiting, now);
  }

  private void drain() {
    try {
      while (!pending.isEmpty()) {
        Map<String, Report> batch = new HashMap<>();
        for (String id : List.copyOf(pending.keySet())) {
          Report r = pending.remove(id);
          if (r != null) {
            batch.put(id, r);
          }
        }
        jdbi.useTransaction(h -> batch.forEach((id, r) -> upsert(h, id, r)));
        for (Runnable l : listeners) {
          try {
            l.run();
          } catch (RuntimeException e) {
            LOG.warn("artifact report listener failed: {}", e.toString());
          }
        }
      }
    } catch (RuntimeException e) {
      LOG.warn("artifact reports could not be stored: {}", e.toString());
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

  private static void upsert(Handle h, String deviceId, Report r) {
    h.createUpdate(
            "INSERT INTO device_artifact_reports (device_id, held, fetching, waiting, reported_at)"
                + " VALUES (:d, :held, :fetching, :waiting, :at) ON CONFLICT (device_id) DO UPDATE"
                + " SET held = excluded.held, fetching = excluded.fetching, waiting ="
                + " excluded.waiting, reported_at = excluded.reported_at")
        .bind("d", deviceId)
        .bind("held", Json.write(r.held()))
        .bind("fetching", Json.write(r.fetching()))
        .bind("waiting", r.waiting())
        .bind("at", r.at().toEpochMilli())
        .execute();
  }

  private void load() {
    jdbi.useHandle(
        h ->
            h.createQuery(
                    "SELECT device_id, held, fetching, waiting, reported_at FROM"
                        + " device_artifact_reports")
                .map(
                    (rs, ctx) ->
                        Map.entry(
                            rs.getString(1),
                            new Report(
                                read(rs.getString(2), new TypeReference<List<String>>() {}),
                                read(rs.getString(3), new TypeReference<List<Fetch>>() {}),
                                rs.getString(4),
                                Instant.ofEpochMilli(rs.getLong(5)))))
                .forEach(e -> reports.put(e.getKey(), e.getValue())));
  }

  private static <T> T read(String json, TypeReference<T> type) {
    try {
      return Json.mapper().readValue(json, type);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("stored artifact report is unreadable", e);
    }
  }

  @Override
  public void close() {
    writer.shutdown();
  }
}
