package io.edgefleet.controller.gitops;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.desired.AppStatusService;
import io.edgefleet.controller.render.Bundle;
import io.edgefleet.controller.render.ContentRevision;
import io.edgefleet.controller.render.RenderException;
import io.edgefleet.controller.render.RenderedApp;
import io.edgefleet.controller.render.Rendering;
import io.edgefleet.controller.secrets.SecretBox;
import io.edgefleet.controller.selector.ProjectScope;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Function;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The GitOps engine: git sources ({@link GitSources}), their polling and webhooks ({@link
 * GitPolling}), what each new commit means for the applications ({@link CommitEvaluator}), and the
 * applications at every source's head for devices.
 *
 * <p>A new tip is validated application by application (every changed application parsed and
 * rendered without device tags): an application that cannot be used keeps its previous revision
 * while the others take effect, and is reported per application. If nothing of the commit can take
 * effect it is recorded as {@code FAILED} with the reason, shown as the source's {@code lastError},
 * and the previous good commit stays in effect. Network and credential failures never move the head
 * either. Application contents of applied commits are kept in the database, so rendering never
 * needs the remote or the local clone. Rendering itself is {@link Rendering}'s, shared with the app
 * catalog.
 *
 * <p>Threading: every public method is thread-safe. Change listeners run on the polling thread.
 */
