package io.edgefleet.controller.events;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.devices.DeviceService;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.Durations;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.mapper.RowMapper;
import org.jdbi.v3.core.statement.Query;

/**
 * One chronology of everything that happened to devices: what they reported ({@code device}), how
 * their apps' reported phases changed ({@code app}), the rollouts they were part of ({@code
 * rollout}), what operators and the controller did ({@code controller}, the audit log) and how
 * their status changed ({@code health}). Items are ordered by the time they happened at the device
 * (for device events, as far as the controller believes the device's clock: see {@link
 * DeviceEvents}; the controller's time for the rest), then by sequence number.
 *
 * <p>A listing returns the newest events of a time window. Its cursor ({@code next}) then returns
 * every event <em>recorded</em> after it, whenever it happened: an event a device kept in its
 * outbox during an outage and delivered hours later is still delivered to a follower. Cursors
 * follow the time each row was recorded and reach only up to {@link #SETTLE} before now, so a
 * transaction that commits a moment after its clock reading is not skipped; a cursor never returns
 * an event twice. Thread-safe; reads only.
 *
 * <p>Each source is read by the package that owns its table ({@link EventSource}): device and fleet
 * events here, rollout events by the rollouts package, controller events by {@link AuditLog}. A
 * listing asks each for its newest {@code limit + 1} events and merges them; a follower asks each
 * for the next {@code limit + 1} after the cursor and stops where a source's page was cut.
 */
public final class EventLog {
  /** How far behind now cursors stay, so rows committed late are still ahead of them. */
  public static final Duration SETTLE = Duration.ofSeconds(2);

  /** The window of a listing without {@code since}. */
  public static final Duration DEFAULT_SINCE = Duration.ofHours(1);

  /** The most devices a selector may choose; the filter is a list of ids in SQL. */
  public static final int MAX_DEVICES = 20_000;

  private final Clock clock;
  private final DeviceService devices;
  private final List<EventSource> sources;

  /**
   * One event.
   *
   * @param id unique in the log
   * @param at when it happened: the device's time for device events, the controller's otherwise
   * @param recordedAt when the controller recorded it
   * @param source {@code device}, {@code app}, {@code rollout}, {@code controller} or {@code
   *     health}
   * @param severity {@code info}, {@code warning} or {@code error}
   * @param deviceId the device it concerns; absent for rollout and fleet-wide controller events
   * @param seq the device's outbox sequence number, or the rollout's event number
   * @param deviceAt for a device event whose time the controller did not believe (see {@link
   *     DeviceEvents}), the time the device claimed; {@code at} is then when it arrived
   */
  public record Event(
      String id,
      Instant at,
      Instant recordedAt,
      String source,
      String kind,
      String severity,
      String deviceId,
      String app,
      String rolloutId,
      Long seq,
      String message,
      Instant deviceAt) {}

  /**
   * A page of events in order and the cursor to ask for what comes after.
   *
   * @param more in a listing: older events of the window were left out; after a cursor: more events
   *     are waiting after {@code next}
   */
  public record Page(List<Event> items, String next, boolean more) {}

  /**
   * The query parameters of {@code GET /api/v1/events}, as given.
   *
   * @param visible for a caller confined to projects, the devices (by tags) it sees: only their
   *     events are listed, and events of no device are left out; empty for a caller who sees all
   */
  public record Request(
      Optional<String> device,
      Optional<String> selector,
      Optional<String> since,
      Optional<String> after,
      int limit,
      Optional<Predicate<Map<String, String>>> visible) {
    public Request(
        Optional<String> device,
        Optional<String> selector,
        Optional<String> since,
        Optional<String> after,
        int limit) {
      this(device, selector, since, after, limit, Optional.empty());
    }
  }

  /**
   * @param rollouts the rollout events, read by the rollouts package
   * @param audit the controller's events
   */
  public EventLog(
      Jdbi jdbi, Clock clock, DeviceService devices, EventSource rollouts, AuditLog audit) {
    this.clock = clock;
    this.devices = devices;
    this.sources =
        List.of(deviceEvents(jdbi), fleetEvents(jdbi), rollouts, new AuditEntries(audit));
  }

