package io.edgefleet.controller.gitops;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.common.Ids;
import io.edgefleet.controller.common.Lru;
import io.edgefleet.controller.rollouts.Deployments;
import io.edgefleet.controller.rollouts.RolloutPolicy;
import io.edgefleet.controller.rollouts.RolloutPolicyException;
import io.edgefleet.controller.secrets.SecretBox;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.Durations;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Labels;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.security.PublicKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.eclipse.jgit.lib.Repository;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The GitOps engine: git sources, their polling and webhooks, the history of recorded heads, and
 * rendering applications for devices.
 *
 * <p>A poll asks the remote for the branch tip ({@code ls-remote}, milliseconds) and fetches only
 * when the tip differs from the last one processed. A new tip is validated as a whole (every
 * changed application parsed and rendered without device tags): if anything is wrong the commit is
 * recorded as {@code FAILED} with the reason, shown as the source's {@code lastError}, and the
 * previous good commit stays in effect. Network and credential failures never move the head either.
 * Application contents of applied commits are kept in the database, so rendering never needs the
 * remote or the local clone.
 *
 * <p>Threading: every public method is thread-safe. Polls of one source are serialized (timer,
 * webhook and {@link #pollNow} share a lock); different sources poll in parallel on a small worker
 * pool; one scheduler thread keeps jittered timers. Change listeners run on the polling thread.
 * Rendering is cached and Helm runs one chart at a time, in a process of its own ({@link
 * HelmWorker}) that {@link #close} stops.
 */
public final class GitOps implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(GitOps.class);

  /** The webhook route prefix; the source name follows. */
  public static final String WEBHOOK_PATH = "/api/v1/hooks/git/";

  static final String DEFAULT_BRANCH = "main";
  static final String DEFAULT_PATH = "apps";
  static final String DEFAULT_INTERVAL = "15s";
  static final Duration MAX_INTERVAL = Duration.ofDays(1);
  static final String DEFAULT_TOKEN_USER = "x-access-token";
  private static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  private static final Pattern SCP_LIKE = Pattern.compile("[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:.+");
  private static final Pattern HEX = Pattern.compile("[0-9a-f]{4,64}");
  private static final Pattern CONTENT_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:-]{0,127}");

  private final Clock clock;
  private final AuditLog audit;
  private final Jdbi jdbi;
  private final SecretBox secrets;
  private final Webhooks webhooks = new Webhooks();
  private final Settings settings;
  private final SourceStore store;
  private final GitClient git;
  private final Renderer renderer;
  private final Lru<String, Bundle> bundles;
  private final ScheduledExecutorService scheduler;
  private final ExecutorService workers;
  private final ConcurrentHashMap<String, ReentrantLock> locks = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, ScheduledFuture<?>> timers = new ConcurrentHashMap<>();
  private final Set<String> queued = ConcurrentHashMap.newKeySet();
  private final ConcurrentHashMap<String, GitClient.Credentials.Ssh> sshCredentials =
      new ConcurrentHashMap<>();
  private final List<Consumer<String>> listeners = new CopyOnWriteArrayList<>();
  private final AtomicLong lsRemotes = new AtomicLong();
  private final AtomicLong fetches = new AtomicLong();
  private final AtomicLong applied = new AtomicLong();
  private final AtomicLong refused = new AtomicLong();
  private volatile boolean running;
  private volatile boolean closed;

  /**
   * Tunables.
   *
   * @param pollThreads how many sources may poll at the same time
   * @param renderCacheBytes bound of the rendered-output cache (characters of YAML, roughly bytes)
   * @param bundleCacheBytes bound of the cache of parsed application directories
   * @param gitTimeout network timeout of one git operation
   * @param minInterval the smallest polling interval a source may ask for
   * @param chartCacheBytes bound of the chart files kept on disk for Helm ({@code charts/})
   * @param chartCacheEntries how many charts are kept on disk at most
   * @param helmRenderTimeout how long one Helm call may take before its process is killed
   * @param helmRendersPerProcess Helm calls one Helm process serves before it is replaced
   * @param helmIdleTimeout the Helm process is stopped after this long without work
   */
  public record Settings(
      int pollThreads,
      long renderCacheBytes,
      long bundleCacheBytes,
      Duration gitTimeout,
      Duration minInterval,
      long chartCacheBytes,
      int chartCacheEntries,
      Duration helmRenderTimeout,
      int helmRendersPerProcess,
      Duration helmIdleTimeout) {
    /** These tunables with the defaults for the chart cache and the Helm process. */
    public Settings(
        int pollThreads,
        long renderCacheBytes,
        long bundleCacheBytes,
        Duration gitTimeout,
        Duration minInterval) {
      this(
          pollThreads,
          renderCacheBytes,
          bundleCacheBytes,
          gitTimeout,
          minInterval,
          DEFAULT_CHART_CACHE_BYTES,
          DEFAULT_CHART_CACHE_ENTRIES,
          HelmWorker.Options.defaults().requestTimeout(),
          HelmWorker.Options.defaults().requestsPerProcess(),
          HelmWorker.Options.defaults().idleTimeout());
    }

    public static Settings defaults() {
      return new Settings(4, 64L << 20, 64L << 20, Duration.ofSeconds(60), Duration.ofSeconds(5));
    }
  }

  static final long DEFAULT_CHART_CACHE_BYTES = 256L << 20;
  static final int DEFAULT_CHART_CACHE_ENTRIES = 1000;

  /** Counters since start, for metrics and tests. */
  public record Stats(
      long lsRemotes,
      long fetches,
      long commitsApplied,
      long commitsRefused,
      long helmRenders,
      long renderCacheHits,
      long renderCacheMisses) {}

  public GitOps(Jdbi jdbi, Clock clock, AuditLog audit, Path workDir, SecretBox secrets) {
    this(jdbi, clock, audit, workDir, secrets, Settings.defaults());
  }

  /**
   * Creates the engine; nothing polls until {@link #start}. {@code workDir} holds local clones
   * ({@code repos/}), charts written for Helm ({@code charts/}), the Helm process's files ({@code
   * helm/}) and temporary files ({@code tmp/}); all but the clones are emptied here. Helm's process
   * is started on the first Helm call and stopped by {@link #close}.
   */
  public GitOps(
      Jdbi jdbi, Clock clock, AuditLog audit, Path workDir, SecretBox secrets, Settings settings) {
    this(jdbi, clock, audit, workDir, secrets, settings, HelmWorker.DEFAULT_JVM_OPTIONS);
  }

  /** As the public constructor, with these options for the JVM that runs Helm. */
  GitOps(
      Jdbi jdbi,
      Clock clock,
      AuditLog audit,
      Path workDir,
      SecretBox secrets,
      Settings settings,
      List<String> helmJvmOptions) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.audit = audit;
    this.secrets = secrets;
    this.settings = settings;
    Path dir = workDir.toAbsolutePath();
    Directories.delete(dir.resolve("charts"));
    Directories.delete(dir.resolve("helm"));
    Directories.delete(dir.resolve("tmp"));
    this.store = new SourceStore(jdbi);
    this.git = new GitClient(dir.resolve("repos"), dir.resolve("ssh"), settings.gitTimeout());
    this.renderer =
        new Renderer(
            new HelmRenderer(
                new ChartCache(
                    dir.resolve("charts"),
                    settings.chartCacheBytes(),
                    settings.chartCacheEntries()),
                dir.resolve("tmp"),
                new HelmWorker(
                    dir.resolve("helm"),
                    new HelmWorker.Options(
                        HelmWorker.Options.defaults().startTimeout(),
                        settings.helmRenderTimeout(),
                        settings.helmRendersPerProcess(),
                        settings.helmIdleTimeout(),
                        helmJvmOptions))),
            settings.renderCacheBytes());
    this.bundles = new Lru<>(settings.bundleCacheBytes(), Bundle::size);
    this.scheduler = Executors.newSingleThreadScheduledExecutor(daemon("edgefleet-gitops-timer"));
    this.workers = Executors.newFixedThreadPool(settings.pollThreads(), daemon("edgefleet-gitops"));
  }

  // ---------------------------------------------------------------------------------------------
  // Sources

  /**
   * Adds a source. Idempotency: a second add of the same name fails with {@code CONFLICT}. When the
   * engine is started, the first fetch runs right away in the background.
   *
   * @throws ControllerException {@code VALIDATION_FAILED} naming the bad field, {@code CONFLICT}
   */
  public SourceView add(AddSource req, String actor) {
    Validated v = validate(req);
    String webhookSecret = Ids.secret("efw");
    long now = clock.millis();
    SourceStore.SourceRow row =
        new SourceStore.SourceRow(
            v.name,
            v.url,
            v.branch,
            v.path,
            v.interval.toMillis(),
            v.auth,
            v.credential == null ? null : secrets.seal(v.credential, context(v.name, v.auth)),
            v.hostKey == null ? null : SshKeys.openSsh(v.hostKey),
            v.target.toString(),
            secrets.seal(webhookSecret, context(v.name, "webhook")),
            null,
            null,
            null,
            null,
            null,
            now);
    try {
      jdbi.useTransaction(
          h -> {
            if (store.find(h, v.name).isPresent()) {
              throw conflict(v.name);
            }
            store.insert(h, row);
            if (v.rollout != null) {
              h.createUpdate("UPDATE git_sources SET rollout_policy = :p WHERE name = :n")
                  .bind("p", v.rollout)
                  .bind("n", v.name)
                  .execute();
            }
            Map<String, Object> detail = new LinkedHashMap<>();
            detail.put("url", v.url);
            detail.put("branch", v.branch);
            detail.put("path", v.path.isEmpty() ? "." : v.path);
            detail.put("interval", Durations.human(v.interval));
            detail.put("auth", v.auth);
            detail.put("target", v.target.toString());
            if (v.rollout != null) {
              detail.put("rollout", v.rollout);
            }
            audit.record(h, actor, "git-source.add", v.name, detail);
          });
    } catch (ControllerException e) {
      throw e;
    } catch (RuntimeException e) {
      if (store.find(v.name).isPresent()) {
        throw conflict(v.name);
      }
      throw e;
    }
    // A stale clone from an earlier source of the same name must not be reused.
    git.forget(v.name);
    LOG.info("git source {} added by {}: {} {} {}", v.name, actor, v.url, v.branch, v.path);
    if (running) {
      trigger(v.name);
    }
    return view(row);
  }

  public List<SourceView> list() {
    return store.all().stream().map(this::view).toList();
  }

  /**
   * @throws ControllerException {@code NOT_FOUND}
   */
  public SourceView get(String name) {
    return view(source(name));
  }

  /**
   * Removes a source with its history and local clone; its applications disappear from {@link
   * #apps()} and change listeners are told.
   *
   * @throws ControllerException {@code NOT_FOUND}
   */
  public void remove(String name, String actor) {
    ScheduledFuture<?> timer = timers.remove(name);
    if (timer != null) {
      timer.cancel(false);
    }
    ReentrantLock lock = lock(name);
    lock.lock();
    try {
      jdbi.useTransaction(
          h -> {
            if (!store.delete(h, name)) {
              throw ControllerException.notFound("git source", name);
            }
            audit.record(h, actor, "git-source.remove", name, Map.of());
          });
      git.forget(name);
      sshCredentials.remove(name);
    } finally {
      // The lock stays in the map: a poll waiting on it must not race one on a fresh lock.
      lock.unlock();
    }
    LOG.info("git source {} removed by {}", name, actor);
    notifyChange(name);
  }

  /**
   * The recorded heads of a source, newest first.
   *
   * @throws ControllerException {@code NOT_FOUND}
   */
  public List<CommitView> history(String name, int limit) {
    source(name);
    return store.history(name, Math.max(1, Math.min(limit, 1000)));
  }

  /**
   * One recorded head by full SHA or unique prefix (at least 4 hex digits); its latest record if it
   * was the head more than once.
   *
   * @throws ControllerException {@code NOT_FOUND}, or {@code VALIDATION_FAILED} for an ambiguous or
   *     malformed SHA
   */
  public CommitView commit(String name, String sha) {
    source(name);
    String p = sha == null ? "" : sha.trim().toLowerCase(Locale.ROOT);
    if (!HEX.matcher(p).matches()) {
      throw ControllerException.invalid(
          "'" + sha + "' is not a commit SHA: give at least 4 hexadecimal digits");
    }
    List<CommitView> found = store.commitsByPrefix(name, p);
    Set<String> shas = new TreeSet<>(found.stream().map(CommitView::sha).toList());
    if (shas.isEmpty()) {
      throw ControllerException.notFound("commit of git source " + name, sha);
    }
    if (shas.size() > 1) {
      throw ControllerException.invalid(
          "'" + sha + "' matches several commits of " + name + "; give more digits");
    }
    return found.get(0);
  }

  // ---------------------------------------------------------------------------------------------
  // Polling

  /**
   * Starts the background pollers: one timer per source with a jittered first delay. Idempotent.
   */
  public synchronized void start() {
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
   * Checks the remote now, in the calling thread, and records a new head if there is one.
   *
   * @return whether a new commit was applied (false when nothing changed, the remote could not be
   *     reached, or the new commit was refused; see the source's {@code lastError})
   * @throws ControllerException {@code NOT_FOUND}
   */
  public boolean pollNow(String name) {
    source(name);
    return poll(name);
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
  public WebhookResult webhook(String name, Map<String, String> headersLowercase, byte[] body) {
    Optional<SourceStore.SourceRow> found = store.find(name == null ? "" : name);
    Webhooks.verify(
        name,
        found.map(s -> secrets.open(s.webhookSecret(), context(name, "webhook"))),
        headersLowercase,
        body);
    SourceStore.SourceRow s = found.orElseThrow();
    webhooks.refuseReplay(name, headersLowercase, body, clock.instant());
    Webhooks.Event e = Webhooks.event(headersLowercase, body);
    if (e.ping()) {
      return new WebhookResult(name, false, "ping");
    }
    String want = "refs/heads/" + s.branch();
    if (e.ref().isPresent() && !e.ref().get().equals(want)) {
      return new WebhookResult(
          name, false, "push to " + e.ref().get() + " ignored; the source follows " + want);
    }
    trigger(name);
    return new WebhookResult(
        name, true, "fetch queued" + e.ref().map(r -> " for push to " + r).orElse(""));
  }

  /**
   * Registers a listener called with a source name after a new commit of it was applied or after it
   * was removed: whenever {@link #apps()} may have changed. Runs on the polling thread; must not
   * block for long.
   */
  public void onChange(Consumer<String> listener) {
    listeners.add(listener);
  }

  public Stats stats() {
    return new Stats(
        lsRemotes.get(),
        fetches.get(),
        applied.get(),
        refused.get(),
        renderer.helmRenders(),
        renderer.hits(),
        renderer.misses());
  }

  // ---------------------------------------------------------------------------------------------
  // Applications

  /**
   * Every application of every source at the source's current head, by source then name, with its
   * content revision and the commit that introduced it. Applications recorded before content
   * revisions get theirs here, computed from their stored files, once.
   */
  public List<AppDefinition> apps() {
    Map<String, Selector> targets = new ConcurrentHashMap<>();
    return store.headApps().stream()
        .map(
            a -> {
              Revision r =
                  a.revision() != null
                      ? new Revision(a.revision(), a.commit())
                      : fill(a.source(), a.sha(), a.name());
              return new AppDefinition(
                  a.source(),
                  a.name(),
                  a.sha(),
                  r.revision(),
                  r.commit(),
                  a.kind(),
                  targets.computeIfAbsent(a.target(), Selector::parse));
            })
        .toList();
  }

  /** A content revision and the commit that introduced it. */
  private record Revision(String revision, String commit) {}

  /**
   * The revision of an application recorded at {@code sha} before content revisions, stored for
   * next time. Its provenance is that commit: the one it was recorded at. If its content cannot be
   * read, the commit stands in as its revision, as it did before.
   */
  private Revision fill(String source, String sha, String name) {
    try {
      String revision = revision(bundle(source, sha, name));
      store.fillRevision(source, sha, name, revision, sha);
      return new Revision(revision, sha);
    } catch (RuntimeException e) {
      LOG.warn(
          "git source {}: no content revision for {} at {}: {}", source, name, sha, e.toString());
      return new Revision(sha, sha);
    }
  }

  /** The content revision of a parsed application: see {@link ContentRevision}. */
  private String revision(Bundle b) {
    return switch (b.kind()) {
      case MANIFESTS -> ContentRevision.ofRendered(renderer.renderBase(b));
      case HELM -> ContentRevision.ofFiles(b.files());
    };
  }

  /** The revision of an application row of a recorded commit, filled in if it has none. */
  private Revision revision(SourceStore.AppRow row) {
    return row.revision() != null
        ? new Revision(row.revision(), row.commit())
        : fill(row.source(), row.sha(), row.name());
  }

  /**
   * The application's objects for a device with these tags. Deterministic; cached by (application,
   * content, effective values), so devices with the same relevant tags share one render.
   *
   * @throws ControllerException {@code NOT_FOUND} if the application was never recorded at that
   *     revision
   * @throws RenderException if a tag referenced by {@code ${tag:KEY}} is missing, or the chart
   *     fails with this device's overrides
   */
  public RenderedApp render(AppDefinition app, Map<String, String> deviceTags) {
    Bundle b = bundle(app.source(), app.sha(), app.name());
    try {
      return renderer.render(b, deviceTags);
    } catch (RenderException e) {
      throw new RenderException("app " + app.label() + ": " + e.getMessage(), e);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Content that does not come from Git (the app catalog)

  /**
   * Renders application content that does not come from Git exactly as a Git application is
   * rendered: the same parser, Helm, overrides, {@code ${tag:KEY}} substitution and render cache,
   * keyed by (name, content id, effective values). {@code extraValues} are deep-merged over the
   * chart's values after the matching entries of {@code edgefleet-overrides.yaml}, before tags are
   * substituted. Thread-safe.
   *
   * @param name the application name: Helm release name and default namespace
   * @param contentId identifies the files, such as {@code sha256:<hex>}: equal ids must mean equal
   *     files ({@code [A-Za-z0-9._:-]}, at most 128 characters)
   * @param files the files by relative path; asked for only when the parsed content is not cached
   * @throws RenderException if the content does not parse, a tag is missing, the chart fails with
   *     these values, or values are given for plain manifests
   * @throws HelmUnavailableException if Helm cannot run now (retryable; says nothing of the chart)
   */
  public RenderedApp renderContent(
      String name,
      String contentId,
      Supplier<SortedMap<String, byte[]>> files,
      Map<String, Object> extraValues,
      Map<String, String> deviceTags) {
    return renderer.render(content(name, contentId, files), checked(extraValues), deviceTags);
  }

  /**
   * The content as every device would get it before overrides and tags, as a commit is validated:
   * overrides ignored, {@code ${tag:KEY}} replaced by {@code tag-KEY}. See {@link #renderContent}.
   *
   * @throws RenderException if the content does not parse or does not render with these values
   * @throws HelmUnavailableException if Helm cannot run now (retryable; says nothing of the chart)
   */
  public RenderedApp renderContentBase(
      String name,
      String contentId,
      Supplier<SortedMap<String, byte[]>> files,
      Map<String, Object> extraValues) {
    return renderer.renderBase(content(name, contentId, files), checked(extraValues));
  }

  /**
   * Runs {@code helm package} over a chart's files and returns the archive Helm wrote: {@code
   * .helmignore} applied, {@code Chart.yaml} rewritten in Helm's form, subchart archives unpacked.
   * The same chart from a directory or from its packaged archive packages to the same files.
   *
   * @throws RenderException with Helm's message if the chart is invalid (bad {@code Chart.yaml},
   *     missing dependencies)
   * @throws HelmUnavailableException if Helm cannot run now (retryable; says nothing of the chart)
   */
  public byte[] packageChart(SortedMap<String, byte[]> files) {
    return renderer.packageChart(files);
  }

  private Bundle content(String name, String contentId, Supplier<SortedMap<String, byte[]>> files) {
    if (name == null || !Bundle.APP_NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("invalid application name " + name);
    }
    if (contentId == null || !CONTENT_ID.matcher(contentId).matches()) {
      throw new IllegalArgumentException("invalid content id " + contentId);
    }
    // Git keys start with a source name, never with NUL.
    String key = "\u0000content\u0000" + contentId + "\u0000" + name;
    Optional<Bundle> cached = bundles.get(key);
    if (cached.isPresent()) {
      return cached.get();
    }
    Bundle b = Bundle.parse(name, contentId.replace(':', '-'), files.get());
    bundles.put(key, b);
    return b;
  }

  private static Map<String, Object> checked(Map<String, Object> values) {
    for (String key : Values.tagKeys(values)) {
      try {
        Labels.validateKey(key);
      } catch (IllegalArgumentException e) {
        throw new RenderException("values use '${tag:" + key + "}' but " + e.getMessage());
      }
    }
    return values;
  }

  @Override
  public void close() {
    closed = true;
    running = false;
    scheduler.shutdownNow();
    workers.shutdownNow();
    // First, so that a poll waiting for Helm ends now rather than at its render deadline.
    renderer.close();
    try {
      workers.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    git.close();
  }

  /** The process that runs Helm (for tests). */
  HelmWorker helmWorker() {
    return renderer.helm().worker();
  }

  /** The chart files kept on disk for Helm (for tests). */
  ChartCache chartCache() {
    return renderer.helm().charts();
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  private boolean poll(String name) {
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
        tip = git.lsRemote(remote);
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
        r = evaluate(s, snapshot);
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
        applied.incrementAndGet();
        LOG.info(
            "git source {}: applied {} ({} apps, {} changed)",
            name,
            shortSha,
            r.apps().size(),
            r.changes().size());
        notifyChange(name);
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

  /** Validates a fetched tip and computes its per-application changes against the head. */
  private SourceStore.Recording evaluate(SourceStore.SourceRow s, GitClient.Snapshot snap) {
    String sha = snap.sha();
    if (snap.contentError() != null) {
      return refusal(s, snap, snap.contentError());
    }
    if (snap.rolloutPolicy() != null) {
      try {
        RolloutPolicy.parse(snap.rolloutPolicy());
      } catch (RolloutPolicyException e) {
        return refusal(s, snap, GitClient.ROLLOUT_POLICY_FILE + ": " + e.getMessage());
      }
    }
    Map<String, SourceStore.AppRow> previous = new LinkedHashMap<>();
    if (s.headSha() != null) {
      for (SourceStore.AppRow a : store.appsAt(s.name(), s.headSha())) {
        previous.put(a.name(), a);
      }
    }
    List<String> problems = new ArrayList<>();
    List<CommitView.AppChange> changes = new ArrayList<>();
    List<SourceStore.AppRow> apps = new ArrayList<>();
    Map<String, GitClient.AppTree> newTrees = new LinkedHashMap<>();
    for (GitClient.AppTree t : snap.apps()) {
      SourceStore.AppRow old = previous.get(t.name());
      Revision was = old == null ? null : revision(old);
      if (old != null && old.treeId().equals(t.treeId())) {
        // A commit SHA here means the content could not be read: left to be filled in later.
        boolean known = !ContentRevision.isCommitSha(was.revision());
        apps.add(
            new SourceStore.AppRow(
                s.name(),
                sha,
                t.name(),
                old.kind(),
                t.treeId(),
                known ? was.revision() : null,
                known ? was.commit() : null));
        continue;
      }
      Map<String, String> now;
      Bundle b;
      String revision;
      try {
        b = Bundle.parse(t.name(), t.treeId(), t.files());
        RenderedApp base = renderer.renderBase(b);
        now = Manifests.index(Manifests.parse(base.yaml(), "rendered output"));
        revision =
            b.kind() == AppDefinition.Kind.MANIFESTS
                ? ContentRevision.ofRendered(base)
                : ContentRevision.ofFiles(b.files());
      } catch (RenderException e) {
        problems.add("app '" + t.name() + "': " + e.getMessage());
        continue;
      }
      // Same content, other files (a README, comments): the revision and its provenance stay.
      String commit = was != null && was.revision().equals(revision) ? was.commit() : sha;
      bundles.put(key(s.name(), sha, t.name()), b);
      apps.add(
          new SourceStore.AppRow(s.name(), sha, t.name(), b.kind(), t.treeId(), revision, commit));
      newTrees.put(t.treeId(), t);
      Map<String, String> before = old == null ? Map.of() : previousIndex(s, old);
      changes.add(
          diff(
              t.name(),
              old == null ? CommitView.Change.ADDED : CommitView.Change.CHANGED,
              revision,
              before,
              now));
    }
    Set<String> current = new TreeSet<>(GitClient.names(snap.apps()));
    for (SourceStore.AppRow old : previous.values()) {
      if (!current.contains(old.name())) {
        changes.add(
            diff(old.name(), CommitView.Change.REMOVED, null, previousIndex(s, old), Map.of()));
      }
    }
    if (!problems.isEmpty()) {
      return refusal(s, snap, String.join("; ", problems));
    }
    changes.sort(java.util.Comparator.comparing(CommitView.AppChange::app));
    return new SourceStore.Recording(snap, true, null, List.copyOf(changes), apps, newTrees);
  }

  private SourceStore.Recording refusal(
      SourceStore.SourceRow s, GitClient.Snapshot snap, String problem) {
    String keep =
        s.headSha() == null
            ? "no commit is in effect yet"
            : "commit " + s.headSha().substring(0, 12) + " stays in effect";
    String error =
        "commit " + snap.sha().substring(0, 12) + " was refused (" + keep + "): " + problem;
    return new SourceStore.Recording(snap, false, error, List.of(), List.of(), Map.of());
  }

  private Map<String, String> previousIndex(SourceStore.SourceRow s, SourceStore.AppRow old) {
    try {
      return renderer.baseIndex(bundle(s.name(), s.headSha(), old.name()));
    } catch (RuntimeException e) {
      // The previous head was valid when recorded; if it no longer renders (e.g. Helm missing)
      // the diff is reported without its resources rather than blocking the new commit.
      LOG.warn(
          "git source {}: cannot render previous {} for the diff: {}", s.name(), old, e.toString());
      return Map.of();
    }
  }

  private static CommitView.AppChange diff(
      String app,
      CommitView.Change change,
      String revision,
      Map<String, String> before,
      Map<String, String> after) {
    List<String> added = new ArrayList<>();
    List<String> changed = new ArrayList<>();
    List<String> removed = new ArrayList<>();
    after.forEach(
        (id, yaml) -> {
          String was = before.get(id);
          if (was == null) {
            added.add(id);
          } else if (!was.equals(yaml)) {
            changed.add(id);
          }
        });
    before
        .keySet()
        .forEach(
            id -> {
              if (!after.containsKey(id)) {
                removed.add(id);
              }
            });
    return new CommitView.AppChange(
        app, change, revision, List.copyOf(added), List.copyOf(changed), List.copyOf(removed));
  }

  private Bundle bundle(String source, String sha, String name) {
    String key = key(source, sha, name);
    Optional<Bundle> cached = bundles.get(key);
    if (cached.isPresent()) {
      return cached.get();
    }
    var row =
        store
            .app(source, sha, name)
            .orElseThrow(
                () -> ControllerException.notFound("application", source + "/" + name + "@" + sha));
    Bundle b = Bundle.parse(name, row.row().treeId(), row.files());
    bundles.put(key, b);
    return b;
  }

  private static String key(String source, String sha, String name) {
    return source + "\u0000" + sha + "\u0000" + name;
  }

  private GitClient.Credentials credentials(SourceStore.SourceRow s) {
    return switch (s.auth()) {
      case "token" -> {
        String t = secrets.open(s.credential(), context(s.name(), "token"));
        int colon = t.indexOf(':');
        yield colon > 0
            ? new GitClient.Credentials.Token(t.substring(0, colon), t.substring(colon + 1))
            : new GitClient.Credentials.Token(DEFAULT_TOKEN_USER, t);
      }
      case "ssh" ->
          sshCredentials.computeIfAbsent(
              s.name(),
              k ->
                  new GitClient.Credentials.Ssh(
                      SshKeys.privateKey(secrets.open(s.credential(), context(k, "ssh"))),
                      new SshKeys.Pin(
                          Optional.ofNullable(s.sshHostKey()).map(SshKeys::publicKey))));
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

  private void notifyChange(String name) {
    for (Consumer<String> l : listeners) {
      try {
        l.accept(name);
      } catch (RuntimeException e) {
        LOG.warn("gitops change listener failed for {}", name, e);
      }
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
      scheduleNext(name, settings.minInterval().toMillis());
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

  private SourceStore.SourceRow source(String name) {
    return store
        .find(name == null ? "" : name)
        .orElseThrow(() -> ControllerException.notFound("git source", name));
  }

  private SourceView view(SourceStore.SourceRow s) {
    SourceView.Commit last = null;
    List<String> apps = List.of();
    List<SourceView.AppRevision> revisions = List.of();
    if (s.headSha() != null) {
      last =
          store
              .latestCommit(s.name(), s.headSha())
              .map(
                  c ->
                      new SourceView.Commit(
                          c.sha(), c.author(), subject(c.message()), c.committedAt()))
              .orElse(null);
      List<SourceStore.AppRow> rows = store.appsAt(s.name(), s.headSha());
      apps = rows.stream().map(SourceStore.AppRow::name).toList();
      revisions =
          rows.stream()
              .map(
                  a -> {
                    Revision r = revision(a);
                    return new SourceView.AppRevision(a.name(), r.revision(), r.commit());
                  })
              .toList();
    }
    String hostKey = null;
    if (s.sshHostKey() != null) {
      try {
        hostKey = SshKeys.fingerprint(SshKeys.publicKey(s.sshHostKey()));
      } catch (IllegalArgumentException e) {
        hostKey = "unreadable";
      }
    }
    return new SourceView(
        s.name(),
        s.url(),
        s.branch(),
        s.path().isEmpty() ? "." : s.path(),
        Durations.human(Duration.ofMillis(s.intervalMs())),
        s.auth(),
        s.target(),
        webhookSecret(s),
        WEBHOOK_PATH + s.name(),
        last,
        s.lastPolledAt() == null ? null : Instant.ofEpochMilli(s.lastPolledAt()),
        s.lastError(),
        hostKey,
        apps,
        revisions,
        Instant.ofEpochMilli(s.createdAt()),
        rolloutPolicies().get(s.name()));
  }

  /**
   * The rollout policy text of every source that has one, by source name: the {@code
   * edgefleet-rollout.yaml} of the commit in effect, else the policy given when the source was
   * added. Applications of these sources reach devices through phased rollouts.
   */
  public Map<String, String> rolloutPolicies() {
    Map<String, String> out = new LinkedHashMap<>();
    jdbi.useHandle(
        h ->
            h.createQuery(
                    "SELECT name, COALESCE(head_rollout_policy, rollout_policy) FROM git_sources"
                        + " WHERE head_rollout_policy IS NOT NULL OR rollout_policy IS NOT NULL")
                .map((rs, ctx) -> Map.entry(rs.getString(1), rs.getString(2)))
                .forEach(e -> out.put(e.getKey(), e.getValue())));
    return out;
  }

  /** The webhook secret, or null (logged) if it cannot be opened: one bad row must not hide all. */
  private String webhookSecret(SourceStore.SourceRow s) {
    try {
      return secrets.open(s.webhookSecret(), context(s.name(), "webhook"));
    } catch (IllegalArgumentException e) {
      LOG.warn("git source {}: cannot open its webhook secret: {}", s.name(), e.getMessage());
      return null;
    }
  }

  private static String subject(String message) {
    String m = message.strip();
    int nl = m.indexOf('\n');
    return nl < 0 ? m : m.substring(0, nl).strip();
  }

  private static String context(String source, String field) {
    return "git-source:" + source + ":" + field;
  }

  private static ControllerException conflict(String name) {
    return new ControllerException(
        ErrorCode.CONFLICT,
        "git source '" + name + "' already exists; remove it first or choose another name");
  }

  // ---------------------------------------------------------------------------------------------
  // Validation

  private record Validated(
      String name,
      String url,
      String branch,
      String path,
      Duration interval,
      String auth,
      String credential,
      PublicKey hostKey,
      Selector target,
      String rollout) {}

  private Validated validate(AddSource req) {
    if (req == null) {
      throw ControllerException.invalid("a git source needs at least name, url and target");
    }
    String name = req.name() == null ? "" : req.name().trim();
    if (!NAME.matcher(name).matches()) {
      throw ControllerException.invalid(
          "name '"
              + name
              + "' is invalid: use 1 to 63 lower-case letters, digits and '-', starting and"
              + " ending with a letter or digit");
    }
    String url = req.url() == null ? "" : req.url().trim();
    Transport transport = transport(url);
    boolean hasKey = req.sshKey() != null && !req.sshKey().isBlank();
    boolean hasToken = req.token() != null && !req.token().isBlank();
    if (hasKey && hasToken) {
      throw ControllerException.invalid("give either sshKey or token, not both");
    }
    String auth = "none";
    String credential = null;
    if (hasKey) {
      if (transport != Transport.SSH) {
        throw ControllerException.invalid(
            "sshKey only works with ssh URLs (ssh://… or git@host:path); this URL is "
                + transport.name().toLowerCase(Locale.ROOT));
      }
      try {
        SshKeys.privateKey(req.sshKey());
      } catch (IllegalArgumentException e) {
        throw ControllerException.invalid(e.getMessage());
      }
      auth = "ssh";
      credential = req.sshKey().strip() + "\n";
    } else if (hasToken) {
      if (transport == Transport.HTTP && !loopback(url)) {
        throw ControllerException.invalid(
            "a token would travel in clear text over http://; use an https:// URL");
      }
      if (transport != Transport.HTTPS && transport != Transport.HTTP) {
        throw ControllerException.invalid("token only works with https:// URLs");
      }
      auth = "token";
      credential = req.token().strip();
    } else if (transport == Transport.SSH) {
      throw ControllerException.invalid(
          "ssh URLs need sshKey: the text of a private deploy key with read access");
    }
    PublicKey hostKey = null;
    if (req.sshHostKey() != null && !req.sshHostKey().isBlank()) {
      if (transport != Transport.SSH) {
        throw ControllerException.invalid("sshHostKey only applies to ssh URLs");
      }
      try {
        hostKey = SshKeys.publicKey(req.sshHostKey());
      } catch (IllegalArgumentException e) {
        throw ControllerException.invalid(e.getMessage());
      }
    }
    String branch =
        req.branch() == null || req.branch().isBlank() ? DEFAULT_BRANCH : req.branch().trim();
    if (branch.startsWith("refs/heads/")) {
      branch = branch.substring("refs/heads/".length());
    }
    if (!Repository.isValidRefName("refs/heads/" + branch)) {
      throw ControllerException.invalid("branch '" + branch + "' is not a valid git branch name");
    }
    String path = path(req.path() == null ? DEFAULT_PATH : req.path());
    Duration interval;
    try {
      interval = Durations.parse(req.interval() == null ? DEFAULT_INTERVAL : req.interval());
    } catch (IllegalArgumentException e) {
      throw ControllerException.invalid("interval: " + e.getMessage());
    }
    if (interval.compareTo(settings.minInterval()) < 0) {
      throw ControllerException.invalid(
          "interval must be at least "
              + Durations.human(settings.minInterval())
              + "; use a webhook for faster updates");
    }
    if (interval.compareTo(MAX_INTERVAL) > 0) {
      throw ControllerException.invalid("interval must be at most 1d");
    }
    if (req.target() == null) {
      throw ControllerException.invalid(
          "target is required: a selector over device tags such as 'site-size=large', or '' for"
              + " every device");
    }
    Selector target;
    try {
      target = Selector.parse(req.target());
    } catch (IllegalArgumentException e) {
      throw ControllerException.invalid("target: " + e.getMessage());
    }
    String rollout = null;
    if (req.rollout() != null && !req.rollout().isBlank()) {
      try {
        rollout = RolloutPolicy.parse(req.rollout()).source();
      } catch (RolloutPolicyException e) {
        throw new ControllerException(ErrorCode.ROLLOUT_POLICY_INVALID, e.getMessage());
      }
    }
    if (name.equals(Deployments.SOURCE)) {
      throw ControllerException.invalid(
          "name '"
              + name
              + "' is reserved for deployments of the app catalog; choose another name");
    }
    return new Validated(
        name, url, branch, path, interval, auth, credential, hostKey, target, rollout);
  }

  enum Transport {
    HTTPS,
    HTTP,
    SSH,
    GIT,
    FILE
  }

  static Transport transport(String url) {
    if (url.isEmpty() || url.length() > 2000) {
      throw ControllerException.invalid(
          "url is required: https://…, ssh://…, git@host:path, git://… or file://…");
    }
    if (!url.contains("://") && SCP_LIKE.matcher(url).matches()) {
      return Transport.SSH;
    }
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      throw ControllerException.invalid("url '" + url + "' is not a valid URL: " + e.getReason());
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    Transport t =
        switch (scheme) {
          case "https" -> Transport.HTTPS;
          case "http" -> Transport.HTTP;
          case "ssh" -> Transport.SSH;
          case "git" -> Transport.GIT;
          case "file" -> Transport.FILE;
          default ->
              throw ControllerException.invalid(
                  "url '"
                      + url
                      + "' has an unsupported scheme; use https://, ssh://, git@host:path, git://"
                      + " or file://");
        };
    if (t != Transport.FILE && (uri.getHost() == null || uri.getHost().isBlank())) {
      throw ControllerException.invalid("url '" + url + "' has no host");
    }
    if (t == Transport.FILE && (uri.getPath() == null || uri.getPath().isBlank())) {
      throw ControllerException.invalid("url '" + url + "' has no path");
    }
    if (uri.getRawUserInfo() != null && uri.getRawUserInfo().contains(":")) {
      throw ControllerException.invalid(
          "url must not contain a password or token; pass the token separately so it is stored"
              + " encrypted");
    }
    return t;
  }

  private static boolean loopback(String url) {
    try {
      String host = new URI(url).getHost();
      if (host == null) {
        return false;
      }
      String h = host.replaceAll("^\\[|\\]$", "");
      // Only literal addresses: a name that resolves to loopback today may not tomorrow.
      return h.equals("localhost")
          || ((h.matches("[0-9.]+") || h.contains(":"))
              && InetAddress.getByName(h).isLoopbackAddress());
    } catch (URISyntaxException | java.net.UnknownHostException e) {
      return false;
    }
  }

  static String path(String raw) {
    String p = raw.trim().replace('\\', '/');
    while (p.startsWith("./")) {
      p = p.substring(2);
    }
    p = p.replaceAll("^/+", "").replaceAll("/+$", "");
    if (p.equals(".")) {
      return "";
    }
    if (p.isEmpty()) {
      return "";
    }
    for (String seg : p.split("/", -1)) {
      if (seg.isEmpty() || seg.equals(".") || seg.equals("..")) {
        throw ControllerException.invalid(
            "path '" + raw + "' is invalid: use a directory inside the repository such as apps/");
      }
    }
    return p;
  }

  private static java.util.concurrent.ThreadFactory daemon(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}
