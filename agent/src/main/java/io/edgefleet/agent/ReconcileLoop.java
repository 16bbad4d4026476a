package io.edgefleet.agent;

import io.edgefleet.agent.reconcile.Reconciler;
import io.edgefleet.device.desiredstate.Verified;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.DesiredState;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Keeps the runtime at the desired state in effect: a pass every {@code interval} (self-healing
 * drift, also offline), one at once after a new document, and a closer look every 2 s while an app
 * is still progressing so READY is reported when it happens. Passes run on the worker executor, one
 * at a time, never on the scheduler, so a slow runtime never delays heartbeats or telemetry; each
 * runs the document in effect when it starts. A pass whose document is replaced under it and that
 * then misses a bundle only the old document used stops without reporting (the newer document runs
 * next) rather than report that app failed. Each pass reports what changed: apply results become
 * device events, and the app report goes to the controller when something changed or a report is
 * due.
 *
 * <p>Thread-safe.
 */
final class ReconcileLoop {

  /** Where a pass's results go. */
  interface Sink {
    /** A device event (app failed, ready, updated, removed; reconcile failed). */
    void event(String kind, String severity, String app, String message);

    /** A pass over the desired state of {@code generation} finished. */
    default void reconciled(long generation) {}

    /** Sends the report now if connected; false if it could not be sent. */
    boolean report(AgentMessage.AppReport report);

    /** A problem for the agent's status; null clears it. */
    void problem(String message);
  }

  private static final Duration PROGRESS_CHECK = Duration.ofSeconds(2);

  private final Reconciler reconciler;
  private final Supplier<Optional<Verified>> desired;
  private final Function<String, Optional<String>> bundles;
  private final Supplier<List<String>> trustedKeys;
  private final Executor worker;
  private final ScheduledExecutorService timer;
  private final Duration interval;
  private final Sink sink;
  private final Object passLock = new Object();
  private final AtomicBoolean followUp = new AtomicBoolean();
  private final AtomicBoolean queued = new AtomicBoolean();
  private volatile List<AppState> lastReported = List.of();
  private volatile boolean reportDue;
  private volatile boolean closed;
  private String lastError;
  private ScheduledFuture<?> loop;

  ReconcileLoop(
      Reconciler reconciler,
      Supplier<Optional<Verified>> desired,
      Function<String, Optional<String>> bundles,
      Supplier<List<String>> trustedKeys,
      Executor worker,
      ScheduledExecutorService timer,
      Duration interval,
      Sink sink) {
    this.reconciler = reconciler;
    this.desired = desired;
    this.bundles = bundles;
    this.trustedKeys = trustedKeys;
    this.worker = worker;
    this.timer = timer;
    this.interval = interval;
    this.sink = sink;
  }

  /** Starts the periodic passes (once a desired state exists); idempotent. */
  synchronized void start() {
    if (loop == null && !closed) {
      long ms = interval.toMillis();
      loop = timer.scheduleWithFixedDelay(this::request, 0, ms, TimeUnit.MILLISECONDS);
    }
  }

  /** Asks for a pass soon; passes asked for while one is queued are one pass. */
  void request() {
    if (!closed && queued.compareAndSet(false, true)) {
      worker.execute(
          () -> {
            queued.set(false);
            pass();
          });
    }
  }

  /** The next pass sends the app report even if nothing changed (after a (re)connect). */
  void reportNext() {
    reportDue = true;
  }

  /** What the last pass found, per app. */
  List<AppState> apps() {
    return lastReported;
  }

  synchronized void close() {
    closed = true;
    if (loop != null) {
      loop.cancel(false);
    }
  }

