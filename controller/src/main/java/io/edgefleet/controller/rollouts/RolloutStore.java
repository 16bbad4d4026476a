package io.edgefleet.controller.rollouts;

import io.edgefleet.controller.common.Ids;
import io.edgefleet.controller.desired.DeviceAppReads;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.rollouts.RolloutEngine.BatchState;
import io.edgefleet.controller.rollouts.RolloutEngine.EventView;
import io.edgefleet.controller.rollouts.RolloutEngine.Member;
import io.edgefleet.controller.rollouts.RolloutEngine.State;
import io.edgefleet.controller.rollouts.RolloutRows.BatchRow;
import io.edgefleet.controller.rollouts.RolloutRows.MemberRow;
import io.edgefleet.controller.rollouts.RolloutRows.Row;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every statement on the rollout tables ({@code rollouts}, {@code rollout_batches}, {@code
 * rollout_devices}, {@code rollout_events}) and the reads of devices and their apps that rollouts
 * need. Each method runs in the caller's handle, so a transition is one transaction.
 */
final class RolloutStore {
  private static final Logger LOG = LoggerFactory.getLogger(RolloutStore.class);
  private static final String UNFINISHED = "('PROGRESSING','PAUSED','ROLLING_BACK')";
  private static final String ROW_COLUMNS =
      "id, subject, app, source, from_revision, to_revision, policy, state, batch, reason,"
          + " created_by, created_at, updated_at, finished_at, rollback_at";

  private final DeviceStore deviceStore = new DeviceStore();
  private final DeviceAppReads deviceApps = new DeviceAppReads();
  private final SubjectReports subjects;

  RolloutStore(SubjectReports subjects) {
    this.subjects = subjects;
  }

  /** A rollout as listed, with its number of batches. */
  record Listed(Row row, int batches) {}

  // -------------------------------------------------------------------------------------------
  // Rollouts

  /** The unfinished rollouts, oldest first. */
  List<String> unfinished(Handle h) {
    return h.createQuery("SELECT id FROM rollouts WHERE state IN " + UNFINISHED + " ORDER BY seq")
        .mapTo(String.class)
        .list();
  }

  /** The unfinished rollouts of a subject. */
  List<String> unfinished(Handle h, String subject) {
    return h.createQuery("SELECT id FROM rollouts WHERE subject = :s AND state IN " + UNFINISHED)
        .bind("s", subject)
        .mapTo(String.class)
        .list();
  }

  void insert(Handle h, String id, RolloutEngine.Start s, long now) {
    long seq =
        h.createQuery("SELECT COALESCE(MAX(seq), 0) + 1 FROM rollouts").mapTo(Long.class).one();
    h.createUpdate(
            "INSERT INTO rollouts (id, seq, subject, app, source, from_revision, to_revision,"
                + " policy, state, batch, reason, created_by, created_at, updated_at) VALUES (:id,"
                + " :seq, :subject, :app, :source, :from, :to, :policy, 'PROGRESSING', 0, :reason,"
                + " :by, :now, :now)")
        .bind("id", id)
        .bind("seq", seq)
        .bind("subject", s.subject())
        .bind("app", s.app())
        .bind("source", s.source())
        .bind("from", s.fromRevision().orElse(null))
        .bind("to", s.toRevision())
        .bind("policy", s.policy().source())
        .bind("reason", "starting")
        .bind("by", s.actor())
        .bind("now", now)
        .execute();
  }

  Optional<Row> row(Handle h, String id) {
    return h.createQuery("SELECT " + ROW_COLUMNS + " FROM rollouts WHERE id = :id")
        .bind("id", id)
        .map((rs, ctx) -> rowOf(rs))
        .findOne();
  }

  /** The latest rollouts, newest first, of an app and in a state if given. */
  List<Listed> list(Handle h, Optional<String> app, Optional<State> state, int limit) {
    StringBuilder sql =
        new StringBuilder("SELECT ")
            .append(ROW_COLUMNS)
            .append(
                ", (SELECT COUNT(*) FROM rollout_batches b WHERE b.rollout_id = r.id) FROM"
                    + " rollouts r WHERE 1 = 1");
    app.ifPresent(a -> sql.append(" AND app = :app"));
    state.ifPresent(s -> sql.append(" AND state = :state"));
    sql.append(" ORDER BY seq DESC LIMIT :limit");
    var q = h.createQuery(sql.toString()).bind("limit", limit);
    app.ifPresent(a -> q.bind("app", a));
    state.ifPresent(s -> q.bind("state", s.name()));
    return q.map((rs, ctx) -> new Listed(rowOf(rs), rs.getInt(16))).list();
  }

