package io.edgefleet.controller.rollouts;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.rollouts.RolloutRows.BatchRow;
import io.edgefleet.controller.rollouts.RolloutRows.MemberRow;
import io.edgefleet.controller.rollouts.RolloutRows.Row;
import io.edgefleet.controller.rollouts.RolloutStepper.Status;
import java.time.Clock;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
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
 * <p>This class ties the parts together: {@link RolloutStepper} decides (no database, no clock),
 * {@link RolloutStore} holds every statement, {@link RolloutMembership} keeps batches' devices up
 * to date, {@link RolloutCommands} carries out starts and operator commands, {@link GitRollouts}
 * starts the rollouts of phased Git apps and {@link RolloutQueries} reads rollouts for the API.
 *
 * <p>Every transition of one rollout is one transaction: a controller killed at any point resumes
 * where the last committed tick left it, releases no device twice and skips no batch. Ticks and
 * commands are serialized ({@link RolloutTransactions}).
 */
public final class RolloutEngine {
  private static final Logger LOG = LoggerFactory.getLogger(RolloutEngine.class);

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
    /**
     * Waiting for its release while it downloads the new revision's artifacts ahead; not released
     * before it holds them all.
     */
    STAGING,
    /**
     * Still staging after the policy's staging timeout: pending, and its batch no longer waits for
     * it; released once it holds the artifacts.
     */
    PENDING_STAGING,
    OUTSIDE_WINDOW,
    WAITING_BUDGET,
    UPDATING,
    READY,
    FAILED,
    PENDING_OFFLINE,
    /** Never connected: released with its batch, updates when it first connects, not waited for. */
    NEVER_SEEN,
    REVERTING,
    REVERTED,
    LEFT,
    /**
     * Released, but it cannot run the app's kind of workload (a container app on a node without a
     * container engine): skipped with the reason, counted neither as failed nor as pending.
     */
    NOT_PLACED
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

  /**
   * Per-batch or per-rollout device counts. Devices that never connected are counted in {@code
   * neverSeen} only: {@code targeted} and every threshold leave them out. Devices staging (within
   * the staging timeout or past it) are counted in {@code pending} and again in {@code staging}.
   */
  public record Counts(
      int targeted,
      int updated,
      int ready,
      int failed,
      int pending,
      int pendingOffline,
      int outsideWindow,
      int neverSeen,
      int staging) {
    /** Counts without devices staging. */
    public Counts(
        int targeted,
        int updated,
        int ready,
        int failed,
        int pending,
        int pendingOffline,
        int outsideWindow,
        int neverSeen) {
      this(targeted, updated, ready, failed, pending, pendingOffline, outsideWindow, neverSeen, 0);
    }
  }

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

  private final Clock clock;
  private final Supplier<List<AppCatalog.App>> apps;
  private final Function<String, DeviceStatus> presence;
  private final RolloutGate gate;
  private final Map<String, RolloutPolicy> policies = new ConcurrentHashMap<>();
  private final RolloutStore store;
  private final RolloutMembership membership;
  private final RolloutCommands commands;
  private final RolloutTransactions transactions;
  private final RolloutQueries queries;
  private final GitRollouts gitRollouts;
  private final Jdbi jdbi;
  private final Consumer<String> recompute;
  private volatile boolean devicesChanged;
  private final Supplier<Map<String, String>> gitPolicies;
  private final AuditLog audit;
  private final RolloutStaging staging;

  /**
   * @param gate the gate the desired-state engine asks which revision of a phased app a device
   *     gets; this engine keeps it current
   * @param git where the policies of phased Git sources come from, and what their history answers
   *     about revisions
   * @param recompute called with a device id whenever what the device should run may have changed
   * @param audit where operators' commands (pause, resume, abort, roll back) are recorded
   */
  public RolloutEngine(
      Jdbi jdbi,
      Clock clock,
      RolloutGate gate,
      Supplier<List<AppCatalog.App>> apps,
      Function<String, DeviceStatus> presence,
      Git git,
      Consumer<String> recompute,
      AuditLog audit) {
    this(jdbi, clock, gate, apps, presence, git, SubjectReports.NONE, recompute, audit);
  }