  /**
   * A listing (no {@code after}): the newest {@code limit} events that happened since {@code since}
   * (default {@link #DEFAULT_SINCE}); or, after a cursor, the next {@code limit} events recorded
   * after it ({@code since} is then ignored).
   *
   * @throws ControllerException {@code NOT_FOUND} for an unknown device, {@code VALIDATION_FAILED}
   *     for a malformed selector, since or cursor
   */
  public Page list(Request r) {
    Instant now = clock.instant();
    Optional<Set<String>> scope = scope(r.device(), r.selector(), r.visible());
    Optional<Cursor> after = r.after().map(Cursor::decode);
    Instant since = after.isPresent() ? Instant.EPOCH : since(r.since(), now);
    return list(scope, since, after, r.limit(), now);
  }

  /** The devices the events are limited to, if any. */
  private Optional<Set<String>> scope(
      Optional<String> device,
      Optional<String> selector,
      Optional<Predicate<Map<String, String>>> visible) {
    Optional<Set<String>> scope =
        device.map(
            d -> {
              var view = devices.get(d);
              if (visible.isPresent() && !visible.get().test(view.tags())) {
                // As for a device that does not exist: another project's devices are not revealed.
                throw ControllerException.notFound("device", d);
              }
              return Set.of(view.id());
            });
    if (selector.isPresent() || visible.isPresent()) {
      Selector given = Selector.parse("selector", selector.orElse(""));
      Predicate<Map<String, String>> s =
          visible.map(v -> v.and(given::matches)).orElse(given::matches);
      Set<String> chosen = new HashSet<>();
      devices
          .tags()
          .forEach(
              (id, tags) -> {
                if (s.test(tags)) {
                  chosen.add(id);
                }
              });
      if (chosen.size() > MAX_DEVICES) {
        throw ControllerException.invalid(
            "the selector chooses "
                + chosen.size()
                + " devices; events can be filtered by at most "
                + MAX_DEVICES
                + " devices at a time: narrow the selector");
      }
      scope = Optional.of(scope.map(one -> intersect(one, chosen)).orElse(chosen));
    }
    return scope;
  }

  private static Set<String> intersect(Set<String> a, Set<String> b) {
    Set<String> out = new HashSet<>(a);
    out.retainAll(b);
    return out;
  }

  /** The query itself, for explicit instants (tests). */
  Page list(
      Optional<Set<String>> scope, Instant since, Optional<Cursor> after, int limit, Instant now) {
    long horizon = now.minus(SETTLE).toEpochMilli();
    if (scope.isPresent() && scope.get().isEmpty()) {
      return new Page(List.of(), after.orElse(Cursor.complete(horizon)).encode(), false);
    }
    return after.isPresent()
        ? follow(scope, after.get(), limit, horizon)
        : window(scope, since.toEpochMilli(), limit, horizon);
  }

  /** Each source's newest, merged: the newest {@code limit} of all, and whether there are more. */
  private Page window(Optional<Set<String>> scope, long since, int limit, long horizon) {
    List<Event> rows = new ArrayList<>();
    for (EventSource s : sources) {
      rows.addAll(s.newest(since, horizon, scope, limit + 1));
    }
    rows.sort(CHRONOLOGICAL.reversed());
    boolean more = rows.size() > limit;
    List<Event> page = new ArrayList<>(rows.subList(0, Math.min(limit, rows.size())));
    return new Page(chronological(page), Cursor.complete(horizon).encode(), more);
  }

  /**
   * Each source's next events after the cursor, merged: the first {@code limit} of all in recorded
   * order, never beyond where a source's page was cut.
   */
  private Page follow(Optional<Set<String>> scope, Cursor c, int limit, long horizon) {
    if (c.recorded() >= horizon && c.id() == null) {
      return new Page(List.of(), c.encode(), false);
    }
    long frontier = horizon;
    List<Event> rows = new ArrayList<>();
    for (EventSource s : sources) {
      if (c.id() != null) {
        for (Event e : at(s, c.recorded(), scope)) {
          if (e.id().compareTo(c.id()) > 0) {
            rows.add(e);
          }
        }
      }
      List<Event> page = s.recorded(c.recorded(), horizon, scope, limit + 1);
      if (page.size() == limit + 1) {
        // Cut inside this source: complete it at its last recorded time, and go no further.
        long last = page.getLast().recordedAt().toEpochMilli();
        page = new ArrayList<>(page.stream().filter(e -> millis(e) < last).toList());
        page.addAll(at(s, last, scope));
        frontier = Math.min(frontier, last);
      }
      rows.addAll(page);
    }
    long upTo = frontier;
    rows.removeIf(e -> millis(e) > upTo);
    rows.sort(RECORDED);
    Cursor next;
    boolean more;
    List<Event> page;
    if (rows.size() > limit) {
      page = new ArrayList<>(rows.subList(0, limit));
      Event last = page.getLast();
      next = new Cursor(millis(last), last.id());
      more = true;
    } else {
      page = rows;
      next = Cursor.complete(frontier);
      more = frontier < horizon;
    }
    return new Page(chronological(page), next.encode(), more);
  }

