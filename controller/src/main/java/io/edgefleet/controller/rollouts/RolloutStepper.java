package io.edgefleet.controller.rollouts;

import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.downloads.StageProgress;
import io.edgefleet.controller.rollouts.RolloutEngine.BatchState;
import io.edgefleet.controller.rollouts.RolloutEngine.Counts;
import io.edgefleet.controller.rollouts.RolloutEngine.DeviceState;
import io.edgefleet.controller.rollouts.RolloutEngine.Member;
import io.edgefleet.controller.rollouts.RolloutEngine.State;
import io.edgefleet.controller.rollouts.RolloutRows.BatchRow;
import io.edgefleet.controller.rollouts.RolloutRows.MemberRow;
import io.edgefleet.controller.rollouts.RolloutRows.Row;
import io.edgefleet.protocol.Durations;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The decisions of the rollout state machine, from plain rows: how each device stands (from what it
 * reports, whether it is online, its maintenance window and its deadline), which waiting devices a
 * step releases (the current and earlier batches, within the disruption budget), and what becomes
 * of the current batch (it fails, soaks, succeeds, waits, or pauses for offline devices) or of a
 * rollback. No database, no clock: the time is passed in. Messages are part of the decisions, since
 * they are what operators read.
 */
final class RolloutStepper {
  static final String ROLLING_BACK = "rolling back: ";
  static final String FAILED_ON_ROLLBACK = "failed on rollback to ";
  private static final String NEVER_SEEN = "never connected; ";

  private RolloutStepper() {}

  /** How a device stands, and why. */
  record Status(DeviceState state, String reason) {}

  // -------------------------------------------------------------------------------------------
  // Devices

  /** How every member stands, by device id. */
  static Map<String, Status> classify(
      List<MemberRow> members,
      Row r,
      List<BatchRow> batches,
      RolloutPolicy policy,
      Instant now,
      Function<String, DeviceStatus> presence) {
    Map<String, Status> status = new HashMap<>();
    for (MemberRow m : members) {
      status.put(m.deviceId(), classify(m, r, batches, policy, now, presence.apply(m.deviceId())));
    }
    return status;
  }

  /** How one member stands, of a device that has connected before. */
  static Status classify(
      MemberRow m,
      Row r,
      List<BatchRow> batches,
      RolloutPolicy policy,
      Instant now,
      boolean online) {
    return classify(
        m, r, batches, policy, now, online ? DeviceStatus.ONLINE : DeviceStatus.OFFLINE);
  }