  /**
   * @param subjects what devices report of subjects that are not apps (the agent itself)
   */
  public RolloutEngine(
      Jdbi jdbi,
      Clock clock,
      RolloutGate gate,
      Supplier<List<AppCatalog.App>> apps,
      Function<String, DeviceStatus> presence,
      Git git,
      SubjectReports subjects,
      Consumer<String> recompute,
      AuditLog audit) {
    this(jdbi, clock, gate, apps, presence, git, subjects, RolloutStaging.NONE, recompute, audit);
  }

  /**
   * @param staging how far devices are with the artifacts of the revisions they wait for: a device
   *     is released only once it holds them
   */
  public RolloutEngine(
      Jdbi jdbi,
      Clock clock,
      RolloutGate gate,
      Supplier<List<AppCatalog.App>> apps,
      Function<String, DeviceStatus> presence,
      Git git,
      SubjectReports subjects,
      RolloutStaging staging,
      Consumer<String> recompute,
      AuditLog audit) {
    this.staging = staging;
    this.store = new RolloutStore(subjects);
    this.membership = new RolloutMembership(store);
    this.jdbi = jdbi;
    this.audit = audit;
    this.clock = clock;
    this.gate = gate;
    this.apps = apps;
    this.presence = presence;
    this.gitPolicies = git.policies();
    this.recompute = recompute;
    this.commands = new RolloutCommands(store, membership, gate);
    this.transactions = new RolloutTransactions(jdbi, gate);
    this.queries = new RolloutQueries(jdbi, clock, store, this::policy, presence, staging);
    this.gitRollouts =
        new GitRollouts(jdbi, clock, gate, transactions, commands, this::policy, git.revisions());
  }

  /**
   * What rollouts of Git sources need from them.
   *
   * @param policies the policies of phased Git sources: source name → policy text
   * @param revisions what the Git sources' history answers about revisions from before content
   *     revisions: lets a rollout to the content-digest name of the same content go at once
   */
  public record Git(Supplier<Map<String, String>> policies, GitRevisions revisions) {}

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
  public <T> T transaction(Function<Handle, T> work) {
    return transactions.run(work);
  }

  /**
   * Starts a rollout inside {@link #transaction}: supersedes the subject's unfinished rollout,
   * plans the batches over the devices the target matches now, and starts the first batch. No
   * device is released before the next tick.
   *
   * @return the new rollout's id
   */
  public String start(Handle h, Start s) {
    return commands.start(h, s, clock.instant());
  }

  /** The latest rollout of a subject, inside {@link #transaction}. */
  Optional<Row> latest(Handle h, String subject) {
    return store.latest(h, subject).map(RolloutStore.Listed::row);
  }

  /** Ends every unfinished rollout of a subject (its app was removed). */
  public void abortSubject(Handle h, String subject, String reason) {
    commands.abortSubject(h, subject, reason, clock.millis());
  }

  // -------------------------------------------------------------------------------------------
  // Operator commands

  public View pause(String id, String actor) {
    return command(id, "pause", actor, (h, r, now) -> commands.pause(h, r, actor, now));
  }

  /**
   * Resumes a paused rollout. A failed batch starts over with a fresh deadline for its devices that
   * are not ready yet.
   */
  public View resume(String id, String actor) {
    return command(id, "resume", actor, (h, r, now) -> commands.resume(h, r, actor, now));
  }

  /** Stops a rollout where it is: released devices keep the new revision, the others the old. */
  public View abort(String id, String actor) {
    return command(id, "abort", actor, (h, r, now) -> commands.abort(h, r, actor, now));
  }

  /** Returns every device the rollout released to what it ran before. */
  public View rollback(String id, String actor) {
    return command(id, "rollback", actor, (h, r, now) -> commands.rollback(h, r, actor, now));
  }

  @FunctionalInterface
  private interface Command {
    Set<String> apply(Handle h, Row r, long now);
  }