  /** Every event of a source recorded at exactly this millisecond. */
  private static List<Event> at(EventSource s, long recorded, Optional<Set<String>> scope) {
    return s.recorded(recorded - 1, recorded, scope, Integer.MAX_VALUE);
  }

  private static long millis(Event e) {
    return e.recordedAt().toEpochMilli();
  }

  /** In the order things happened: time, then sequence number, then id. */
  static final Comparator<Event> CHRONOLOGICAL =
      Comparator.comparing(Event::at)
          .thenComparing(e -> e.seq() == null ? Long.MAX_VALUE : e.seq())
          .thenComparing(Event::id);

  /**
   * Sorts by {@link #CHRONOLOGICAL}, then puts the events of each numbered stream (one device's
   * outbox, one rollout) in the order of their sequence numbers within the places the stream
   * occupies: a stream's own order is the truth even where its clock readings disagree (a device
   * clock stepped back, a rollout tick that read the clock before waiting for the database).
   */
  static List<Event> chronological(List<Event> events) {
    List<Event> out = new ArrayList<>(events);
    out.sort(CHRONOLOGICAL);
    java.util.Map<String, List<Integer>> streams = new java.util.HashMap<>();
    for (int i = 0; i < out.size(); i++) {
      Event e = out.get(i);
      if (e.seq() != null) {
        String stream =
            e.rolloutId() != null ? "rollout:" + e.rolloutId() : e.source() + ":" + e.deviceId();
        streams.computeIfAbsent(stream, k -> new ArrayList<>()).add(i);
      }
    }
    for (List<Integer> places : streams.values()) {
      List<Event> inStream = new ArrayList<>();
      places.forEach(i -> inStream.add(out.get(i)));
      inStream.sort(Comparator.comparing(Event::seq));
      for (int k = 0; k < places.size(); k++) {
        out.set(places.get(k), inStream.get(k));
      }
    }
    return out;
  }

  /** In the order things were recorded, the order of cursors. */
  static final Comparator<Event> RECORDED =
      Comparator.comparing(Event::recordedAt).thenComparing(Event::id);

  static Instant since(Optional<String> since, Instant now) {
    if (since.isEmpty()) {
      return now.minus(DEFAULT_SINCE);
    }
    String text = since.get().strip();
    try {
      Duration d = Durations.parse(text);
      if (!d.isZero()) {
        return now.minus(d);
      }
    } catch (IllegalArgumentException e) {
      try {
        return Instant.parse(text);
      } catch (DateTimeParseException notAnInstant) {
        // reported below
      }
    }
    throw ControllerException.invalid(
        "since must be a duration such as 30m, 1h or 7d, or a time such as"
            + " 2026-01-31T08:00:00Z; got '"
            + since.get()
            + "'");
  }

  /**
   * Where a follower stands: every event recorded before {@code recorded} has been delivered, and
   * of those recorded at {@code recorded}, the ones with an id up to {@code id} (all when null).
   */
  record Cursor(long recorded, String id) {
    static Cursor complete(long recorded) {
      return new Cursor(recorded, null);
    }

    String encode() {
      String text = "v1:" + recorded + (id == null ? "" : ":" + id);
      return Base64.getUrlEncoder()
          .withoutPadding()
          .encodeToString(text.getBytes(StandardCharsets.UTF_8));
    }

    static Cursor decode(String cursor) {
      try {
        String text =
            new String(Base64.getUrlDecoder().decode(cursor.strip()), StandardCharsets.UTF_8);
        String[] parts = text.split(":", 3);
        if (parts.length >= 2 && parts[0].equals("v1")) {
          long recorded = Long.parseLong(parts[1]);
          if (recorded >= 0) {
            return new Cursor(recorded, parts.length == 3 ? parts[2] : null);
          }
        }
      } catch (IllegalArgumentException e) {
        // reported below
      }
      throw ControllerException.invalid(
          "after must be a cursor as returned in 'next' by this endpoint; got '" + cursor + "'");
    }
  }