  /**
   * How one member stands. A device that never connected ({@code NEVER_SEEN}) is not offline in the
   * middle of an update: it is released with its batch and gets the new revision when it first
   * connects, but no threshold waits for it.
   */
  static Status classify(
      MemberRow m,
      Row r,
      List<BatchRow> batches,
      RolloutPolicy policy,
      Instant now,
      DeviceStatus presence) {
    String to = r.toRevision();
    boolean neverSeen = presence == DeviceStatus.NEVER_SEEN;
    boolean online = !neverSeen && presence != DeviceStatus.OFFLINE;
    switch (m.state()) {
      case LEFT -> {
        return new Status(DeviceState.LEFT, "no longer targeted");
      }
      case REVERTED -> {
        // What the device reports of the version it returns to decides, not what it was sent.
        boolean runsPrevious =
            m.prevBundle() != null && Objects.equals(m.running(), m.prevRevision());
        if (m.prevBundle() == null
            ? m.desiredRevision() == null
            : runsPrevious && "READY".equals(m.phase())) {
          return new Status(
              DeviceState.REVERTED,
              m.prevBundle() == null ? "app removed" : "back on " + m.prevRevision());
        }
        if (neverSeen) {
          return new Status(DeviceState.NEVER_SEEN, NEVER_SEEN + "nothing to undo");
        }
        if (runsPrevious && "FAILED".equals(m.phase())) {
          return new Status(
              DeviceState.FAILED,
              FAILED_ON_ROLLBACK
                  + m.prevRevision()
                  + ": "
                  + Objects.requireNonNullElse(m.reason(), "failed"));
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
              neverSeen
                  ? new Status(DeviceState.NEVER_SEEN, NEVER_SEEN + "skipped by thresholds")
                  : new Status(DeviceState.WAITING, "waiting for its batch");
          case MaintenanceWindows.Closed c -> new Status(DeviceState.OUTSIDE_WINDOW, c.reason());
          case MaintenanceWindows.Never n -> new Status(DeviceState.OUTSIDE_WINDOW, n.reason());
        };
      }
      case RELEASED -> {
        if (m.notPlaced() != null) {
          // It cannot run this kind of workload: skipped, neither failed nor waited for.
          return new Status(DeviceState.NOT_PLACED, m.notPlaced());
        }
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
        if (neverSeen) {
          return new Status(DeviceState.NEVER_SEEN, NEVER_SEEN + "updates when it first connects");
        }
        if (!online) {
          return new Status(DeviceState.PENDING_OFFLINE, "offline; updates when it reconnects");
        }
        BatchRow b = batches.get(Math.min(m.batch(), batches.size() - 1));
        String detail =
            runsNew
                ? (m.phase() == null ? "applying" : m.phase().toLowerCase(Locale.ROOT))
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

  /**
   * How members stand once staging is taken into account: a waiting device told to stage the new
   * revision's artifacts that does not hold them all is {@code STAGING} (not released, not failed,
   * its batch waits for it), and {@code PENDING_STAGING} once its batch started longer than the
   * policy's staging timeout ago (pending; the batch no longer waits for it). A device that holds
   * them all waits as before. Devices told nothing to stage are left as they are.
   *
   * @param progress per device told to stage: how far it is
   */
  static Map<String, Status> staging(
      List<MemberRow> members,
      Map<String, Status> before,
      Map<String, StageProgress> progress,
      List<BatchRow> batches,
      RolloutPolicy policy,
      Instant now) {
    if (progress.isEmpty()) {
      return before;
    }
    Map<String, Status> status = new HashMap<>(before);
    for (MemberRow m : members) {
      StageProgress p = progress.get(m.deviceId());
      Status s = status.get(m.deviceId());
      if (p == null || m.state() != Member.WAITING || s.state() != DeviceState.WAITING) {
        continue;
      }
      if (p.complete()) {
        status.put(
            m.deviceId(), new Status(DeviceState.WAITING, "artifacts staged; " + s.reason()));
        continue;
      }
      BatchRow b = batches.get(Math.min(m.batch(), batches.size() - 1));
      Duration timeout = policy.stagingTimeout();
      if (b.startedAt() != null && now.toEpochMilli() >= b.startedAt() + timeout.toMillis()) {
        status.put(
            m.deviceId(),
            new Status(
                DeviceState.PENDING_STAGING,
                "staging did not finish within "
                    + Durations.human(timeout)
                    + " ("
                    + p.describe()
                    + "); released once its artifacts are on it"));
      } else {
        status.put(m.deviceId(), new Status(DeviceState.STAGING, p.describe()));
      }
    }
    return status;
  }

  /**
   * Device counts of these members; devices that left do not count, and devices that never
   * connected are counted apart from the targeted ones, so no threshold waits for them.
   */
  static Counts counts(List<MemberRow> members, Map<String, Status> status) {
    int neverSeen = 0;
    int targeted = 0;
    int updated = 0;
    int ready = 0;
    int failed = 0;
    int pending = 0;
    int offline = 0;
    int window = 0;
    int staging = 0;
    for (MemberRow m : members) {
      DeviceState s = status.get(m.deviceId()).state();
      if (s == DeviceState.LEFT || s == DeviceState.NOT_PLACED) {
        continue;
      }
      if (s == DeviceState.NEVER_SEEN) {
        neverSeen++;
        continue;
      }
      targeted++;
      switch (s) {
        case READY -> ready++;
        case FAILED -> failed++;
        case PENDING_OFFLINE -> offline++;
        case OUTSIDE_WINDOW -> window++;
        case STAGING, PENDING_STAGING -> {
          staging++;
          pending++;
        }
        default -> pending++;
      }
      if (m.state() == Member.RELEASED && m.running() != null && m.running().equals(m.toRev())) {
        updated++;
      }
    }
    return new Counts(
        targeted, updated, ready, failed, pending, offline, window, neverSeen, staging);
  }

  // -------------------------------------------------------------------------------------------
  // Releasing

  /**
   * What a step releases.
   *
   * @param devices the devices to release now, in member order
   * @param status how every member stands afterwards: released devices are updating, devices held
   *     back by the disruption budget say so
   * @param unseen released devices that have still never connected and whose deadline starts again
   *     now, so that it runs from when they first connect rather than from their release
   */
  record Release(List<String> devices, Map<String, Status> status, List<String> unseen) {}

  /**
   * The waiting devices of the current and earlier batches that may be released: those inside their
   * maintenance window, as long as the disruption budget has room in their group (released devices
   * that are updating or failed use it). Devices that never connected are released without using
   * the budget.
   */
  static Release release(
      List<MemberRow> members,
      Map<String, Status> before,
      BatchRow current,
      RolloutPolicy policy,
      long now) {
    Map<String, Status> status = new HashMap<>(before);
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
    List<String> unseen = new ArrayList<>();
    for (MemberRow m : members) {
      if (m.state() == Member.RELEASED
          && status.get(m.deviceId()).state() == DeviceState.NEVER_SEEN
          && m.releasedAt() != null
          && now - m.releasedAt() >= current.deadlineMs() / 2) {
        unseen.add(m.deviceId());
      }
      if (m.state() != Member.WAITING || m.batch() > current.index()) {
        continue;
      }
      Status s = status.get(m.deviceId());
      if (s.state() == DeviceState.NEVER_SEEN) {
        // Nothing runs there yet, so nothing is disrupted: it takes no room in the budget.
        released.add(m.deviceId());
        continue;
      }
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
    return new Release(List.copyOf(released), status, List.copyOf(unseen));
  }

  private static String group(MemberRow m, RolloutPolicy.DisruptionBudget budget) {
    return m.tags().getOrDefault(budget.tag(), "");
  }

  // -------------------------------------------------------------------------------------------
  // The current batch

  /** What becomes of the current batch. */
  sealed interface Decision {}

  /**
   * Too many devices failed: the batch fails; the rollout rolls back or pauses.
   *
   * @param why why the batch failed
   * @param rollback whether the rollout rolls back (else it pauses)
   * @param pausedReason the rollout's reason when it pauses
   */
  record Fail(String why, boolean rollback, String pausedReason) implements Decision {}

  /** Enough devices are ready: the batch soaks until {@code until}. */
  record Soak(long until, String message) implements Decision {}

  /**
   * The batch succeeded.
   *
   * @param message what the batch's success says
   * @param next the batch that starts now; empty when this was the last one and the rollout
   *     succeeded
   */
  record Advance(String message, Optional<BatchRow> next) implements Decision {}

  /** The deadline passed with devices offline and the policy says pause. */
  record PauseOffline(String why) implements Decision {}

  /** The batch is not done: the rollout's reason says what it waits for. */
  record Wait(String reason) implements Decision {}

  /** Nothing changes (the batch soaks). */
  record Unchanged() implements Decision {}

  /** Decides what becomes of batch {@code b}, the rollout's current one, at {@code now}. */
  static Decision evaluate(
      Row r,
      RolloutPolicy policy,
      BatchRow b,
      List<BatchRow> batches,
      List<MemberRow> members,
      Map<String, Status> status,
      long now) {
    String id = r.id();
    List<MemberRow> inBatch =
        members.stream().filter(m -> m.batch() == b.index() && m.state() != Member.LEFT).toList();
    Counts c = counts(inBatch, status);
    String label = label(b, batches);
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
      return new Fail(
          why,
          policy.onFailure() == RolloutPolicy.FailureAction.ROLLBACK,
          why
              + ". Paused: fix the app and `rollouts resume "
              + id
              + "`, or `rollouts rollback "
              + id
              + "`");
    }
    // Devices still staging past the staging timeout no longer hold the batch back.
    int overdue =
        (int)
            inBatch.stream()
                .filter(m -> status.get(m.deviceId()).state() == DeviceState.PENDING_STAGING)
                .count();
    String stagingNote =
        overdue == 0
            ? ""
            : "; went on without "
                + overdue
                + " device(s) still staging, released once their artifacts are on them";
    boolean succeeded = c.ready() * 100 >= b.successPercent() * (c.targeted() - overdue);
    if (b.state() == BatchState.UPDATING) {
      if (succeeded) {
        if (b.soakMs() > 0) {
          return new Soak(
              now + b.soakMs(),
              label
                  + ": "
                  + c.ready()
                  + "/"
                  + c.targeted()
                  + " ready"
                  + skipped(c)
                  + "; soaking for "
                  + Durations.human(Duration.ofMillis(b.soakMs())));
        }
        return advance(b, batches, c, stagingNote);
      }
      boolean pastDeadline = b.startedAt() != null && now >= b.startedAt() + b.deadlineMs();
      int notOffline = c.targeted() - c.pendingOffline() - overdue;
      if (pastDeadline
          && c.pendingOffline() > 0
          && c.ready() * 100 >= b.successPercent() * notOffline) {
        if (policy.offlineAtDeadline() == RolloutPolicy.OfflineAction.PROCEED) {
          return advance(
              b,
              batches,
              c,
              "; went on without "
                  + c.pendingOffline()
                  + " offline device(s), which update when they reconnect");
        }
        return new PauseOffline(
            label
                + ": deadline passed with "
                + c.pendingOffline()
                + " device(s) offline. Paused (offlineAtDeadline: pause): `rollouts resume "
                + id
                + "` to wait again");
      }
      return new Wait(waiting(label, b, c, inBatch, status));
    }
    if (b.state() == BatchState.SOAKING && b.soakUntil() != null && now >= b.soakUntil()) {
      return advance(b, batches, c, " after soaking");
    }
    return new Unchanged();
  }

  private static Advance advance(BatchRow b, List<BatchRow> batches, Counts c, String note) {
    String msg =
        label(b, batches)
            + " succeeded: "
            + c.ready()
            + "/"
            + c.targeted()
            + " ready"
            + skipped(c)
            + note;
    return new Advance(
        msg,
        b.index() + 1 >= batches.size()
            ? Optional.empty()
            : Optional.of(batches.get(b.index() + 1)));
  }

  /** What a message says of devices that never connected: they are skipped, not waited for. */
  static String skipped(Counts c) {
    return c.neverSeen() == 0 ? "" : "; " + c.neverSeen() + " never seen, skipped";
  }

  private static String label(BatchRow b, List<BatchRow> batches) {
    return "batch " + (b.index() + 1) + "/" + batches.size() + " '" + b.name() + "'";
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
      if (e.getKey() == DeviceState.READY || e.getKey() == DeviceState.NEVER_SEEN) {
        continue;
      }
      sb.append("; ")
          .append(e.getValue())
          .append(' ')
          .append(e.getKey().name().toLowerCase(Locale.ROOT).replace('_', '-'));
    }
    inBatch.stream()
        .filter(m -> status.get(m.deviceId()).state() == DeviceState.OUTSIDE_WINDOW)
        .findFirst()
        .ifPresent(m -> sb.append(" (").append(status.get(m.deviceId()).reason()).append(')'));
    inBatch.stream()
        .filter(m -> status.get(m.deviceId()).state() == DeviceState.STAGING)
        .findFirst()
        .ifPresent(
            m ->
                sb.append(" (")
                    .append(m.name())
                    .append(": ")
                    .append(status.get(m.deviceId()).reason())
                    .append(')'));
    return sb.append(skipped(c)).toString();
  }

  // -------------------------------------------------------------------------------------------
  // Rolling back

  /**
   * A rollback is over: every reverted device is back or offline, or the deadline passed.
   *
   * @param reason the rollout's final reason
   * @param note how the devices ended
   */
  record RolledBack(String reason, String note) {}

  /**
   * Whether a rolling-back rollout is done at {@code now}. Its deadline is the longest progress
   * deadline of its batches, from when the rollback started.
   */
  static Optional<RolledBack> rollback(
      Row r,
      List<MemberRow> members,
      Map<String, Status> status,
      List<BatchRow> batches,
      long now) {
    int reverted = 0;
    int back = 0;
    int offline = 0;
    List<String> failures = new ArrayList<>();
    for (MemberRow m : members) {
      if (m.state() != Member.REVERTED) {
        continue;
      }
      reverted++;
      Status s = status.get(m.deviceId());
      switch (s.state()) {
        case REVERTED, NEVER_SEEN -> back++;
        case PENDING_OFFLINE -> offline++;
        case FAILED ->
            failures.add(m.name() + ": " + Objects.requireNonNullElse(m.reason(), "failed"));
        default -> {}
      }
    }
    int failed = failures.size();
    long deadline =
        batches.stream().mapToLong(BatchRow::deadlineMs).max().orElse(600_000)
            + (r.rollbackAt() == null ? now : r.rollbackAt());
    int done = back + offline + failed;
    if (done < reverted && now < deadline) {
      return Optional.empty();
    }
    String cause =
        r.reason().startsWith(ROLLING_BACK)
            ? "rolled back: " + r.reason().substring(ROLLING_BACK.length())
            : "rolled back";
    String note =
        back
            + "/"
            + reverted
            + " device(s) back on their previous version"
            + (failed > 0
                ? "; "
                    + failed
                    + " failed on "
                    + Objects.requireNonNullElse(r.fromRevision(), "their previous version")
                    + " ("
                    + String.join("; ", failures.subList(0, Math.min(5, failed)))
                    + (failed > 5 ? "; …" : "")
                    + ")"
                : "")
            + (offline > 0 ? "; " + offline + " offline return when they reconnect" : "")
            + (done < reverted
                ? "; " + (reverted - done) + " did not report back before the deadline"
                : "");
    return Optional.of(new RolledBack(cause + " (" + note + ")", note));
  }

  // -------------------------------------------------------------------------------------------
  // Changing a deployment

  /**
   * What changing a deployment does.
   *
   * @param start whether a new rollout starts
   * @param from the revision the new rollout starts from: what the devices run (empty: nothing)
   */
  record Change(boolean start, Optional<String> from) {}

  /**
   * What changing a deployment from its stored revision {@code stored} to {@code next} does, given
   * the subject's latest rollout. A rollout of the stored revision that was rolled back (or is
   * rolling back) or aborted is history: asking for that revision again starts a new rollout. After
   * a rollback the devices run what the rollback returned them to, so that is where the next
   * rollout starts from, whatever revision the deployment names; after an abort, a retry of the
   * same revision starts from what the aborted rollout started from.
   */
  static Change change(String stored, String next, Optional<Row> latest) {
    Row l = latest.filter(x -> x.toRevision().equals(stored)).orElse(null);
    boolean rolledBack =
        l != null && (l.state() == State.ROLLED_BACK || l.state() == State.ROLLING_BACK);
    boolean aborted = l != null && l.state() == State.ABORTED;
    boolean retry = next.equals(stored);
    Optional<String> from =
        rolledBack || (aborted && retry)
            ? Optional.ofNullable(l.fromRevision())
            : Optional.of(stored);
    return new Change(!retry || rolledBack || aborted, from);
  }

  /** Up to ten ids, and how many more. */
  static String abbreviate(List<String> ids) {
    return ids.size() <= 10
        ? String.join(", ", ids)
        : String.join(", ", ids.subList(0, 10)) + " and " + (ids.size() - 10) + " more";
  }
}
