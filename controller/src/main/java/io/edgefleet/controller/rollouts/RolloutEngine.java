package io.edgefleet.controller.rollouts;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.common.Ids;
import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.controller.desired.ReleaseGate;
import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.gitops.ContentRevision;
import io.edgefleet.controller.store.JsonColumns;
import io.edgefleet.protocol.Durations;
import io.edgefleet.protocol.ErrorCode;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Phased rollouts as an explicit state machine kept in the database and advanced by {@link
 * #tick(Instant)}. Each tick reads what devices report they run, releases the devices of the
 * current batch that are inside their maintenance window and within the disruption budget, and
 * moves a batch on when enough of its devices are {@code READY} on the new revision (then soaks),
 * fails it when too many failed or a released device missed its deadline, and pauses or rolls back
 * as the policy says. Offline devices are pending, never failed and never done.
 *
 * <p>Every transition of one rollout is one transaction: a controller killed at any point resumes
 * where the last committed tick left it, releases no device twice and skips no batch. Ticks and
 * commands are serialized on this instance.
 */
public final class RolloutEngine {
  private static final Logger LOG = LoggerFactory.getLogger(RolloutEngine.class);
  private static final Duration MEMBERSHIP_REFRESH = Duration.ofSeconds(30);
  private static final String ROLLING_BACK = "rolling back: ";

  /** The state of a rollout. */
  public enum State {
    PROGRESSING,
    PAUSED,
    ROLLING_BACK,
    SUCCEEDED,
    ROLLED_BACK,
    ABORTED,
    SUPERSEDED;

    public boolean finished() {
      return this == SUCCEEDED || this == ROLLED_BACK || this == ABORTED || this == SUPERSEDED;
    }
  }

  /** The state of a batch. */
  public enum BatchState {
    PENDING,
    UPDATING,
    SOAKING,
    SUCCEEDED,
    FAILED
  }

  /** What the rollout did with a device (stored). */
  enum Member {
    /** Not released yet: gets what it had before. */
    WAITING,
    /** Released to the new revision. */
    RELEASED,
    /** Rolled back: gets what it had before. */
    REVERTED,
    /** No longer targeted (tags changed, decommissioned). */
    LEFT
  }

  /** How a device stands in a rollout (derived from what it reports). */
  public enum DeviceState {
    WAITING,
    OUTSIDE_WINDOW,
    WAITING_BUDGET,
    UPDATING,
    READY,
    FAILED,
    PENDING_OFFLINE,
    REVERTING,
    REVERTED,
    LEFT
  }

  /** What a new rollout is about. */
  public record Start(
      String subject,
      String app,
      String source,
      Optional<String> fromRevision,
      String toRevision,
      RolloutPolicy policy,
      AppCatalog.Target target,
      String actor) {}

  /** Per-batch or per-rollout device counts. */
  public record Counts(
      int targeted,
      int updated,
      int ready,
      int failed,
      int pending,
      int pendingOffline,
      int outsideWindow) {}

  public record BatchView(
      int index,
      String name,
      BatchState state,
      Counts counts,
      int successThreshold,
      int failureThreshold,
      String soak,
      String progressDeadline,
      Instant startedAt,
      Instant soakUntil,
      Instant finishedAt,
      String reason) {}

  public record DeviceView(
      String deviceId,
      String deviceName,
      int batch,
      DeviceState state,
      String runningRevision,
      String reason) {}

  public record EventView(long seq, Instant at, String kind, Integer batch, String message) {}

  /** A rollout as listed. */
  public record Summary(
      String id,
      String app,
      String source,
      String fromRevision,
      String toRevision,
      State state,
      int batch,
      int batches,
      String reason,
      String createdBy,
      Instant createdAt,
      Instant updatedAt,
      Instant finishedAt) {}

  /** A rollout with its batches, devices and history. */
  public record View(
      String id,
      String app,
      String source,
      String fromRevision,
      String toRevision,
      State state,
      int batch,
      String reason,
      String policy,
      String policySummary,
      Counts counts,
      List<BatchView> batches,
      List<DeviceView> devices,
      List<EventView> events,
      String createdBy,
      Instant createdAt,
      Instant updatedAt,
      Instant finishedAt) {}

  private final Jdbi jdbi;
  private final Clock clock;
  private final Supplier<List<AppCatalog.App>> apps;
  private final Function<String, DeviceStatus> presence;
  private final RolloutGate gate = new RolloutGate();
  private final Map<String, RolloutPolicy> policies = new ConcurrentHashMap<>();
  private final Map<String, Instant> membershipCheckedAt = new ConcurrentHashMap<>();
  private volatile Consumer<String> recompute = id -> {};
  private volatile boolean devicesChanged;
  private volatile Supplier<Map<String, String>> gitPolicies = Map::of;

  public RolloutEngine(
      Jdbi jdbi,
      Clock clock,
      Supplier<List<AppCatalog.App>> apps,
      Function<String, DeviceStatus> presence) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.apps = apps;
    this.presence = presence;
  }

  /** The gate the desired-state engine asks which revision of a phased app a device gets. */
  public ReleaseGate gate() {
    return gate;
  }

  /** Called with a device id whenever what the device should run may have changed. */
  public void onRelease(Consumer<String> recompute) {
    this.recompute = recompute;
  }

  /** Devices changed (tags, lifecycle): rollouts re-check which devices they target. */
  public void devicesChanged() {
    devicesChanged = true;
  }

  // -------------------------------------------------------------------------------------------
  // Creating rollouts

  /**
   * Runs work that starts or ends rollouts in one transaction, serialized with ticks and commands.
   * Callers that need {@link #start} or {@link #abortSubject} use this (never their own
   * transaction), so the engine lock is always taken before a database connection.
   */
  public <T> T transaction(java.util.function.Function<Handle, T> work) {
    T result;
    synchronized (this) {
      result = jdbi.inTransaction(work::apply);
      gate.invalidate();
    }
    return result;
  }

  /**
   * Starts a rollout inside {@link #transaction}: supersedes the subject's unfinished rollout,
   * plans the batches over the devices the target matches now, and starts the first batch. No
   * device is released before the next tick.
   *
   * @return the new rollout's id
   */
  public String start(Handle h, Start s) {
    long now = clock.millis();
    for (String old :
        h.createQuery(
                "SELECT id FROM rollouts WHERE subject = :s AND state IN ('PROGRESSING','PAUSED',"
                    + "'ROLLING_BACK')")
            .bind("s", s.subject())
            .mapTo(String.class)
            .list()) {
      finish(h, old, State.SUPERSEDED, "superseded by a newer rollout of " + s.app(), now);
      event(h, old, now, "SUPERSEDED", null, "superseded by a newer rollout");
    }
    String id = Ids.next("ro");
    long seq =
        h.createQuery("SELECT COALESCE(MAX(seq), 0) + 1 FROM rollouts").mapTo(Long.class).one();
    List<BatchPlanner.Member> targeted = targetedDevices(h, s.target());
    List<BatchPlanner.PlannedBatch> plan = BatchPlanner.plan(s.policy(), targeted);
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
    Map<String, String[]> previous = previousEntries(h, s.app());
    for (BatchPlanner.PlannedBatch b : plan) {
      insertBatch(h, id, b.index(), b.name(), b.thresholds(), b.index() == 0 ? now : null);
      for (String device : b.deviceIds()) {
        addMember(h, id, device, b.index(), previous.get(device));
      }
    }
    event(
        h,
        id,
        now,
        "CREATED",
        null,
        "rollout of "
            + s.app()
            + " "
            + s.fromRevision().map(f -> f + " → ").orElse("")
            + s.toRevision()
            + " to "
            + targeted.size()
            + " device(s) in "
            + plan.size()
            + " batch(es)"
            + (plan.isEmpty()
                ? ""
                : ": "
                    + plan.stream()
                        .map(b -> b.name() + " " + b.deviceIds().size())
                        .collect(Collectors.joining(", ")))
            + "; policy: "
            + s.policy().describe());
    if (plan.isEmpty()) {
      finish(h, id, State.SUCCEEDED, "no device matches the target", now);
      event(h, id, now, "SUCCEEDED", null, "no device matches the target");
    } else {
      event(h, id, now, "BATCH_STARTED", 0, "batch '" + plan.get(0).name() + "' started");
      setReason(h, id, "batch '" + plan.get(0).name() + "' started", now);
    }
    membershipCheckedAt.put(id, clock.instant());
    return id;
  }

  /** Ends every unfinished rollout of a subject (its app was removed). */
  public void abortSubject(Handle h, String subject, String reason) {
    long now = clock.millis();
    for (String id :
        h.createQuery(
                "SELECT id FROM rollouts WHERE subject = :s AND state IN ('PROGRESSING','PAUSED',"
                    + "'ROLLING_BACK')")
            .bind("s", subject)
            .mapTo(String.class)
            .list()) {
      finish(h, id, State.ABORTED, reason, now);
      event(h, id, now, "ABORTED", null, reason);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Operator commands

  public View pause(String id, String actor) {
    return command(
        id,
        (h, r, now) -> {
          require(r, "pause", State.PROGRESSING);
          h.createUpdate("UPDATE rollouts SET state = 'PAUSED', updated_at = :now WHERE id = :id")
              .bind("now", now)
              .bind("id", id)
              .execute();
          setReason(
              h, id, "paused by " + actor + "; resume with `rollouts resume " + id + "`", now);
          event(h, id, now, "PAUSED", r.batch(), "paused by " + actor);
          return Set.of();
        });
  }

  /**
   * Resumes a paused rollout. A failed batch starts over with a fresh deadline for its devices that
   * are not ready yet.
   */
  public View resume(String id, String actor) {
    return command(
        id,
        (h, r, now) -> {
          require(r, "resume", State.PAUSED);
          h.createUpdate(
                  "UPDATE rollouts SET state = 'PROGRESSING', updated_at = :now WHERE id = :id")
              .bind("now", now)
              .bind("id", id)
              .execute();
          h.createUpdate(
                  "UPDATE rollout_batches SET state = 'UPDATING', started_at = :now, soak_until ="
                      + " NULL, reason = NULL WHERE rollout_id = :id AND idx = :b AND state IN"
                      + " ('FAILED','PENDING')")
              .bind("now", now)
              .bind("id", id)
              .bind("b", r.batch())
              .execute();
          h.createUpdate(
                  "UPDATE rollout_devices SET released_at = :now WHERE rollout_id = :id AND state ="
                      + " 'RELEASED' AND batch = :b")
              .bind("now", now)
              .bind("id", id)
              .bind("b", r.batch())
              .execute();
          setReason(h, id, "resumed by " + actor, now);
          event(h, id, now, "RESUMED", r.batch(), "resumed by " + actor);
          return Set.of();
        });
  }

  /** Stops a rollout where it is: released devices keep the new revision, the others the old. */
  public View abort(String id, String actor) {
    return command(
        id,
        (h, r, now) -> {
          require(r, "abort", State.PROGRESSING, State.PAUSED, State.ROLLING_BACK);
          String why =
              "aborted by " + actor + "; devices not yet updated keep their previous version";
          finish(h, id, State.ABORTED, why, now);
          event(h, id, now, "ABORTED", r.batch(), why);
          return Set.of();
        });
  }

  /** Returns every device the rollout released to what it ran before. */
  public View rollback(String id, String actor) {
    return command(
        id,
        (h, r, now) -> {
          require(r, "roll back", State.PROGRESSING, State.PAUSED, State.SUCCEEDED, State.ABORTED);
          RolloutGate.Latest latest = gate.latest(h).get(r.subject());
          if (latest == null || !latest.id().equals(id)) {
            throw new ControllerException(
                ErrorCode.ROLLOUT_STATE_CONFLICT,
                "rollout "
                    + id
                    + " is not the latest of "
                    + r.app()
                    + "; roll back the latest one (see `rollouts list`)");
          }
          return startRollback(h, r, "rolled back by " + actor, now);
        });
  }

  @FunctionalInterface
  private interface Command {
    Set<String> apply(Handle h, Row r, long now);
  }

  private View command(String id, Command c) {
    Set<String> touched;
    synchronized (this) {
      touched =
          jdbi.inTransaction(
              h -> {
                Row r = row(h, id).orElseThrow(() -> ControllerException.notFound("rollout", id));
                return c.apply(h, r, clock.millis());
              });
      gate.invalidate();
    }
    touched.forEach(recompute);
    return view(id, true);
  }

  private static void require(Row r, String action, State... allowed) {
    for (State s : allowed) {
      if (r.state() == s) {
        return;
      }
    }
    throw new ControllerException(
        ErrorCode.ROLLOUT_STATE_CONFLICT,
        "cannot "
            + action
            + " rollout "
            + r.id()
            + ": it is "
            + r.state()
            + " (allowed when "
            + java.util.Arrays.stream(allowed).map(Enum::name).collect(Collectors.joining(", "))
            + ")");
  }

  // -------------------------------------------------------------------------------------------
  // The state machine

  /** Advances every unfinished rollout to {@code now}. */
  public void tick(Instant now) {
    // Cheap checks first: with nothing in flight and no phased Git source there is nothing to read.
    Map<String, String> policies = gitPolicies.get();
    List<String> active = activeIds();
    if (active.isEmpty() && policies.isEmpty()) {
      return;
    }
    Map<String, AppCatalog.App> bySubject = new HashMap<>();
    try {
      for (AppCatalog.App a : apps.get()) {
        bySubject.putIfAbsent(a.subject(), a);
      }
    } catch (RuntimeException e) {
      LOG.warn("rollouts wait: the app catalog could not be read: {}", e.toString());
      return;
    }
    if (!policies.isEmpty() && startGitRollouts(bySubject, policies)) {
      active = activeIds();
    }
    if (active.isEmpty()) {
      return;
    }
    boolean refreshAll = devicesChanged;
    devicesChanged = false;
    for (String id : active) {
      Set<String> touched;
      try {
        synchronized (this) {
          touched = jdbi.inTransaction(h -> step(h, id, now, bySubject, refreshAll));
          gate.invalidate();
        }
      } catch (RuntimeException e) {
        LOG.warn("rollout {} could not advance: {}", id, e.toString(), e);
        continue;
      }
      touched.forEach(recompute);
    }
  }

  private List<String> activeIds() {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT id FROM rollouts WHERE state IN ('PROGRESSING','PAUSED',"
                        + "'ROLLING_BACK') ORDER BY seq")
                .mapTo(String.class)
                .list());
  }

  /** Where the policies of phased Git sources come from: source name → policy text. */
  public void gitPolicies(Supplier<Map<String, String>> policies) {
    this.gitPolicies = policies;
  }

  /**
   * Starts a rollout for every phased Git app whose current revision has none yet. A Git app's
   * revision is a digest of its content, so only a commit that changes an app starts one for it.
   * The one exception is an app whose latest rollout went to a commit SHA (started before revisions
   * were content digests): if the app has the same content now, the rollout to its new name is one
   * batch, at once, since nothing runs differently.
   */
  private boolean startGitRollouts(
      Map<String, AppCatalog.App> bySubject, Map<String, String> policies) {
    boolean started = false;
    for (AppCatalog.App app : bySubject.values()) {
      String text = policies.get(app.source());
      if (!app.phased() || app.source().equals(Deployments.SOURCE) || text == null) {
        continue;
      }
      // The cached latest rollouts answer the usual case (nothing new) without a transaction.
      if (hasRolloutFor(jdbi.withHandle(gate::latest), app)) {
        continue;
      }
      try {
        started |=
            transaction(
                h -> {
                  RolloutGate.Latest latest = gate.latest(h).get(app.subject());
                  if (hasRolloutFor(gate.latest(h), app)) {
                    return false;
                  }
                  Optional<String> from =
                      Optional.ofNullable(latest).map(RolloutGate.Latest::toRevision);
                  boolean unchanged = from.isPresent() && sameContent(h, app, from.get());
                  String by =
                      app.commit() == null
                          ? "git"
                          : "git commit " + ContentRevision.shortSha(app.commit());
                  start(
                      h,
                      new Start(
                          app.subject(),
                          app.name(),
                          app.source(),
                          from,
                          app.revision(),
                          unchanged ? RolloutPolicy.defaults() : policy(text),
                          app.target(),
                          unchanged ? by + " (content unchanged)" : by));
                  return true;
                });
      } catch (RuntimeException e) {
        LOG.warn("no rollout could start for {}: {}", app.subject(), e.toString());
      }
    }
    return started;
  }

  private static boolean hasRolloutFor(Map<String, RolloutGate.Latest> latest, AppCatalog.App app) {
    RolloutGate.Latest l = latest.get(app.subject());
    return l != null && l.toRevision().equals(app.revision());
  }

  /**
   * Whether the app had the content of its current revision at the commit {@code fromRevision}
   * names: only for revisions that are commit SHAs, from before revisions were content digests.
   */
  private static boolean sameContent(Handle h, AppCatalog.App app, String fromRevision) {
    if (!ContentRevision.isCommitSha(fromRevision)) {
      return false; // a content revision, and not the current one
    }
    Optional<String[]> then =
        h.createQuery(
                "SELECT revision, tree_id FROM git_apps WHERE source = :s AND name = :n AND sha ="
                    + " :sha")
            .bind("s", app.source())
            .bind("n", app.name())
            .bind("sha", fromRevision)
            .map((rs, ctx) -> new String[] {rs.getString(1), rs.getString(2)})
            .findOne();
    if (then.isEmpty()) {
      return false;
    }
    if (then.get()[0] != null) {
      return then.get()[0].equals(app.revision());
    }
    // Not filled in yet: the same directory tree is the same content.
    return h.createQuery(
                "SELECT COUNT(*) FROM git_apps WHERE source = :s AND name = :n AND revision = :r"
                    + " AND tree_id = :t")
            .bind("s", app.source())
            .bind("n", app.name())
            .bind("r", app.revision())
            .bind("t", then.get()[1])
            .mapTo(Integer.class)
            .one()
        > 0;
  }

  private Set<String> step(
      Handle h,
      String id,
      Instant now,
      Map<String, AppCatalog.App> bySubject,
      boolean refreshMembers) {
    Row r = row(h, id).orElseThrow();
    long nowMs = now.toEpochMilli();
    Set<String> touched = new LinkedHashSet<>();
    AppCatalog.App app = bySubject.get(r.subject());
    if (r.state() != State.ROLLING_BACK) {
      if (app == null || !app.revision().equals(r.toRevision())) {
        if (app == null) {
          String why = r.app() + " is no longer in its source; the rollout ends";
          finish(h, id, State.ABORTED, why, nowMs);
          event(h, id, nowMs, "ABORTED", r.batch(), why);
          return touched;
        }
        // A newer revision exists: the rollout that introduces it supersedes this one.
        return touched;
      }
      Instant checked = membershipCheckedAt.get(id);
      if (refreshMembers
          || checked == null
          || Duration.between(checked, now).compareTo(MEMBERSHIP_REFRESH) >= 0) {
        refreshMembership(h, r, app.target(), nowMs);
        membershipCheckedAt.put(id, now);
      }
    }
    RolloutPolicy policy = policy(r.policy());
    List<BatchRow> batches = batches(h, id);
    List<MemberRow> members = members(h, id, r.app());
    Map<String, Status> status = new HashMap<>();
    for (MemberRow m : members) {
      status.put(m.deviceId(), classify(m, r, batches, policy, now));
    }
    if (r.state() == State.ROLLING_BACK) {
      stepRollback(h, r, members, status, batches, nowMs);
      return touched;
    }
    if (r.state() == State.PAUSED) {
      return touched;
    }
    BatchRow current = batches.get(r.batch());
    // Release eligible devices of this and earlier batches, within the disruption budget.
    Map<String, Integer> unavailable = new HashMap<>();
    Optional<RolloutPolicy.DisruptionBudget> budget = policy.disruptionBudget();
    if (budget.isPresent()) {
      for (MemberRow m : members) {
        DeviceState s = status.get(m.deviceId()).state();
        if (m.state() == Member.RELEASED
            && (s == DeviceState.UPDATING || s == DeviceState.FAILED)) {
          unavailable.merge(group(m, budget.get()), 1, Integer::sum);
        }
      }
    }
    List<String> released = new ArrayList<>();
    for (MemberRow m : members) {
      if (m.state() != Member.WAITING || m.batch() > current.index()) {
        continue;
      }
      Status s = status.get(m.deviceId());
      if (s.state() != DeviceState.WAITING) {
        continue;
      }
      if (budget.isPresent()) {
        String g = group(m, budget.get());
        int used = unavailable.getOrDefault(g, 0);
        if (used >= budget.get().maxUnavailable()) {
          status.put(
              m.deviceId(),
              new Status(
                  DeviceState.WAITING_BUDGET,
                  "disruption budget: "
                      + used
                      + " device(s) of "
                      + budget.get().tag()
                      + "="
                      + (g.isEmpty() ? "(none)" : g)
                      + " updating"));
          continue;
        }
        unavailable.put(g, used + 1);
      }
      released.add(m.deviceId());
      status.put(m.deviceId(), new Status(DeviceState.UPDATING, "released"));
    }
    if (!released.isEmpty()) {
      for (String device : released) {
        h.createUpdate(
                "UPDATE rollout_devices SET state = 'RELEASED', released_at = :now WHERE"
                    + " rollout_id = :id AND device_id = :d AND state = 'WAITING'")
            .bind("now", nowMs)
            .bind("id", id)
            .bind("d", device)
            .execute();
      }
      touched.addAll(released);
      event(
          h,
          id,
          nowMs,
          "RELEASED",
          current.index(),
          released.size() + " device(s) released: " + abbreviate(released));
    }
    evaluate(h, r, policy, current, batches, members, status, nowMs, touched);
    return touched;
  }

  private void evaluate(
      Handle h,
      Row r,
      RolloutPolicy policy,
      BatchRow b,
      List<BatchRow> batches,
      List<MemberRow> members,
      Map<String, Status> status,
      long now,
      Set<String> touched) {
    String id = r.id();
    List<MemberRow> inBatch =
        members.stream().filter(m -> m.batch() == b.index() && m.state() != Member.LEFT).toList();
    Counts c = counts(inBatch, status);
    String label = "batch " + (b.index() + 1) + "/" + batches.size() + " '" + b.name() + "'";
    if (c.targeted() > 0 && c.failed() * 100 > b.failurePercent() * c.targeted()) {
      String failures =
          inBatch.stream()
              .filter(m -> status.get(m.deviceId()).state() == DeviceState.FAILED)
              .limit(5)
              .map(m -> m.name() + ": " + status.get(m.deviceId()).reason())
              .collect(Collectors.joining("; "));
      String why =
          label
              + " failed: "
              + c.failed()
              + " of "
              + c.targeted()
              + " device(s) failed (threshold "
              + b.failurePercent()
              + "%) — "
              + failures;
      setBatch(h, id, b.index(), BatchState.FAILED, now, why);
      event(h, id, now, "BATCH_FAILED", b.index(), why);
      if (policy.onFailure() == RolloutPolicy.FailureAction.ROLLBACK) {
        touched.addAll(startRollback(h, r, why, now));
      } else {
        h.createUpdate("UPDATE rollouts SET state = 'PAUSED', updated_at = :now WHERE id = :id")
            .bind("now", now)
            .bind("id", id)
            .execute();
        String reason =
            why
                + ". Paused: fix the app and `rollouts resume "
                + id
                + "`, or `rollouts rollback "
                + id
                + "`";
        setReason(h, id, reason, now);
        event(h, id, now, "PAUSED", b.index(), "paused after a failed batch");
      }
      return;
    }
    boolean succeeded = c.ready() * 100 >= b.successPercent() * c.targeted();
    if (b.state() == BatchState.UPDATING) {
      if (succeeded) {
        if (b.soakMs() > 0) {
          h.createUpdate(
                  "UPDATE rollout_batches SET state = 'SOAKING', soak_until = :until WHERE"
                      + " rollout_id = :id AND idx = :b")
              .bind("until", now + b.soakMs())
              .bind("id", id)
              .bind("b", b.index())
              .execute();
          String msg =
              label
                  + ": "
                  + c.ready()
                  + "/"
                  + c.targeted()
                  + " ready; soaking for "
                  + Durations.human(Duration.ofMillis(b.soakMs()));
          event(h, id, now, "BATCH_SOAKING", b.index(), msg);
          setReason(h, id, msg, now);
        } else {
          nextBatch(h, r, b, batches, c, now, "");
        }
        return;
      }
      boolean pastDeadline = b.startedAt() != null && now >= b.startedAt() + b.deadlineMs();
      int notOffline = c.targeted() - c.pendingOffline();
      if (pastDeadline
          && c.pendingOffline() > 0
          && c.ready() * 100 >= b.successPercent() * notOffline) {
        if (policy.offlineAtDeadline() == RolloutPolicy.OfflineAction.PROCEED) {
          nextBatch(
              h,
              r,
              b,
              batches,
              c,
              now,
              "; went on without "
                  + c.pendingOffline()
                  + " offline device(s), which update when they reconnect");
        } else {
          h.createUpdate("UPDATE rollouts SET state = 'PAUSED', updated_at = :now WHERE id = :id")
              .bind("now", now)
              .bind("id", id)
              .execute();
          String why =
              label
                  + ": deadline passed with "
                  + c.pendingOffline()
                  + " device(s) offline. Paused (offlineAtDeadline: pause): `rollouts resume "
                  + id
                  + "` to wait again";
          setReason(h, id, why, now);
          event(h, id, now, "PAUSED", b.index(), why);
        }
        return;
      }
      setReason(h, id, waiting(label, b, c, inBatch, status), now);
      return;
    }
    if (b.state() == BatchState.SOAKING && b.soakUntil() != null && now >= b.soakUntil()) {
      nextBatch(h, r, b, batches, c, now, " after soaking");
    }
  }

  private void nextBatch(
      Handle h, Row r, BatchRow b, List<BatchRow> batches, Counts c, long now, String note) {
    String id = r.id();
    String label = "batch " + (b.index() + 1) + "/" + batches.size() + " '" + b.name() + "'";
    String msg = label + " succeeded: " + c.ready() + "/" + c.targeted() + " ready" + note;
    setBatch(h, id, b.index(), BatchState.SUCCEEDED, now, msg);
    event(h, id, now, "BATCH_SUCCEEDED", b.index(), msg);
    if (b.index() + 1 >= batches.size()) {
      finish(h, id, State.SUCCEEDED, "every batch succeeded", now);
      event(h, id, now, "SUCCEEDED", null, r.app() + " " + r.toRevision() + " rolled out");
      return;
    }
    BatchRow next = batches.get(b.index() + 1);
    h.createUpdate(
            "UPDATE rollout_batches SET state = 'UPDATING', started_at = :now WHERE rollout_id ="
                + " :id AND idx = :b")
        .bind("now", now)
        .bind("id", id)
        .bind("b", next.index())
        .execute();
    h.createUpdate("UPDATE rollouts SET batch = :b, updated_at = :now WHERE id = :id")
        .bind("b", next.index())
        .bind("now", now)
        .bind("id", id)
        .execute();
    String started = "batch '" + next.name() + "' started";
    event(h, id, now, "BATCH_STARTED", next.index(), started);
    setReason(h, id, started, now);
  }

  private Set<String> startRollback(Handle h, Row r, String why, long now) {
    String id = r.id();
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
    setReason(h, id, ROLLING_BACK + why, now);
    event(
        h,
        id,
        now,
        "ROLLING_BACK",
        r.batch(),
        released.size()
            + " device(s) return to the version they ran before"
            + (r.fromRevision() == null ? " (none: the app is removed from them)" : "")
            + ": "
            + why);
    return new LinkedHashSet<>(released);
  }

  private void stepRollback(
      Handle h,
      Row r,
      List<MemberRow> members,
      Map<String, Status> status,
      List<BatchRow> batches,
      long now) {
    int reverted = 0;
    int back = 0;
    int offline = 0;
    for (MemberRow m : members) {
      if (m.state() != Member.REVERTED) {
        continue;
      }
      reverted++;
      DeviceState s = status.get(m.deviceId()).state();
      if (s == DeviceState.REVERTED) {
        back++;
      } else if (s == DeviceState.PENDING_OFFLINE) {
        offline++;
      }
    }
    long deadline =
        batches.stream().mapToLong(BatchRow::deadlineMs).max().orElse(600_000)
            + (r.rollbackAt() == null ? now : r.rollbackAt());
    String cause =
        r.reason().startsWith(ROLLING_BACK)
            ? "rolled back: " + r.reason().substring(ROLLING_BACK.length())
            : "rolled back";
    if (back + offline >= reverted || now >= deadline) {
      String note =
          back
              + "/"
              + reverted
              + " device(s) back on their previous version"
              + (offline > 0 ? "; " + offline + " offline return when they reconnect" : "")
              + (back + offline < reverted
                  ? "; " + (reverted - back - offline) + " did not report back before the deadline"
                  : "");
      finish(h, r.id(), State.ROLLED_BACK, cause + " (" + note + ")", now);
      event(h, r.id(), now, "ROLLED_BACK", r.batch(), note);
    } else {
      h.createUpdate("UPDATE rollouts SET updated_at = :now WHERE id = :id")
          .bind("now", now)
          .bind("id", r.id())
          .execute();
    }
  }

  private record Status(DeviceState state, String reason) {}

  private Status classify(
      MemberRow m, Row r, List<BatchRow> batches, RolloutPolicy policy, Instant now) {
    boolean online = presence.apply(m.deviceId()) == DeviceStatus.ONLINE;
    String to = r.toRevision();
    switch (m.state()) {
      case LEFT -> {
        return new Status(DeviceState.LEFT, "no longer targeted");
      }
      case REVERTED -> {
        boolean isBack =
            m.prevBundle() == null
                ? m.desiredRevision() == null
                : Objects.equals(m.running(), m.prevRevision())
                    && "READY".equals(m.phase())
                    && Objects.equals(m.desiredRevision(), m.prevRevision());
        if (isBack) {
          return new Status(
              DeviceState.REVERTED,
              m.prevBundle() == null ? "app removed" : "back on " + m.prevRevision());
        }
        return online
            ? new Status(
                DeviceState.REVERTING,
                "returning to " + (m.prevRevision() == null ? "nothing" : m.prevRevision()))
            : new Status(DeviceState.PENDING_OFFLINE, "offline; rolls back when it reconnects");
      }
      case WAITING -> {
        return switch (policy.maintenance().check(m.tags(), now)) {
          case MaintenanceWindows.Open o ->
              new Status(DeviceState.WAITING, "waiting for its batch");
          case MaintenanceWindows.Closed c -> new Status(DeviceState.OUTSIDE_WINDOW, c.reason());
          case MaintenanceWindows.Never n -> new Status(DeviceState.OUTSIDE_WINDOW, n.reason());
        };
      }
      case RELEASED -> {
        boolean runsNew = Objects.equals(m.running(), to);
        if (runsNew && "READY".equals(m.phase())) {
          return new Status(DeviceState.READY, "running " + to);
        }
        if (m.renderError() != null && Objects.equals(m.desiredRevision(), to) && !runsNew) {
          return new Status(DeviceState.FAILED, "cannot be rendered: " + m.renderError());
        }
        if (runsNew && "FAILED".equals(m.phase())) {
          return new Status(DeviceState.FAILED, Objects.requireNonNullElse(m.reason(), "failed"));
        }
        if (!online) {
          return new Status(DeviceState.PENDING_OFFLINE, "offline; updates when it reconnects");
        }
        BatchRow b = batches.get(Math.min(m.batch(), batches.size() - 1));
        String detail =
            runsNew
                ? (m.phase() == null ? "applying" : m.phase().toLowerCase(java.util.Locale.ROOT))
                    + (m.reason() == null ? "" : ": " + m.reason())
                : m.running() == null ? "not reported yet" : "still running " + m.running();
        if (m.releasedAt() != null && now.toEpochMilli() >= m.releasedAt() + b.deadlineMs()) {
          return new Status(
              DeviceState.FAILED,
              "not READY within "
                  + Durations.human(Duration.ofMillis(b.deadlineMs()))
                  + " ("
                  + detail
                  + ")");
        }
        return new Status(DeviceState.UPDATING, detail);
      }
    }
    throw new IllegalStateException();
  }

  private static Counts counts(List<MemberRow> members, Map<String, Status> status) {
    int targeted = 0;
    int updated = 0;
    int ready = 0;
    int failed = 0;
    int pending = 0;
    int offline = 0;
    int window = 0;
    for (MemberRow m : members) {
      DeviceState s = status.get(m.deviceId()).state();
      if (s == DeviceState.LEFT) {
        continue;
      }
      targeted++;
      switch (s) {
        case READY -> ready++;
        case FAILED -> failed++;
        case PENDING_OFFLINE -> offline++;
        case OUTSIDE_WINDOW -> window++;
        default -> pending++;
      }
      if (m.state() == Member.RELEASED && m.running() != null && m.running().equals(m.toRev())) {
        updated++;
      }
    }
    return new Counts(targeted, updated, ready, failed, pending, offline, window);
  }

  private static String waiting(
      String label, BatchRow b, Counts c, List<MemberRow> inBatch, Map<String, Status> status) {
    StringBuilder sb = new StringBuilder(label);
    sb.append(": ")
        .append(c.ready())
        .append('/')
        .append(c.targeted())
        .append(" ready, needs ")
        .append(b.successPercent())
        .append('%');
    Map<DeviceState, Long> by =
        inBatch.stream()
            .collect(
                Collectors.groupingBy(
                    m -> status.get(m.deviceId()).state(),
                    LinkedHashMap::new,
                    Collectors.counting()));
    for (var e : by.entrySet()) {
      if (e.getKey() == DeviceState.READY) {
        continue;
      }
      sb.append("; ")
          .append(e.getValue())
          .append(' ')
          .append(e.getKey().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
    }
    inBatch.stream()
        .filter(m -> status.get(m.deviceId()).state() == DeviceState.OUTSIDE_WINDOW)
        .findFirst()
        .ifPresent(m -> sb.append(" (").append(status.get(m.deviceId()).reason()).append(')'));
    return sb.toString();
  }

  private static String group(MemberRow m, RolloutPolicy.DisruptionBudget budget) {
    return m.tags().getOrDefault(budget.tag(), "");
  }

  private static String abbreviate(List<String> ids) {
    return ids.size() <= 10
        ? String.join(", ", ids)
        : String.join(", ", ids.subList(0, 10)) + " and " + (ids.size() - 10) + " more";
  }

  // -------------------------------------------------------------------------------------------
  // Membership

  private List<BatchPlanner.Member> targetedDevices(Handle h, AppCatalog.Target target) {
    return h
        .createQuery("SELECT id, tags FROM devices WHERE lifecycle = 'ACTIVE' ORDER BY id")
        .map(
            (rs, ctx) ->
                new BatchPlanner.Member(rs.getString(1), JsonColumns.tags(rs.getString(2))))
        .list()
        .stream()
        .filter(m -> target.matches(m.tags()))
        .toList();
  }

  private void refreshMembership(Handle h, Row r, AppCatalog.Target target, long now) {
    Map<String, BatchPlanner.Member> matching = new LinkedHashMap<>();
    targetedDevices(h, target).forEach(m -> matching.put(m.deviceId(), m));
    Map<String, Member> known = new HashMap<>();
    h.createQuery("SELECT device_id, state FROM rollout_devices WHERE rollout_id = :id")
        .bind("id", r.id())
        .map((rs, ctx) -> Map.entry(rs.getString(1), Member.valueOf(rs.getString(2))))
        .forEach(e -> known.put(e.getKey(), e.getValue()));
    List<String> left = new ArrayList<>();
    for (var e : known.entrySet()) {
      if (e.getValue() != Member.LEFT && !matching.containsKey(e.getKey())) {
        left.add(e.getKey());
      }
    }
    for (String d : left) {
      h.createUpdate(
              "UPDATE rollout_devices SET state = 'LEFT' WHERE rollout_id = :id AND device_id ="
                  + " :d")
          .bind("id", r.id())
          .bind("d", d)
          .execute();
    }
    List<String> joined = new ArrayList<>();
    int last =
        h.createQuery("SELECT MAX(idx) FROM rollout_batches WHERE rollout_id = :id")
            .bind("id", r.id())
            .mapTo(Integer.class)
            .one();
    Map<String, String[]> previous = null;
    for (String d : matching.keySet()) {
      Member m = known.get(d);
      if (m == null) {
        if (previous == null) {
          previous = previousEntries(h, r.app());
        }
        addMember(h, r.id(), d, last, previous.get(d));
        joined.add(d);
      } else if (m == Member.LEFT) {
        h.createUpdate(
                "UPDATE rollout_devices SET state = CASE WHEN released_at IS NULL THEN 'WAITING'"
                    + " ELSE 'RELEASED' END WHERE rollout_id = :id AND device_id = :d")
            .bind("id", r.id())
            .bind("d", d)
            .execute();
        joined.add(d);
      }
    }
    if (!left.isEmpty()) {
      event(h, r.id(), now, "DEVICES_LEFT", null, "no longer targeted: " + abbreviate(left));
    }
    if (!joined.isEmpty()) {
      event(h, r.id(), now, "DEVICES_JOINED", last, "joined the last batch: " + abbreviate(joined));
    }
  }

  private static Map<String, String[]> previousEntries(Handle h, String app) {
    Map<String, String[]> out = new HashMap<>();
    h.createQuery(
            "SELECT device_id, desired_revision, desired_bundle, desired_commit FROM device_apps"
                + " WHERE app = :a AND desired_bundle IS NOT NULL")
        .bind("a", app)
        .map(
            (rs, ctx) ->
                Map.entry(
                    rs.getString(1),
                    new String[] {rs.getString(2), rs.getString(3), rs.getString(4)}))
        .forEach(e -> out.put(e.getKey(), e.getValue()));
    return out;
  }

  private static void addMember(Handle h, String id, String device, int batch, String[] prev) {
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

  // -------------------------------------------------------------------------------------------
  // Rows

  record Row(
      String id,
      String subject,
      String app,
      String source,
      String fromRevision,
      String toRevision,
      String policy,
      State state,
      int batch,
      String reason,
      String createdBy,
      long createdAt,
      long updatedAt,
      Long finishedAt,
      Long rollbackAt) {}

  private record BatchRow(
      int index,
      String name,
      int successPercent,
      int failurePercent,
      long soakMs,
      long deadlineMs,
      BatchState state,
      Long startedAt,
      Long soakUntil,
      Long finishedAt,
      String reason) {}

  private record MemberRow(
      String deviceId,
      String name,
      int batch,
      Member state,
      String prevRevision,
      String prevBundle,
      Long releasedAt,
      Map<String, String> tags,
      String desiredRevision,
      String running,
      String phase,
      String reason,
      String renderError,
      String toRev) {}

  private static final String ROW_COLUMNS =
      "id, subject, app, source, from_revision, to_revision, policy, state, batch, reason,"
          + " created_by, created_at, updated_at, finished_at, rollback_at";

  private static Optional<Row> row(Handle h, String id) {
    return h.createQuery("SELECT " + ROW_COLUMNS + " FROM rollouts WHERE id = :id")
        .bind("id", id)
        .map((rs, ctx) -> rowOf(rs))
        .findOne();
  }

  private static Row rowOf(java.sql.ResultSet rs) throws java.sql.SQLException {
    long fin = rs.getLong(14);
    Long finished = rs.wasNull() ? null : fin;
    long rb = rs.getLong(15);
    Long rollbackAt = rs.wasNull() ? null : rb;
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
        finished,
        rollbackAt);
  }

  private static List<BatchRow> batches(Handle h, String id) {
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

  private static List<MemberRow> members(Handle h, String id, String app) {
    String to =
        h.createQuery("SELECT to_revision FROM rollouts WHERE id = :id")
            .bind("id", id)
            .mapTo(String.class)
            .one();
    return h.createQuery(
            "SELECT rd.device_id, d.name, rd.batch, rd.state, rd.prev_revision, rd.prev_bundle,"
                + " rd.released_at, d.tags, a.desired_revision, a.running_revision, a.phase,"
                + " a.reason, a.render_error FROM rollout_devices rd JOIN devices d ON d.id ="
                + " rd.device_id LEFT JOIN device_apps a ON a.device_id = rd.device_id AND a.app ="
                + " :app WHERE rd.rollout_id = :id ORDER BY rd.batch, rd.device_id")
        .bind("id", id)
        .bind("app", app)
        .map(
            (rs, ctx) ->
                new MemberRow(
                    rs.getString(1),
                    rs.getString(2),
                    rs.getInt(3),
                    Member.valueOf(rs.getString(4)),
                    rs.getString(5),
                    rs.getString(6),
                    nullableLong(rs, 7),
                    JsonColumns.tags(rs.getString(8)),
                    rs.getString(9),
                    rs.getString(10),
                    rs.getString(11),
                    rs.getString(12),
                    rs.getString(13),
                    to))
        .list();
  }

  private static Long nullableLong(java.sql.ResultSet rs, int col) throws java.sql.SQLException {
    long v = rs.getLong(col);
    return rs.wasNull() ? null : v;
  }

  private static void insertBatch(
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

  private static void setBatch(
      Handle h, String id, int idx, BatchState state, long now, String reason) {
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

  private static void finish(Handle h, String id, State state, String reason, long now) {
    h.createUpdate(
            "UPDATE rollouts SET state = :state, reason = :reason, updated_at = :now, finished_at"
                + " = :now WHERE id = :id")
        .bind("state", state.name())
        .bind("reason", reason)
        .bind("now", now)
        .bind("id", id)
        .execute();
  }

  private static void setReason(Handle h, String id, String reason, long now) {
    h.createUpdate(
            "UPDATE rollouts SET reason = :reason, updated_at = CASE WHEN reason = :reason THEN"
                + " updated_at ELSE :now END WHERE id = :id")
        .bind("reason", reason)
        .bind("now", now)
        .bind("id", id)
        .execute();
  }

  private static void event(
      Handle h, String id, long now, String kind, Integer batch, String message) {
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

  private RolloutPolicy policy(String source) {
    return policies.computeIfAbsent(source, RolloutPolicy::parse);
  }

  // -------------------------------------------------------------------------------------------
  // Views

  public List<Summary> list(Optional<String> app, Optional<State> state, int limit) {
    StringBuilder sql =
        new StringBuilder("SELECT ")
            .append(ROW_COLUMNS)
            .append(
                ", (SELECT COUNT(*) FROM rollout_batches b WHERE b.rollout_id = r.id) FROM"
                    + " rollouts r WHERE 1 = 1");
    app.ifPresent(a -> sql.append(" AND app = :app"));
    state.ifPresent(s -> sql.append(" AND state = :state"));
    sql.append(" ORDER BY seq DESC LIMIT :limit");
    return jdbi.withHandle(
        h -> {
          var q = h.createQuery(sql.toString()).bind("limit", limit);
          app.ifPresent(a -> q.bind("app", a));
          state.ifPresent(s -> q.bind("state", s.name()));
          return q.map(
                  (rs, ctx) -> {
                    Row r = rowOf(rs);
                    return summary(r, rs.getInt(16));
                  })
              .list();
        });
  }

  private static Summary summary(Row r, int batches) {
    return new Summary(
        r.id(),
        r.app(),
        r.source(),
        r.fromRevision(),
        r.toRevision(),
        r.state(),
        r.batch(),
        batches,
        r.reason(),
        r.createdBy(),
        Instant.ofEpochMilli(r.createdAt()),
        Instant.ofEpochMilli(r.updatedAt()),
        r.finishedAt() == null ? null : Instant.ofEpochMilli(r.finishedAt()));
  }

  /** The latest rollout of a subject, if any. */
  public Optional<Summary> latest(String subject) {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT "
                        + ROW_COLUMNS
                        + ", (SELECT COUNT(*) FROM rollout_batches b WHERE b.rollout_id = r.id)"
                        + " FROM rollouts r WHERE subject = :s ORDER BY seq DESC LIMIT 1")
                .bind("s", subject)
                .map((rs, ctx) -> summary(rowOf(rs), rs.getInt(16)))
                .findOne());
  }

  public View view(String id, boolean withDevices) {
    Instant now = clock.instant();
    return jdbi.withHandle(
        h -> {
          Row r = row(h, id).orElseThrow(() -> ControllerException.notFound("rollout", id));
          RolloutPolicy policy = policy(r.policy());
          List<BatchRow> batches = batches(h, id);
          List<MemberRow> members = members(h, id, r.app());
          Map<String, Status> status = new HashMap<>();
          for (MemberRow m : members) {
            status.put(m.deviceId(), classify(m, r, batches, policy, now));
          }
          List<BatchView> bv = new ArrayList<>();
          for (BatchRow b : batches) {
            List<MemberRow> in = members.stream().filter(m -> m.batch() == b.index()).toList();
            bv.add(
                new BatchView(
                    b.index(),
                    b.name(),
                    b.state(),
                    counts(in, status),
                    b.successPercent(),
                    b.failurePercent(),
                    Durations.human(Duration.ofMillis(b.soakMs())),
                    Durations.human(Duration.ofMillis(b.deadlineMs())),
                    instant(b.startedAt()),
                    instant(b.soakUntil()),
                    instant(b.finishedAt()),
                    b.reason()));
          }
          List<DeviceView> dv =
              withDevices
                  ? members.stream()
                      .map(
                          m ->
                              new DeviceView(
                                  m.deviceId(),
                                  m.name(),
                                  m.batch(),
                                  status.get(m.deviceId()).state(),
                                  m.running(),
                                  status.get(m.deviceId()).reason()))
                      .toList()
                  : List.of();
          List<EventView> events =
              h.createQuery(
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
          return new View(
              r.id(),
              r.app(),
              r.source(),
              r.fromRevision(),
              r.toRevision(),
              r.state(),
              r.batch(),
              r.reason(),
              r.policy(),
              policy.describe(),
              counts(members, status),
              bv,
              dv,
              events,
              r.createdBy(),
              Instant.ofEpochMilli(r.createdAt()),
              Instant.ofEpochMilli(r.updatedAt()),
              r.finishedAt() == null ? null : Instant.ofEpochMilli(r.finishedAt()));
        });
  }

  private static Instant instant(Long millis) {
    return millis == null ? null : Instant.ofEpochMilli(millis);
  }
}