  /** The log's own tables, each with its SQL. */
  private record Table(
      Jdbi jdbi, String select, String at, String rec, String scoped, RowMapper<Event> mapper)
      implements EventSource {
    @Override
    public List<Event> newest(long since, long upTo, Optional<Set<String>> devices, int limit) {
      return fetch(
          at + " >= :since AND " + rec + " <= :horizon",
          at + " DESC",
          limit,
          devices,
          q -> q.bind("since", since).bind("horizon", upTo));
    }

    @Override
    public List<Event> recorded(long after, long upTo, Optional<Set<String>> devices, int limit) {
      return fetch(
          rec + " > :r AND " + rec + " <= :horizon",
          rec,
          limit,
          devices,
          q -> q.bind("r", after).bind("horizon", upTo));
    }

    private List<Event> fetch(
        String where, String order, int limit, Optional<Set<String>> scope, Consumer<Query> bind) {
      String sql =
          select
              + " WHERE "
              + where
              + (scope.isPresent() ? " AND " + scoped : "")
              + " ORDER BY "
              + order
              + (limit == Integer.MAX_VALUE ? "" : " LIMIT " + limit);
      return jdbi.withHandle(
          h -> {
            Query q = h.createQuery(sql);
            scope.ifPresent(ids -> q.bindList("ids", List.copyOf(ids)));
            bind.accept(q);
            return q.map(mapper).list();
          });
    }
  }

  /** What devices reported ({@code device}). */
  private static Table deviceEvents(Jdbi jdbi) {
    return new Table(
        jdbi,
        "SELECT id, device_id, at, seq, kind, severity, app, message, COALESCE(received_at, at),"
            + " device_at FROM device_events",
        "at",
        "COALESCE(received_at, at)",
        "device_id IN (<ids>)",
        (rs, ctx) -> {
          long seq = rs.getLong(4);
          boolean hasSeq = !rs.wasNull();
          long deviceAt = rs.getLong(10);
          boolean skewed = !rs.wasNull();
          return new Event(
              "device:" + rs.getString(1),
              Instant.ofEpochMilli(rs.getLong(3)),
              Instant.ofEpochMilli(rs.getLong(9)),
              "device",
              rs.getString(5),
              rs.getString(6) == null ? "info" : rs.getString(6),
              rs.getString(2),
              rs.getString(7),
              null,
              hasSeq ? seq : null,
              rs.getString(8),
              skewed ? Instant.ofEpochMilli(deviceAt) : null);
        });
  }

  /** App phase changes and health transitions ({@code app}, {@code health}). */
  private static Table fleetEvents(Jdbi jdbi) {
    return new Table(
        jdbi,
        "SELECT id, device_id, at, source, kind, severity, app, message FROM fleet_events",
        "at",
        "at",
        "device_id IN (<ids>)",
        (rs, ctx) -> {
          Instant at = Instant.ofEpochMilli(rs.getLong(3));
          return new Event(
              rs.getString(4) + ":" + rs.getString(1),
              at,
              at,
              rs.getString(4),
              rs.getString(5),
              rs.getString(6),
              // Fleet-wide controller events (its own downtime) are about no device.
              rs.getString(2).isEmpty() ? null : rs.getString(2),
              rs.getString(7),
              null,
              null,
              rs.getString(8),
              null);
        });
  }

  /**
   * What operators and the controller did ({@code controller}), from the audit log: an entry about
   * a device ({@code device.*}) concerns that device.
   */
  private record AuditEntries(AuditLog audit) implements EventSource {
    @Override
    public List<Event> newest(long since, long upTo, Optional<Set<String>> devices, int limit) {
      return audit.newest(since, upTo, devices, limit).stream().map(AuditEntries::event).toList();
    }

    @Override
    public List<Event> recorded(long after, long upTo, Optional<Set<String>> devices, int limit) {
      return audit.after(after, upTo, devices, limit).stream().map(AuditEntries::event).toList();
    }

    private static Event event(AuditLog.Entry a) {
      String detail = a.detail();
      return new Event(
          "controller:" + a.id(),
          a.at(),
          a.at(),
          "controller",
          a.action(),
          "info",
          a.action().startsWith("device.") ? a.target() : null,
          null,
          null,
          null,
          a.action()
              + " "
              + a.target()
              + " by "
              + a.actor()
              + (detail == null || detail.equals("{}") ? "" : " " + detail),
          null);
    }
  }
}