  /** The latest rollout of a subject. */
  Optional<Listed> latest(Handle h, String subject) {
    return h.createQuery(
            "SELECT "
                + ROW_COLUMNS
                + ", (SELECT COUNT(*) FROM rollout_batches b WHERE b.rollout_id = r.id)"
                + " FROM rollouts r WHERE subject = :s ORDER BY seq DESC LIMIT 1")
        .bind("s", subject)
        .map((rs, ctx) -> new Listed(rowOf(rs), rs.getInt(16)))
        .findOne();
  }

  void setState(Handle h, String id, State state, long now) {
    h.createUpdate("UPDATE rollouts SET state = :state, updated_at = :now WHERE id = :id")
        .bind("state", state.name())
        .bind("now", now)
        .bind("id", id)
        .execute();
  }

  void finish(Handle h, String id, State state, String reason, long now) {
    h.createUpdate(
            "UPDATE rollouts SET state = :state, reason = :reason, updated_at = :now, finished_at"
                + " = :now WHERE id = :id")
        .bind("state", state.name())
        .bind("reason", reason)
        .bind("now", now)
        .bind("id", id)
        .execute();
  }

  void setReason(Handle h, String id, String reason, long now) {
    h.createUpdate(
            "UPDATE rollouts SET reason = :reason, updated_at = CASE WHEN reason = :reason THEN"
                + " updated_at ELSE :now END WHERE id = :id")
        .bind("reason", reason)
        .bind("now", now)
        .bind("id", id)
        .execute();
  }

  void touch(Handle h, String id, long now) {
    h.createUpdate("UPDATE rollouts SET updated_at = :now WHERE id = :id")
        .bind("now", now)
        .bind("id", id)
        .execute();
  }

  /**
   * Marks every released device reverted and the rollout rolling back.
   *
   * @return the devices that were released, by id
   */
  List<String> startRollback(Handle h, String id, long now) {
    List<String> released =
        h.createQuery(
                "SELECT device_id FROM rollout_devices WHERE rollout_id = :id AND state ="
                    + " 'RELEASED' ORDER BY device_id")
            .bind("id", id)
            .mapTo(String.class)
            .list();
    h.createUpdate(
            "UPDATE rollout_devices SET state = 'REVERTED' WHERE rollout_id = :id AND state ="
                + " 'RELEASED'")
        .bind("id", id)
        .execute();
    h.createUpdate(
            "UPDATE rollouts SET state = 'ROLLING_BACK', rollback_at = :now, finished_at = NULL,"
                + " updated_at = :now WHERE id = :id")
        .bind("now", now)
        .bind("id", id)
        .execute();
    return released;
  }

  // -------------------------------------------------------------------------------------------
  // Batches

  void insertBatch(
      Handle h, String id, int idx, String name, RolloutPolicy.Thresholds t, Long startedAt) {
    h.createUpdate(
            "INSERT INTO rollout_batches (rollout_id, idx, name, success_percent, failure_percent,"
                + " soak_ms, deadline_ms, state, started_at) VALUES (:id, :idx, :name, :s, :f,"
                + " :soak, :deadline, :state, :started)")
        .bind("id", id)
        .bind("idx", idx)
        .bind("name", name)
        .bind("s", t.successPercent())
        .bind("f", t.failurePercent())
        .bind("soak", t.soak().toMillis())
        .bind("deadline", t.progressDeadline().toMillis())
        .bind("state", startedAt == null ? "PENDING" : "UPDATING")
        .bind("started", startedAt)
        .execute();
  }

  List<BatchRow> batches(Handle h, String id) {
    return h.createQuery(
            "SELECT idx, name, success_percent, failure_percent, soak_ms, deadline_ms, state,"
                + " started_at, soak_until, finished_at, reason FROM rollout_batches WHERE"
                + " rollout_id = :id ORDER BY idx")
        .bind("id", id)
        .map(
            (rs, ctx) ->
                new BatchRow(
                    rs.getInt(1),
                    rs.getString(2),
                    rs.getInt(3),
                    rs.getInt(4),
                    rs.getLong(5),
                    rs.getLong(6),
                    BatchState.valueOf(rs.getString(7)),
                    nullableLong(rs, 8),
                    nullableLong(rs, 9),
                    nullableLong(rs, 10),
                    rs.getString(11)))
        .list();
  }

  int lastBatch(Handle h, String id) {
    return h.createQuery("SELECT MAX(idx) FROM rollout_batches WHERE rollout_id = :id")
        .bind("id", id)
        .mapTo(Integer.class)
        .one();
  }

  /** Ends a batch. */
  void setBatch(Handle h, String id, int idx, BatchState state, long now, String reason) {
    h.createUpdate(
            "UPDATE rollout_batches SET state = :state, finished_at = :now, reason = :reason WHERE"
                + " rollout_id = :id AND idx = :idx")
        .bind("state", state.name())
        .bind("now", now)
        .bind("reason", reason)
        .bind("id", id)
        .bind("idx", idx)
        .execute();
  }