  /** Runs an operator's command and records it in the audit log, in one transaction. */
  private View command(String id, String action, String actor, Command c) {
    Set<String> touched =
        transactions.run(
            h -> {
              Row r =
                  store.row(h, id).orElseThrow(() -> ControllerException.notFound("rollout", id));
              Set<String> devices = c.apply(h, r, clock.millis());
              audit.record(
                  h,
                  actor,
                  "rollout." + action,
                  id,
                  Map.of("app", r.app(), "toRevision", r.toRevision()));
              return devices;
            });
    touched.forEach(recompute);
    return view(id, true);
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
    if (!policies.isEmpty() && gitRollouts.start(bySubject, policies)) {
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
        touched = transactions.run(h -> step(h, id, now, bySubject, refreshAll));
      } catch (RuntimeException e) {
        LOG.warn("rollout {} could not advance: {}", id, e.toString(), e);
        continue;
      }
      touched.forEach(recompute);
    }
  }

  private List<String> activeIds() {
    return jdbi.withHandle(store::unfinished);
  }

  /** One rollout's step: what the stepper decides, carried out. */
  private Set<String> step(
      Handle h,
      String id,
      Instant now,
      Map<String, AppCatalog.App> bySubject,
      boolean refreshMembers) {
    Row r = store.row(h, id).orElseThrow();
    long nowMs = now.toEpochMilli();
    Set<String> touched = new LinkedHashSet<>();
    AppCatalog.App app = bySubject.get(r.subject());
    if (r.state() != State.ROLLING_BACK) {
      if (app == null || !app.revision().equals(r.toRevision())) {
        if (app == null) {
          String why = r.app() + " is no longer in its source; the rollout ends";
          store.finish(h, id, State.ABORTED, why, nowMs);
          store.event(h, id, nowMs, "ABORTED", r.batch(), why);
          return touched;
        }
        // A newer revision exists: the rollout that introduces it supersedes this one.
        return touched;
      }
      membership.refreshIfDue(h, r, app.target(), now, refreshMembers);
    }
    RolloutPolicy policy = policy(r.policy());
    List<BatchRow> batches = store.batches(h, id);
    List<MemberRow> members = store.members(h, id, r.app());
    Map<String, Status> status =
        RolloutStepper.staging(
            members,
            RolloutStepper.classify(members, r, batches, policy, now, presence),
            staging.progress(h, r.app(), r.toRevision(), waiting(members)),
            batches,
            policy,
            now);
    if (r.state() == State.ROLLING_BACK) {
      Optional<RolloutStepper.RolledBack> done =
          RolloutStepper.rollback(r, members, status, batches, nowMs);
      if (done.isPresent()) {
        store.finish(h, id, State.ROLLED_BACK, done.get().reason(), nowMs);
        store.event(h, id, nowMs, "ROLLED_BACK", r.batch(), done.get().note());
      } else {
        store.touch(h, id, nowMs);
      }
      return touched;
    }
    if (r.state() == State.PAUSED) {
      return touched;
    }
    BatchRow current = batches.get(r.batch());
    // Release eligible devices of this and earlier batches, within the disruption budget.
    RolloutStepper.Release release =
        RolloutStepper.release(members, status, current, policy, nowMs);
    for (String device : release.unseen()) {
      store.restartDeadline(h, id, device, nowMs);
    }
    List<String> released = release.devices();
    if (!released.isEmpty()) {
      for (String device : released) {
        store.release(h, id, device, nowMs);
      }
      touched.addAll(released);
      store.event(
          h,
          id,
          nowMs,
          "RELEASED",
          current.index(),
          released.size() + " device(s) released: " + RolloutStepper.abbreviate(released));
    }
    if (current.state() == BatchState.SUCCEEDED
        && current.index() == batches.size() - 1
        && members.stream()
            .noneMatch(m -> m.state() == Member.WAITING && !released.contains(m.deviceId()))) {
      // Every batch succeeded earlier; the devices still staging then are released now.
      store.finish(h, id, State.SUCCEEDED, "every batch succeeded", nowMs);
      store.event(h, id, nowMs, "SUCCEEDED", null, r.app() + " " + r.toRevision() + " rolled out");
      return touched;
    }
    RolloutStepper.Decision decision =
        RolloutStepper.evaluate(r, policy, current, batches, members, release.status(), nowMs);
    touched.addAll(apply(h, r, current, decision, stillStaging(members, release.status()), nowMs));
    return touched;
  }

  /** Members not released because they still stage the new revision's artifacts. */
  private static long stillStaging(List<MemberRow> members, Map<String, Status> status) {
    return members.stream()
        .filter(m -> m.state() == Member.WAITING)
        .map(m -> status.get(m.deviceId()).state())
        .filter(s -> s == DeviceState.STAGING || s == DeviceState.PENDING_STAGING)
        .count();
  }

  /**
   * Carries out what the stepper decided for the current batch.
   *
   * @return the devices whose desired state may have changed
   */
  private Set<String> apply(
      Handle h, Row r, BatchRow b, RolloutStepper.Decision decision, long staging, long now) {
    String id = r.id();
    switch (decision) {
      case RolloutStepper.Fail f -> {
        store.setBatch(h, id, b.index(), BatchState.FAILED, now, f.why());
        store.event(h, id, now, "BATCH_FAILED", b.index(), f.why());
        if (f.rollback()) {
          return commands.startRollback(h, r, f.why(), now);
        }
        store.setState(h, id, State.PAUSED, now);
        store.setReason(h, id, f.pausedReason(), now);
        store.event(h, id, now, "PAUSED", b.index(), "paused after a failed batch");
      }
      case RolloutStepper.Soak s -> {
        store.soak(h, id, b.index(), s.until());
        store.event(h, id, now, "BATCH_SOAKING", b.index(), s.message());
        store.setReason(h, id, s.message(), now);
      }
      case RolloutStepper.Advance a -> {
        store.setBatch(h, id, b.index(), BatchState.SUCCEEDED, now, a.message());
        store.event(h, id, now, "BATCH_SUCCEEDED", b.index(), a.message());
        if (a.next().isEmpty() && staging > 0) {
          // Not done while devices wait to be released: they are once they hold the artifacts.
          store.setReason(
              h,
              id,
              "every batch succeeded; "
                  + staging
                  + " device(s) still staging, released once their artifacts are on them",
              now);
        } else if (a.next().isEmpty()) {
          store.finish(h, id, State.SUCCEEDED, "every batch succeeded", now);
          store.event(
              h, id, now, "SUCCEEDED", null, r.app() + " " + r.toRevision() + " rolled out");
        } else {
          BatchRow next = a.next().get();
          store.startBatch(h, id, next.index(), now);
          String started = "batch '" + next.name() + "' started";
          store.event(h, id, now, "BATCH_STARTED", next.index(), started);
          store.setReason(h, id, started, now);
        }
      }
      case RolloutStepper.PauseOffline p -> {
        store.setState(h, id, State.PAUSED, now);
        store.setReason(h, id, p.why(), now);
        store.event(h, id, now, "PAUSED", b.index(), p.why());
      }
      case RolloutStepper.Wait w -> store.setReason(h, id, w.reason(), now);
      case RolloutStepper.Unchanged u -> {}
    }
    return Set.of();
  }

  /** The members not released yet: only they stage. */
  static List<String> waiting(List<MemberRow> members) {
    return members.stream()
        .filter(m -> m.state() == Member.WAITING)
        .map(MemberRow::deviceId)
        .toList();
  }

  private RolloutPolicy policy(String source) {
    return policies.computeIfAbsent(source, RolloutPolicy::parse);
  }

  // -------------------------------------------------------------------------------------------
  // Views

  public List<Summary> list(Optional<String> app, Optional<State> state, int limit) {
    return queries.list(app, state, limit);
  }

  /** The latest rollout of a subject, if any. */
  public Optional<Summary> latest(String subject) {
    return queries.latest(subject);
  }

  public View view(String id, boolean withDevices) {
    return queries.view(id, withDevices);
  }
}
