package io.edgefleet.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.reconcile.DriftEvents;
import io.edgefleet.agent.reconcile.Reconciler;
import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.device.desiredstate.Verified;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.DesiredState;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A document taken while a reconcile pass runs (a nudge while a timer pass is applying, say) is no
 * failure of the apps it changes: taking it removes the bundles only the older document used, and a
 * pass over that older document must neither report those apps failed ("bundle missing") nor run
 * after the newer document.
 */
class ReconcileLoopTest {
  record Event(String kind, String app, String message) {}

  record Applied(String app, String revision) {}

  static final String NOTES = "sha256:" + "a".repeat(64);
  static final String WEB_1 = "sha256:" + "b".repeat(64);
  static final String WEB_2 = "sha256:" + "c".repeat(64);

  /** A runtime that runs whatever it is given; a hook may act while an app is applied. */
  static final class HookedRuntime implements WorkloadRuntime {
    final List<Applied> applied = Collections.synchronizedList(new ArrayList<>());
    final Map<String, String> running = new ConcurrentHashMap<>();
    final Map<String, Runnable> whileApplying = new ConcurrentHashMap<>();

    @Override
    public ApplyOutcome apply(String app, String revision, String manifestsYaml) {
      Runnable hook = whileApplying.remove(app);
      if (hook != null) {
        hook.run();
      }
      applied.add(new Applied(app, revision));
      return revision.equals(running.put(app, revision))
          ? new ApplyOutcome.InSync()
          : new ApplyOutcome.Applied(1, 0);
    }

    @Override
    public ApplyOutcome remove(String app) {
      running.remove(app);
      return new ApplyOutcome.Applied(0, 1);
    }

    @Override
    public AppHealth health(String app) {
      return new AppHealth(AppHealth.State.READY, "configmap settings: exists");
    }

    @Override
    public Set<String> ownedApps() {
      return Set.copyOf(running.keySet());
    }

    @Override
    public void close() {}
  }

  final HookedRuntime runtime = new HookedRuntime();
  final List<Event> events = Collections.synchronizedList(new ArrayList<>());
  final List<AgentMessage.AppReport> reports = Collections.synchronizedList(new ArrayList<>());

  /** The device's document in effect and its bundle store, as the desired-state sync keeps them. */
  final AtomicReference<Verified> current = new AtomicReference<>();

  final Map<String, String> bundleFiles = new ConcurrentHashMap<>();
  final Map<String, Runnable> whileReading = new ConcurrentHashMap<>();
  final Deque<Runnable> queued = new ArrayDeque<>();
  final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  final List<Thread> workers = Collections.synchronizedList(new ArrayList<>());
  final ExecutorService threads =
      Executors.newCachedThreadPool(
          r -> {
            Thread t = new Thread(r, "reconcile-worker");
            workers.add(t);
            return t;
          });

  @AfterEach
  void stop() {
    timer.shutdownNow();
    threads.shutdownNow();
  }

  private static Verified document(long generation, String webRevision, String webBundle) {
    return new Verified(
        null,
        new DesiredState(
            "dev-1",
            generation,
            Instant.parse("2026-12-07T10:00:00Z"),
            List.of(
                new DesiredState.DesiredApp(
                    "notes", "fleet", "sha256:n1", NOTES, 10, "1111111111111111", false),
                new DesiredState.DesiredApp(
                    "web", "fleet", webRevision, webBundle, 10, "2222222222222222", false))),
        "k1",
        null);
  }

  private ReconcileLoop loop(java.util.concurrent.Executor worker) {
    return new ReconcileLoop(
        new Reconciler(
            runtime,
            new DriftEvents(Clock.systemUTC(), Duration.ofMinutes(10), (k, s, a, m) -> {})),
        () -> Optional.ofNullable(current.get()),
        digest -> {
          Runnable hook = whileReading.remove(digest);
          if (hook != null) {
            hook.run();
          }
          return Optional.ofNullable(bundleFiles.get(digest));
        },
        List::of,
        worker,
        timer,
        Duration.ofHours(1),
        new ReconcileLoop.Sink() {
          @Override
          public void event(String kind, String severity, String app, String message) {
            events.add(new Event(kind, app, message));
          }

          @Override
          public boolean report(AgentMessage.AppReport report) {
            reports.add(report);
            return true;
          }

          @Override
          public void problem(String message) {}
        });
  }