  void soak(Handle h, String id, int idx, long until) {
    h.createUpdate(
            "UPDATE rollout_batches SET state = 'SOAKING', soak_until = :until WHERE"
                + " rollout_id = :id AND idx = :b")
        .bind("until", until)
        .bind("id", id)
        .bind("b", idx)
        .execute();
  }

  /** Starts a batch and makes it the rollout's current one. */
  void startBatch(Handle h, String id, int idx, long now) {
    h.createUpdate(
            "UPDATE rollout_batches SET state = 'UPDATING', started_at = :now WHERE rollout_id ="
                + " :id AND idx = :b")
        .bind("now", now)
        .bind("id", id)
        .bind("b", idx)
        .execute();
    h.createUpdate("UPDATE rollouts SET batch = :b, updated_at = :now WHERE id = :id")
        .bind("b", idx)
        .bind("now", now)
        .bind("id", id)
        .execute();
  }

  /**
   * Starts a failed or pending batch over: its released devices get a fresh deadline from {@code
   * now}.
   */
  void restartBatch(Handle h, String id, int idx, long now) {
    h.createUpdate(
            "UPDATE rollout_batches SET state = 'UPDATING', started_at = :now, soak_until ="
                + " NULL, reason = NULL WHERE rollout_id = :id AND idx = :b AND state IN"
                + " ('FAILED','PENDING')")
        .bind("now", now)
        .bind("id", id)
        .bind("b", idx)
        .execute();
    h.createUpdate(
            "UPDATE rollout_devices SET released_at = :now WHERE rollout_id = :id AND state ="
                + " 'RELEASED' AND batch = :b")
        .bind("now", now)
        .bind("id", id)
        .bind("b", idx)
        .execute();
  }

  // -------------------------------------------------------------------------------------------
  // Devices

  /** Every active device with its tags, by id. */
  List<BatchPlanner.Member> activeDevices(Handle h) {
    return deviceStore.activeTags(h).stream()
        .map(e -> new BatchPlanner.Member(e.getKey(), e.getValue()))
        .toList();
  }

  /** What each device was told to run of an app before: device id → (revision, bundle, commit). */
  Map<String, String[]> previousEntries(Handle h, String app) {
    Map<String, String[]> out = new HashMap<>();
    (subjects.owns(app) ? subjects.entries(h, app) : deviceApps.entries(h, app))
        .forEach(
            (device, e) -> out.put(device, new String[] {e.revision(), e.bundle(), e.commit()}));
    return out;
  }

  void addMember(Handle h, String id, String device, int batch, String[] prev) {
    h.createUpdate(
            "INSERT INTO rollout_devices (rollout_id, device_id, batch, state, prev_revision,"
                + " prev_bundle, prev_commit) VALUES (:id, :d, :b, 'WAITING', :rev, :bundle,"
                + " :commit)")
        .bind("id", id)
        .bind("d", device)
        .bind("b", batch)
        .bind("rev", prev == null ? null : prev[0])
        .bind("bundle", prev == null ? null : prev[1])
        .bind("commit", prev == null ? null : prev[2])
        .execute();
  }

  /** What the rollout did with each of its devices, by device id. */
  Map<String, Member> memberStates(Handle h, String id) {
    Map<String, Member> known = new HashMap<>();
    h.createQuery("SELECT device_id, state FROM rollout_devices WHERE rollout_id = :id")
        .bind("id", id)
        .map((rs, ctx) -> Map.entry(rs.getString(1), Member.valueOf(rs.getString(2))))
        .forEach(e -> known.put(e.getKey(), e.getValue()));
    return known;
  }

  /** The device is no longer targeted. */
  void leave(Handle h, String id, String device) {
    h.createUpdate(
            "UPDATE rollout_devices SET state = 'LEFT' WHERE rollout_id = :id AND device_id ="
                + " :d")
        .bind("id", id)
        .bind("d", device)
        .execute();
  }

  /** A device that had left is targeted again: it is where it was before it left. */
  void rejoin(Handle h, String id, String device) {
    h.createUpdate(
            "UPDATE rollout_devices SET state = CASE WHEN released_at IS NULL THEN 'WAITING'"
                + " ELSE 'RELEASED' END WHERE rollout_id = :id AND device_id = :d")
        .bind("id", id)
        .bind("d", device)
        .execute();
  }

  /** Releases a waiting device to the new revision. */
  void release(Handle h, String id, String device, long now) {
    h.createUpdate(
            "UPDATE rollout_devices SET state = 'RELEASED', released_at = :now WHERE"
                + " rollout_id = :id AND device_id = :d AND state = 'WAITING'")
        .bind("now", now)
        .bind("id", id)
        .bind("d", device)
        .execute();
  }

