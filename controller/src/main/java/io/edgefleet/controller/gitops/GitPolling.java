package io.edgefleet.controller.gitops;

import io.edgefleet.controller.render.HelmUnavailableException;
import io.edgefleet.controller.secrets.SecretBox;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * When sources are polled, and the poll itself. A poll asks the remote for the branch tip ({@code
 * ls-remote}, milliseconds) and fetches only when the tip differs from the last one processed; the
 * {@link CommitEvaluator} decides what a new tip means and the result is recorded. Network and
 * credential failures never move the head.
 *
 * <p>Threading: polls of one source are serialized (timer, webhook and {@link #poll} share a lock);
 * different sources poll in parallel on a small worker pool; one scheduler thread keeps jittered
 * timers. The listener told of applied commits runs on the polling thread.
 */
final class GitPolling {
  private static final Logger LOG = LoggerFactory.getLogger(GitPolling.class);

  private final Clock clock;
  private final SecretBox secrets;
  private final SourceStore store;
  private final GitClient git;
  private final CommitEvaluator commits;
  private final Duration minInterval;
  private final Consumer<String> applied;
  private final BiConsumer<String, SourceStore.Recording> refusedApps;
  private final Webhooks webhooks = new Webhooks();
  private final ScheduledExecutorService scheduler;
  private final ExecutorService workers;
  private final ConcurrentHashMap<String, ReentrantLock> locks = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, ScheduledFuture<?>> timers = new ConcurrentHashMap<>();
  private final Set<String> queued = ConcurrentHashMap.newKeySet();
  private final ConcurrentHashMap<String, GitClient.Credentials.Ssh> sshCredentials =
      new ConcurrentHashMap<>();
  private final AtomicLong lsRemotes = new AtomicLong();
  private final AtomicLong fetches = new AtomicLong();
  private final AtomicLong appliedCount = new AtomicLong();
  private final AtomicLong refused = new AtomicLong();
  private volatile boolean running;
  private volatile boolean closed;

  /**
   * @param pollThreads how many sources may poll at the same time
   * @param minInterval the delay before trying again when the next poll cannot be scheduled
   * @param applied told the source name after a new commit of it was applied
   * @param refusedApps told the source name and the recording of an applied commit that some
   *     applications could not be used from
   */
  GitPolling(
      Clock clock,
      SecretBox secrets,
      SourceStore store,
      GitClient git,
      CommitEvaluator commits,
      int pollThreads,
      Duration minInterval,
      Consumer<String> applied,
      BiConsumer<String, SourceStore.Recording> refusedApps) {
    this.clock = clock;
    this.secrets = secrets;
    this.store = store;
    this.git = git;
    this.commits = commits;
    this.minInterval = minInterval;
    this.applied = applied;
    this.refusedApps = refusedApps;
    this.scheduler = Executors.newSingleThreadScheduledExecutor(daemon("edgefleet-gitops-timer"));
    this.workers = Executors.newFixedThreadPool(pollThreads, daemon("edgefleet-gitops"));
  }

  /**
   * Starts the background pollers: one timer per source with a jittered first delay. Idempotent.
   */
  synchronized void start() {
    if (running || closed) {
      return;
    }
    running = true;
    for (SourceStore.SourceRow s : store.all()) {
      scheduleNext(
          s.name(), ThreadLocalRandom.current().nextLong(Math.min(s.intervalMs(), 10_000)));
    }
  }

  /**
   * Handles {@code POST /api/v1/hooks/git/<name>}: verifies the shared secret ({@code
   * X-Hub-Signature-256: sha256=<hmac of body>} as GitHub and Gitea send it, or {@code
   * X-Gitlab-Token}) in constant time and queues a fetch. Pings and pushes to other branches are
   * acknowledged without a fetch.
   *
   * @param headersLowercase request headers with lower-case names
   * @throws ControllerException {@code UNAUTHENTICATED} for a missing or wrong secret and, alike,
   *     for an unknown source; {@code CONFLICT} for a delivery already received
   */
  WebhookResult webhook(String name, Map<String, String> headersLowercase, byte[] body) {
    Optional<SourceStore.SourceRow> found = store.find(name == null ? "" : name);
    Webhooks.verify(
        name,
        found.map(s -> secrets.open(s.webhookSecret(), GitSources.context(name, "webhook"))),
        headersLowercase,
        body);
    SourceStore.SourceRow s = found.orElseThrow();
    webhooks.refuseReplay(name, headersLowercase, body, clock.instant());
    Webhooks.Event e = Webhooks.event(headersLowercase, body);
    if (e.ping()) {
      return new WebhookResult(name, false, "ping");
    }
    String want = "refs/heads/" + s.branch();
    // A source that has not resolved its default branch yet checks on any push.
    if (!s.branch().isEmpty() && e.ref().isPresent() && !e.ref().get().equals(want)) {
      return new WebhookResult(
          name, false, "push to " + e.ref().get() + " ignored; the source follows " + want);
    }
    trigger(name);
    return new WebhookResult(
        name, true, "fetch queued" + e.ref().map(r -> " for push to " + r).orElse(""));
  }

  /** A source was added: when polling is running, its first fetch runs right away. */
  void added(String name) {
    if (running) {
      trigger(name);
    }
  }

  /**
   * Removes a source: its timer stops, and {@code delete} runs while no poll of it does; then its
   * local clone and credentials are forgotten.
   */
  void remove(String name, Runnable delete) {
    ScheduledFuture<?> timer = timers.remove(name);
    if (timer != null) {
      timer.cancel(false);
    }
    ReentrantLock lock = lock(name);
    lock.lock();
    try {
      delete.run();
      git.forget(name);
      sshCredentials.remove(name);
    } finally {
      // The lock stays in the map: a poll waiting on it must not race one on a fresh lock.
      lock.unlock();
    }
  }

  long lsRemotes() {
    return lsRemotes.get();
  }

  long fetches() {
    return fetches.get();
  }

  long commitsApplied() {
    return appliedCount.get();
  }

  long commitsRefused() {
    return refused.get();
  }

  /** Stops the timers and interrupts polls; no new poll starts. */
  void stop() {
    closed = true;
    running = false;
    scheduler.shutdownNow();
    workers.shutdownNow();
  }

  /** Waits a little for interrupted polls to end. */
  void awaitStopped() {
    try {
      workers.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Checks the remote of a source, in the calling thread, and records a new head if there is one.
   * Polls of one source are serialized.
   *
   * @return whether a new commit was applied
   */
  boolean poll(String name) {
    ReentrantLock lock = lock(name);
    lock.lock();
    try {
      Optional<SourceStore.SourceRow> found = store.find(name);
      if (found.isEmpty()) {
        return false;
      }
      SourceStore.SourceRow s = found.get();
      GitClient.Remote remote;
      try {
        remote = new GitClient.Remote(name, s.url(), s.branch(), credentials(s));
      } catch (RuntimeException e) {
        store.pollFailed(name, "cannot use the stored credentials: " + e.getMessage());
        return false;
      }
      String tip;
      try {
        lsRemotes.incrementAndGet();
        GitClient.Tip t = git.lsRemote(remote);
        tip = t.sha();
        if (s.branch().isEmpty()) {
          // Added without a branch: from now on it follows the remote's default branch of today.
          LOG.info("git source {}: follows {}, the remote's default branch", name, t.branch());
          store.resolveBranch(name, t.branch());
          remote = new GitClient.Remote(name, s.url(), t.branch(), remote.credentials());
        }
      } catch (GitClient.GitFailure e) {
        return failed(s, e);
      } finally {
        pinHostKey(name, remote);
      }
      if (tip.equals(s.seenSha())) {
        store.polled(name, clock.millis());
        return false;
      }
      GitClient.Snapshot snapshot;
      try {
        fetches.incrementAndGet();
        snapshot = git.fetch(remote, s.path());
      } catch (GitClient.GitFailure e) {
        return failed(s, e);
      }
      if (snapshot.sha().equals(s.seenSha())) {
        store.polled(name, clock.millis());
        return false;
      }
      SourceStore.Recording r;
      try {
        r = commits.evaluate(s, snapshot);
      } catch (HelmUnavailableException e) {
        // Says nothing about the commit: it is neither applied nor refused, and the next poll
        // tries again.
        LOG.warn("git source {}: cannot validate {}: {}", name, snapshot.sha(), e.getMessage());
        store.pollFailed(name, "cannot validate the new commit: " + e.getMessage());
        return false;
      }
      if (!store.record(s, r, clock.millis())) {
        LOG.info("git source {}: another controller recorded {} first", name, snapshot.sha());
        return false;
      }
      String shortSha = snapshot.sha().substring(0, 12);
      if (r.applied()) {
        appliedCount.incrementAndGet();
        LOG.info(
            "git source {}: applied {} ({} apps, {} changed)",
            name,
            shortSha,
            r.apps().size(),
            r.changes().size());
        if (r.error() != null) {
          LOG.warn("git source {}: {}", name, r.error());
          try {
            refusedApps.accept(name, r);
          } catch (RuntimeException e) {
            LOG.warn("git source {}: cannot record the apps {} was applied without", name, e);
          }
        }
        applied.accept(name);
        return true;
      }
      refused.incrementAndGet();
      LOG.warn("git source {}: refused {}: {}", name, shortSha, r.error());
      return false;
    } finally {
      lock.unlock();
    }
  }

  private boolean failed(SourceStore.SourceRow s, GitClient.GitFailure e) {
    LOG.warn("git source {}: {}", s.name(), e.getMessage());
    store.pollFailed(s.name(), e.getMessage());
    return false;
  }

  private GitClient.Credentials credentials(SourceStore.SourceRow s) {
    return switch (s.auth()) {
      case "token" ->
          GitClient.Credentials.of(
              s.auth(),
              secrets.open(s.credential(), GitSources.context(s.name(), "token")),
              Optional.empty());
      case "ssh" ->
          sshCredentials.computeIfAbsent(
              s.name(),
              k ->
                  (GitClient.Credentials.Ssh)
                      GitClient.Credentials.of(
                          s.auth(),
                          secrets.open(s.credential(), GitSources.context(k, "ssh")),
                          Optional.ofNullable(s.sshHostKey()).map(SshKeys::publicKey)));
      default -> new GitClient.Credentials.None();
    };
  }

  private void pinHostKey(String name, GitClient.Remote remote) {
    if (remote.credentials() instanceof GitClient.Credentials.Ssh ssh) {
      ssh.hostKey()
          .firstSeen()
          .ifPresent(
              k -> {
                LOG.info("git source {}: pinned ssh host key {}", name, SshKeys.fingerprint(k));
                store.pinHostKey(name, SshKeys.openSsh(k));
              });
    }
  }

  private void trigger(String name) {
    if (closed || !queued.add(name)) {
      return;
    }
    try {
      workers.execute(
          () -> {
            queued.remove(name);
            try {
              poll(name);
            } catch (RuntimeException e) {
              LOG.warn("git source {}: poll failed", name, e);
              try {
                store.pollFailed(name, "internal error: " + e);
              } catch (RuntimeException ignored) {
                // The database is unavailable too; the next poll will tell.
              }
            } finally {
              rescheduleAfterPoll(name);
            }
          });
    } catch (RejectedExecutionException e) {
      queued.remove(name);
    }
  }

  private void rescheduleAfterPoll(String name) {
    if (!running || closed) {
      return;
    }
    try {
      Optional<SourceStore.SourceRow> s = store.find(name);
      if (s.isPresent()) {
        long interval = s.get().intervalMs();
        long jitter = ThreadLocalRandom.current().nextLong(-interval / 10, interval / 10 + 1);
        scheduleNext(name, interval + jitter);
      } else {
        timers.remove(name);
      }
    } catch (RuntimeException e) {
      // Try again a little later rather than dropping the source's timer.
      scheduleNext(name, minInterval.toMillis());
    }
  }

  private void scheduleNext(String name, long delayMs) {
    if (!running || closed) {
      return;
    }
    try {
      ScheduledFuture<?> f =
          scheduler.schedule(() -> trigger(name), Math.max(0, delayMs), TimeUnit.MILLISECONDS);
      ScheduledFuture<?> old = timers.put(name, f);
      if (old != null && old != f) {
        old.cancel(false);
      }
    } catch (RejectedExecutionException e) {
      // Shutting down.
    }
  }

  private ReentrantLock lock(String name) {
    return locks.computeIfAbsent(name, k -> new ReentrantLock());
  }

  private static ThreadFactory daemon(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}