  /** What the desired-state sync does when it takes a document: store, collect, ask for a pass. */
  private void take(Verified v, ReconcileLoop loop) {
    Map<String, String> keep = new HashMap<>();
    for (DesiredState.DesiredApp app : v.state().apps()) {
      keep.put(app.bundle(), bundleFiles.getOrDefault(app.bundle(), "kind: ConfigMap"));
    }
    bundleFiles.putAll(keep);
    current.set(v);
    bundleFiles.keySet().retainAll(keep.keySet());
    loop.request();
  }

  private void drain() {
    for (Runnable r; (r = queued.poll()) != null; ) {
      r.run();
    }
  }

  private void assertOnlyWebUpdated() {
    assertThat(events)
        .as("events %s", events)
        .containsExactly(
            new Event(
                "app-updated",
                "web",
                "app web revision sha256:w2 from commit 222222222222 applied (READY)"));
    assertThat(reports)
        .allSatisfy(r -> assertThat(r.apps()).noneMatch(a -> a.phase() == AppState.Phase.FAILED));
    assertThat(reports.getLast().apps())
        .contains(
            new AppState("web", "sha256:w2", AppState.Phase.READY, "configmap settings: exists"))
        .hasSize(2);
  }

  @Test
  void aDocumentTakenWhileAPassAppliesIsNoFailureAndRunsNext() {
    ReconcileLoop loop = loop(queued::add);
    take(document(1, "sha256:w1", WEB_1), loop);
    drain();
    assertThat(events).isEmpty();

    // A timer pass over generation 1 is applying notes when generation 2 (web changed) is taken.
    runtime.whileApplying.put("notes", () -> take(document(2, "sha256:w2", WEB_2), loop));
    loop.request();
    drain();

    assertOnlyWebUpdated();
    assertThat(runtime.applied.getLast()).isEqualTo(new Applied("web", "sha256:w2"));
  }

  @Test
  void aDocumentTakenWhileAPassReadsItsBundlesIsNoFailureAndRunsNext() {
    ReconcileLoop loop = loop(queued::add);
    take(document(1, "sha256:w1", WEB_1), loop);
    drain();

    // Generation 2 is taken, and web's old bundle collected, between notes' bundle and web's.
    whileReading.put(NOTES, () -> take(document(2, "sha256:w2", WEB_2), loop));
    loop.request();
    drain();

    assertOnlyWebUpdated();
    assertThat(runtime.applied)
        .filteredOn(a -> a.app().equals("web"))
        .containsExactly(new Applied("web", "sha256:w1"), new Applied("web", "sha256:w2"));
  }

  @Test
  void aPassThatWaitedForTheRunningOneRunsTheNewestDocument() throws Exception {
    ReconcileLoop loop = loop(threads);
    take(document(1, "sha256:w1", WEB_1), loop);
    await().atMost(Duration.ofSeconds(10)).until(() -> reports.size() == 1);

    // A pass over generation 1 hangs in the runtime; another is asked for and waits behind it.
    CountDownLatch inApply = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicReference<Thread> running = new AtomicReference<>();
    runtime.whileApplying.put(
        "notes",
        () -> {
          running.set(Thread.currentThread());
          inApply.countDown();
          try {
            release.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
    loop.request();
    assertThat(inApply.await(10, TimeUnit.SECONDS)).isTrue();
    loop.request();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                List.copyOf(workers).stream()
                    .anyMatch(t -> t != running.get() && t.getState() == Thread.State.BLOCKED));
    // Meanwhile generation 2 drops notes; web's bundle stays, so the running pass completes. The
    // waiting pass is the one that must run generation 2.
    current.set(
        new Verified(
            null,
            new DesiredState(
                "dev-1",
                2,
                Instant.parse("2026-12-07T10:05:00Z"),
                List.of(document(1, "sha256:w1", WEB_1).state().apps().get(1))),
            "k1",
            null));
    bundleFiles.remove(NOTES);
    release.countDown();

    // The first pass found nothing new; the one that waited reports what it changed.
    await().atMost(Duration.ofSeconds(10)).until(() -> reports.size() == 2);
    assertThat(events).containsExactly(new Event("app-removed", "notes", "app notes removed"));
    assertThat(reports.getLast().apps())
        .containsExactly(
            new AppState("web", "sha256:w1", AppState.Phase.READY, "configmap settings: exists"));
    assertThat(runtime.running).containsOnlyKeys("web");
  }
}