  /** A released device's deadline starts again at {@code now}. */
  void restartDeadline(Handle h, String id, String device, long now) {
    h.createUpdate(
            "UPDATE rollout_devices SET released_at = :now WHERE rollout_id = :id AND device_id ="
                + " :d AND state = 'RELEASED'")
        .bind("now", now)
        .bind("id", id)
        .bind("d", device)
        .execute();
  }

  /** The devices of a rollout with what they report of its app, by batch then id. */
  List<MemberRow> members(Handle h, String id, String app) {
    String to =
        h.createQuery("SELECT to_revision FROM rollouts WHERE id = :id")
            .bind("id", id)
            .mapTo(String.class)
            .one();
    List<MemberRow> members =
        h.createQuery(
                "SELECT device_id, batch, state, prev_revision, prev_bundle, released_at FROM"
                    + " rollout_devices WHERE rollout_id = :id ORDER BY batch, device_id")
            .bind("id", id)
            .map(
                (rs, ctx) ->
                    new MemberRow(
                        rs.getString(1),
                        null,
                        rs.getInt(2),
                        Member.valueOf(rs.getString(3)),
                        rs.getString(4),
                        rs.getString(5),
                        nullableLong(rs, 6),
                        null,
                        null,
                        null,
                        null,
                        null,
                        null,
                        to))
            .list();
    // Names and tags from the devices' owner, reports from the desired state's: members of
    // devices that no longer exist are left out.
    Map<String, DeviceStore.Labels> labels =
        deviceStore.labels(h, members.stream().map(MemberRow::deviceId).toList());
    Map<String, DeviceAppReads.Report> reports =
        members.isEmpty()
            ? Map.of()
            : subjects.owns(app)
                ? subjects.reports(h, app, to, labels.keySet())
                : deviceApps.reports(h, app);
    List<MemberRow> out = new ArrayList<>(members.size());
    for (MemberRow m : members) {
      DeviceStore.Labels l = labels.get(m.deviceId());
      if (l == null) {
        continue;
      }
      DeviceAppReads.Report a = reports.get(m.deviceId());
      out.add(
          new MemberRow(
              m.deviceId(),
              l.name(),
              m.batch(),
              m.state(),
              m.prevRevision(),
              m.prevBundle(),
              m.releasedAt(),
              l.tags(),
              a == null ? null : a.desiredRevision(),
              a == null ? null : a.running(),
              a == null ? null : a.phase(),
              a == null ? null : a.reason(),
              a == null ? null : a.renderError(),
              to,
              a == null ? null : a.notPlaced()));
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // History

  void event(Handle h, String id, long now, String kind, Integer batch, String message) {
    long seq =
        h.createQuery("SELECT COALESCE(MAX(seq), 0) + 1 FROM rollout_events WHERE rollout_id = :id")
            .bind("id", id)
            .mapTo(Long.class)
            .one();
    h.createUpdate(
            "INSERT INTO rollout_events (id, rollout_id, seq, at, kind, batch, message) VALUES"
                + " (:eid, :id, :seq, :at, :kind, :batch, :msg)")
        .bind("eid", Ids.next("rev"))
        .bind("id", id)
        .bind("seq", seq)
        .bind("at", now)
        .bind("kind", kind)
        .bind("batch", batch)
        .bind("msg", message)
        .execute();
    LOG.info("rollout {} {}: {}", id, kind, message);
  }

  List<EventView> events(Handle h, String id) {
    return h.createQuery(
            "SELECT seq, at, kind, batch, message FROM rollout_events WHERE rollout_id ="
                + " :id ORDER BY seq")
        .bind("id", id)
        .map(
            (rs, ctx) -> {
              int b = rs.getInt(4);
              Integer batch = rs.wasNull() ? null : b;
              return new EventView(
                  rs.getLong(1),
                  Instant.ofEpochMilli(rs.getLong(2)),
                  rs.getString(3),
                  batch,
                  rs.getString(5));
            })
        .list();
  }

  // -------------------------------------------------------------------------------------------

  private static Row rowOf(ResultSet rs) throws SQLException {
    return new Row(
        rs.getString(1),
        rs.getString(2),
        rs.getString(3),
        rs.getString(4),
        rs.getString(5),
        rs.getString(6),
        rs.getString(7),
        State.valueOf(rs.getString(8)),
        rs.getInt(9),
        rs.getString(10),
        rs.getString(11),
        rs.getLong(12),
        rs.getLong(13),
        nullableLong(rs, 14),
        nullableLong(rs, 15));
  }

  private static Long nullableLong(ResultSet rs, int col) throws SQLException {
    long v = rs.getLong(col);
    return rs.wasNull() ? null : v;
  }
}