  private void pass() {
    synchronized (passLock) {
      // Read under the lock: a pass that waited for the one before it runs the newest document,
      // never one that a newer document replaced while it waited.
      Optional<Verified> current = desired.get();
      if (current.isEmpty() || closed) {
        return;
      }
      Verified v = current.get();
      List<AppState> states;
      try {
        states = reconciler.reconcile(v.state(), digest -> manifests(v, digest));
      } catch (Superseded e) {
        // Its results are dropped: the next pass compares what it finds with the last report, so
        // what this one changed is still reported, once.
        request();
        return;
      } catch (RuntimeException e) {
        String error = "reconcile failed: " + e.getMessage();
        sink.problem(error);
        if (!error.equals(lastError)) {
          lastError = error;
          sink.event("reconcile-failed", "error", null, error);
        }
        return;
      }
      lastError = null;
      boolean changed = !states.equals(lastReported);
      if (changed) {
        reportChanges(lastReported, states, v.state(), sink);
      }
      lastReported = List.copyOf(states);
      if (changed || reportDue) {
        boolean sent =
            sink.report(
                new AgentMessage.AppReport(v.state().generation(), states, trustedKeys.get()));
        reportDue = !sent && (reportDue || changed);
      }
      sink.reconciled(v.state().generation());
      boolean progressing =
          states.stream()
              .anyMatch(
                  s -> s.phase() != AppState.Phase.READY && s.phase() != AppState.Phase.FAILED);
      if (progressing
          && !closed
          && PROGRESS_CHECK.compareTo(interval) < 0
          && followUp.compareAndSet(false, true)) {
        timer.schedule(
            () -> {
              followUp.set(false);
              request();
            },
            PROGRESS_CHECK.toMillis(),
            TimeUnit.MILLISECONDS);
      }
    }
  }

  /**
   * A bundle of {@code v}. Taking a newer document removes the bundles that only older ones use, so
   * a bundle missing while {@code v} is no longer in effect is no failure of its app: the pass is
   * over a replaced document and stops (the newer document has its own pass). Each bundle is still
   * read when the pass reaches its app, not all up front: bundles may be large.
   *
   * @throws Superseded when the bundle is gone because {@code v} was replaced
   */
  private Optional<String> manifests(Verified v, String digest) {
    Optional<String> manifests = bundles.apply(digest);
    if (manifests.isEmpty()
        && desired
            .get()
            .map(now -> now.state().generation() != v.state().generation())
            .orElse(true)) {
      throw new Superseded();
    }
    return manifests;
  }

  /** A pass met a bundle its document no longer keeps because a newer document was taken. */
  private static final class Superseded extends RuntimeException {
    Superseded() {
      super("the desired state was replaced during the pass", null, false, false);
    }
  }

  /**
   * Apply results as device events: an app that failed, became ready or recovered, took a new
   * revision, or was removed. Right after a start only failures are news. An app whose revision and
   * phase stayed as they were is no news, whatever else the new document changed. Each event names
   * its app, in its message and as its app, and the revision, with the commit it came from when the
   * document says so.
   */
  static void reportChanges(
      List<AppState> before, List<AppState> after, DesiredState desired, Sink sink) {
    Map<String, AppState> old = new HashMap<>();
    for (AppState s : before) {
      old.put(s.name(), s);
    }
    Map<String, DesiredState.DesiredApp> wanted = new HashMap<>();
    for (DesiredState.DesiredApp a : desired.apps()) {
      wanted.put(a.name(), a);
    }
    for (AppState s : after) {
      AppState was = old.remove(s.name());
      if (s.phase() == null || s.equals(was)) {
        continue;
      }
      boolean newRevision = was != null && !Objects.equals(was.revision(), s.revision());
      DesiredState.DesiredApp d = wanted.get(s.name());
      String app = "app " + s.name();
      String rev =
          s.revision() == null
              ? ""
              : " revision "
                  + s.revision()
                  + (d != null && d.commit() != null && s.revision().equals(d.revision())
                      ? " from commit " + d.commit().substring(0, Math.min(12, d.commit().length()))
                      : "");
      if (s.phase() == AppState.Phase.FAILED) {
        if (was == null || was.phase() != AppState.Phase.FAILED || newRevision) {
          sink.event(
              "app-failed",
              "error",
              s.name(),
              app
                  + rev
                  + " failed"
                  + (s.reason() == null || s.reason().isBlank() ? "" : ": " + s.reason()));
        }
      } else if (was == null) {
        continue;
      } else if (s.phase() == AppState.Phase.READY && was.phase() != AppState.Phase.READY) {
        boolean recovered = was.phase() == AppState.Phase.FAILED;
        sink.event(
            recovered ? "app-recovered" : "app-ready",
            "info",
            s.name(),
            app + rev + (recovered ? " recovered and is ready" : " is ready"));
      } else if (newRevision) {
        sink.event("app-updated", "info", s.name(), app + rev + " applied (" + s.phase() + ")");
      }
    }
    if (!before.isEmpty()) {
      old.keySet()
          .forEach(name -> sink.event("app-removed", "info", name, "app " + name + " removed"));
    }
  }
}