public final class GitOps implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(GitOps.class);

  /** The webhook route prefix; the source name follows. */
  public static final String WEBHOOK_PATH = "/api/v1/hooks/git/";

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
          Rendering.Settings.DEFAULT_CHART_CACHE_BYTES,
          Rendering.Settings.DEFAULT_CHART_CACHE_ENTRIES,
          Rendering.Settings.defaults().helmRenderTimeout(),
          Rendering.Settings.defaults().helmRendersPerProcess(),
          Rendering.Settings.defaults().helmIdleTimeout());
    }

    /** The rendering tunables, with these options for the JVM that runs Helm. */
    Rendering.Settings rendering(List<String> helmJvmOptions) {
      return new Rendering.Settings(
          renderCacheBytes,
          bundleCacheBytes,
          chartCacheBytes,
          chartCacheEntries,
          helmRenderTimeout,
          helmRendersPerProcess,
          helmIdleTimeout,
          helmJvmOptions);
    }

    public static Settings defaults() {
      return new Settings(4, 64L << 20, 64L << 20, Duration.ofSeconds(60), Duration.ofSeconds(5));
    }
  }

  /** Counters since start, for metrics and tests. */
  public record Stats(
      long lsRemotes,
      long fetches,
      long commitsApplied,
      long commitsRefused,
      long helmRenders,
      long renderCacheHits,
      long renderCacheMisses) {}

  private final Rendering rendering;
  private final GitClient git;
  private final CommitEvaluator commits;
  private final GitSources sources;
  private final GitPolling polling;
  private final Consumer<String> changed;

  /**
   * @param changed told the name of a source after a new commit of it was applied or after it was
   *     removed: whenever {@link #apps()} may have changed. Runs on the polling thread; must not
   *     block for long.
   */
  public GitOps(
      Jdbi jdbi,
      Clock clock,
      AuditLog audit,
      Path workDir,
      SecretBox secrets,
      Consumer<String> changed) {
    this(jdbi, clock, audit, workDir, secrets, Settings.defaults(), changed, source -> Map.of());
  }

  /**
   * Creates the engine; nothing polls until {@link #start}. {@code workDir} holds local clones
   * ({@code repos/}), charts written for Helm ({@code charts/}), the Helm process's files ({@code
   * helm/}) and temporary files ({@code tmp/}); all but the clones are emptied here. Helm's process
   * is started on the first Helm call and stopped by {@link #close}.
   */
  public GitOps(
      Jdbi jdbi,
      Clock clock,
      AuditLog audit,
      Path workDir,
      SecretBox secrets,
      Settings settings,
      Consumer<String> changed) {
    this(jdbi, clock, audit, workDir, secrets, settings, changed, source -> Map.of());
  }

  /**
   * As above, with where the counts of devices per commit come from ({@link CommitView#devices},
   * {@link CommitView#state}): for a source, per commit SHA, how far the app revisions it brought
   * reached the devices, as they report it.
   */
  public GitOps(
      Jdbi jdbi,
      Clock clock,
      AuditLog audit,
      Path workDir,
      SecretBox secrets,
      Settings settings,
      Consumer<String> changed,
      Function<String, Map<String, AppStatusService.CommitDevices>> deviceCounts) {
    this(
        jdbi,
        clock,
        audit,
        workDir,
        secrets,
        settings,
        Rendering.DEFAULT_HELM_JVM_OPTIONS,
        changed,
        deviceCounts);
  }

  /** As the public constructor, with these options for the JVM that runs Helm. */
  GitOps(
      Jdbi jdbi,
      Clock clock,
      AuditLog audit,
      Path workDir,
      SecretBox secrets,
      Settings settings,
      List<String> helmJvmOptions,
      Consumer<String> changed,
      Function<String, Map<String, AppStatusService.CommitDevices>> deviceCounts) {
    this.changed = changed;
    Path dir = workDir.toAbsolutePath();
    this.rendering = new Rendering(dir, settings.rendering(helmJvmOptions));
    SourceStore store = new SourceStore(jdbi);
    this.git = new GitClient(dir.resolve("repos"), dir.resolve("ssh"), settings.gitTimeout());
    this.commits = new CommitEvaluator(store, rendering);
    this.sources =
        new GitSources(
            jdbi, clock, audit, secrets, store, git, commits, settings.minInterval(), deviceCounts);
    this.polling =
        new GitPolling(
            clock,
            secrets,
            store,
            git,
            commits,
            settings.pollThreads(),
            settings.minInterval(),
            this::notifyChange,
            (source, r) -> sources.appsRefused(source, r.snapshot().sha(), r.changes()));
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
    return add(req, actor, Optional.empty());
  }

  /**
   * Adds a source in a project, when one is given: its applications then reach only the project's
   * devices (the project's selector ANDed with the source's target).
   */
  public SourceView add(AddSource req, String actor, Optional<ProjectScope.Project> project) {
    SourceView added = sources.add(req, actor, project);
    polling.added(added.name());
    return added;
  }

  /**
   * What adding this source would find, changing nothing: the branch it would follow and the commit
   * at its tip.
   *
   * @throws ControllerException {@code VALIDATION_FAILED}, {@code GIT_REMOTE_UNREACHABLE}
   */
  public SourceCheck check(AddSource req) {
    GitSources.Check c = sources.check(req);
    return new SourceCheck(
        c.name(),
        c.url(),
        c.branch(),
        c.commit(),
        c.hostKey() == null ? null : SshKeys.fingerprint(c.hostKey()));
  }

  /**
   * What a dry run of adding a source found.
   *
   * @param hostKeyFingerprint the ssh host key that would be pinned, when none was given
   */
  public record SourceCheck(
      String name, String url, String branch, String commit, String hostKeyFingerprint) {}

  public List<SourceView> list() {
    return sources.list();
  }

  /** The project a source was added in, if any; empty for an unknown source too. */
  public Optional<String> project(String name) {
    return sources.project(name);
  }

  /**
   * @throws ControllerException {@code NOT_FOUND}
   */
  public SourceView get(String name) {
    return sources.get(name);
  }

  /**
   * Removes a source with its history and local clone; its applications disappear from {@link
   * #apps()} and change listeners are told.
   *
   * @throws ControllerException {@code NOT_FOUND}
   */
  public void remove(String name, String actor) {
    polling.remove(name, () -> sources.delete(name, actor));
    LOG.info("git source {} removed by {}", name, actor);
    notifyChange(name);
  }

  /**
   * The recorded heads of a source, newest first.
   *
   * @throws ControllerException {@code NOT_FOUND}
   */
  public List<CommitView> history(String name, int limit) {
    return sources.history(name, limit);
  }

  /**
   * One recorded head by full SHA or unique prefix (at least 4 hex digits); its latest record if it
   * was the head more than once.
   *
   * @throws ControllerException {@code NOT_FOUND}, or {@code VALIDATION_FAILED} for an ambiguous or
   *     malformed SHA
   */
  public CommitView commit(String name, String sha) {
    return sources.commit(name, sha);
  }

  /**
   * The rollout policy text of every source that has one, by source name: the {@code
   * edgefleet-rollout.yaml} of the commit in effect, else the policy given when the source was
   * added. Applications of these sources reach devices through phased rollouts.
   */
  public Map<String, String> rolloutPolicies() {
    return sources.rolloutPolicies();
  }

  // ---------------------------------------------------------------------------------------------
  // Polling

  /**
   * Starts the background pollers: one timer per source with a jittered first delay. Idempotent.
   */
  public void start() {
    polling.start();
  }

  /**
   * Checks the remote now, in the calling thread, and records a new head if there is one.
   *
   * @return whether a new commit was applied (false when nothing changed, the remote could not be
   *     reached, or the new commit was refused; see the source's {@code lastError})
   * @throws ControllerException {@code NOT_FOUND}
   */
  public boolean pollNow(String name) {
    sources.source(name);
    return polling.poll(name);
  }

  /**
   * Checks the remote now, in the calling thread, and says what became of the newest commit: see
   * {@link #pollNow}.
   *
   * @throws ControllerException {@code NOT_FOUND}
   */
  public SyncResult sync(String name) {
    boolean changed = pollNow(name);
    return new SyncResult(
        changed, get(name), sources.history(name, 1).stream().findFirst().orElse(null));
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
    return polling.webhook(name, headersLowercase, body);
  }

  private void notifyChange(String name) {
    try {
      changed.accept(name);
    } catch (RuntimeException e) {
      LOG.warn("gitops change listener failed for {}", name, e);
    }
  }

  public Stats stats() {
    return new Stats(
        polling.lsRemotes(),
        polling.fetches(),
        polling.commitsApplied(),
        polling.commitsRefused(),
        rendering.helmRenders(),
        rendering.cacheHits(),
        rendering.cacheMisses());
  }

  // ---------------------------------------------------------------------------------------------
  // Applications

  /**
   * Every application of every source at the source's current head, by source then name, with its
   * content revision and the commit that introduced it. Applications recorded before content
   * revisions get theirs here, computed from their stored files, once.
   */
  public List<AppDefinition> apps() {
    return commits.apps();
  }

  /**
   * The application's objects for a device with these tags whose cluster runs {@code kubeVersion}
   * (null: Helm's default). Deterministic; cached by (application, content, effective values,
   * Kubernetes version), so devices with the same relevant tags and version share one render.
   *
   * @throws ControllerException {@code NOT_FOUND} if the application was never recorded at that
   *     revision
   * @throws RenderException if a tag referenced by {@code ${tag:KEY}} is missing, the chart fails
   *     with this device's overrides, or the device's cluster does not meet the chart's {@code
   *     kubeVersion}
   */
  public RenderedApp render(AppDefinition app, Map<String, String> deviceTags, String kubeVersion) {
    Bundle b = commits.bundle(app.source(), app.sha(), app.name());
    try {
      return rendering.render(b, deviceTags, kubeVersion);
    } catch (RenderException e) {
      throw new RenderException("app " + app.label() + ": " + e.getMessage(), e);
    }
  }

  /**
   * Where the application runs, as its {@value Bundle#APP_SPEC_FILE} says: {@value
   * Bundle#DEVICE_SCOPE} or {@value Bundle#CLUSTER_SCOPE}.
   *
   * @throws RenderException if its content cannot be read
   */
  public String scope(AppDefinition app) {
    return Bundle.scope(commits.bundle(app.source(), app.sha(), app.name()).files());
  }

  /**
   * Whether an application of a source had, at the commit {@code commitSha}, the content of {@code
   * revision}: what rollouts ask of a revision recorded before revisions were content digests
   * ({@link ContentRevision#isCommitSha}). Read in the caller's transaction.
   */
  public static boolean sameContent(
      Handle h, String source, String app, String commitSha, String revision) {
    return SourceStore.sameContent(h, source, app, commitSha, revision);
  }

  /** The renderer this engine renders with; the app catalog renders its content with it too. */
  public Rendering rendering() {
    return rendering;
  }

  @Override
  public void close() {
    polling.stop();
    // First, so that a poll waiting for Helm ends now rather than at its render deadline.
    rendering.close();
    polling.awaitStopped();
    git.close();
  }
}
