package io.edgefleet.controller.gitops;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.common.Ids;
import io.edgefleet.controller.desired.AppStatusService;
import io.edgefleet.controller.secrets.SecretBox;
import io.edgefleet.controller.selector.ProjectScope;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.Durations;
import io.edgefleet.protocol.ErrorCode;
import java.security.PublicKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The registry of Git sources: adding (validated, credentials and webhook secret sealed), listing,
 * deleting, their recorded heads, and the views and rollout policies read from them. Every change
 * is audited in the transaction that makes it. Thread-safe.
 */
final class GitSources {
  private static final Logger LOG = LoggerFactory.getLogger(GitSources.class);
  private static final Pattern HEX = Pattern.compile("[0-9a-f]{4,64}");

  private final Jdbi jdbi;
  private final Clock clock;
  private final AuditLog audit;
  private final SecretBox secrets;
  private final SourceStore store;
  private final GitClient git;
  private final CommitEvaluator commits;
  private final SourceValidation validation;
  private final Function<String, Map<String, AppStatusService.CommitDevices>> deviceCounts;

  GitSources(
      Jdbi jdbi,
      Clock clock,
      AuditLog audit,
      SecretBox secrets,
      SourceStore store,
      GitClient git,
      CommitEvaluator commits,
      Duration minInterval,
      Function<String, Map<String, AppStatusService.CommitDevices>> deviceCounts) {
    this.jdbi = jdbi;
    this.deviceCounts = deviceCounts;
    this.clock = clock;
    this.audit = audit;
    this.secrets = secrets;
    this.store = store;
    this.git = git;
    this.commits = commits;
    this.validation = new SourceValidation(minInterval);
  }

  /**
   * Adds a source. Idempotency: a second add of the same name fails with {@code CONFLICT}.
   *
   * @throws ControllerException {@code VALIDATION_FAILED} naming the bad field, {@code CONFLICT}
   */
  SourceView add(AddSource req, String actor, Optional<ProjectScope.Project> project) {
    SourceValidation.Validated v = validation.validate(req);
    // A source of a project reaches only the project's devices.
    Selector target = project.map(p -> v.target().and(p.selector())).orElse(v.target());
    if (store.find(v.name()).isPresent()) {
      throw conflict(v.name());
    }
    Check checked = Boolean.TRUE.equals(req.force()) ? null : check(v);
    String webhookSecret = Ids.secret("efw");
    long now = clock.millis();
    PublicKey hostKey =
        checked != null && checked.hostKey() != null ? checked.hostKey() : v.hostKey();
    SourceStore.SourceRow row =
        new SourceStore.SourceRow(
            v.name(),
            v.url(),
            checked == null ? v.branch() : checked.branch(),
            v.path(),
            v.interval().toMillis(),
            v.auth(),
            v.credential() == null
                ? null
                : secrets.seal(v.credential(), context(v.name(), v.auth())),
            hostKey == null ? null : SshKeys.openSsh(hostKey),
            target.toString(),
            secrets.seal(webhookSecret, context(v.name(), "webhook")),
            null,
            null,
            null,
            null,
            null,
            now,
            project.map(ProjectScope.Project::name).orElse(null));
    try {
      jdbi.useTransaction(
          h -> {
            if (store.find(h, v.name()).isPresent()) {
              throw conflict(v.name());
            }
            store.insert(h, row);
            if (v.rollout() != null) {
              h.createUpdate("UPDATE git_sources SET rollout_policy = :p WHERE name = :n")
                  .bind("p", v.rollout())
                  .bind("n", v.name())
                  .execute();
            }
            Map<String, Object> detail = new LinkedHashMap<>();
            detail.put("url", v.url());
            detail.put("branch", row.branch().isEmpty() ? "(remote default)" : row.branch());
            if (checked != null && checked.commit() != null) {
              detail.put("checked", checked.commit());
            }
            detail.put("path", v.path().isEmpty() ? "." : v.path());
            detail.put("interval", Durations.human(v.interval()));
            detail.put("auth", v.auth());
            detail.put("target", target.toString());
            project.ifPresent(p -> detail.put("project", p.name()));
            if (v.rollout() != null) {
              detail.put("rollout", v.rollout());
            }
            audit.record(h, actor, "git-source.add", v.name(), detail);
          });
    } catch (ControllerException e) {
      throw e;
    } catch (RuntimeException e) {
      if (store.find(v.name()).isPresent()) {
        throw conflict(v.name());
      }
      throw e;
    }
    // A stale clone from an earlier source of the same name must not be reused.
    git.forget(v.name());
    LOG.info("git source {} added by {}: {} {} {}", v.name(), actor, v.url(), v.branch(), v.path());
    return view(row);
  }

  /**
   * What the remote of a source shows now.
   *
   * @param branch the branch to follow: the one asked for, or the remote's default branch ({@code
   *     ""} while an empty repository has none: resolved when one is pushed)
   * @param commit the commit at its tip; null for an empty repository
   * @param hostKey the ssh host key seen when none was pinned (to pin), else null
   */
  record Check(String name, String url, String branch, String commit, PublicKey hostKey) {}

  /**
   * Asks the remote of a source to add, as its first poll would: the URL answers, the credentials
   * are accepted and the branch exists (or the remote names its default branch).
   *
   * @throws ControllerException {@code VALIDATION_FAILED} for a bad request, {@code
   *     GIT_REMOTE_UNREACHABLE} saying what the remote answered
   */
  Check check(AddSource req) {
    return check(validation.validate(req));
  }

  private Check check(SourceValidation.Validated v) {
    // Its own ssh session and clone directory: names of sources never contain '.'.
    String key = "check." + v.name();
    GitClient.Remote remote =
        new GitClient.Remote(
            key,
            v.url(),
            v.branch(),
            GitClient.Credentials.of(v.auth(), v.credential(), Optional.ofNullable(v.hostKey())));
    try {
      GitClient.Tip tip = git.lsRemote(remote);
      PublicKey seen =
          remote.credentials() instanceof GitClient.Credentials.Ssh ssh
              ? ssh.hostKey().firstSeen().orElse(null)
              : null;
      return new Check(v.name(), v.url(), tip.branch(), tip.sha(), seen);
    } catch (GitClient.NoBranches e) {
      // An empty repository is a fine start: the branch is resolved once one is pushed.
      PublicKey seen =
          remote.credentials() instanceof GitClient.Credentials.Ssh ssh
              ? ssh.hostKey().firstSeen().orElse(null)
              : null;
      return new Check(v.name(), v.url(), "", null, seen);
    } catch (GitClient.GitFailure e) {
      throw new ControllerException(
          ErrorCode.GIT_REMOTE_UNREACHABLE,
          "git source '"
              + v.name()
              + "' was not added: "
              + e.getMessage().strip().replaceAll("[.;]+$", "")
              + ". Nothing was stored; pass --force to add it anyway (every poll then tries again"
              + " and `repos get "
              + v.name()
              + "` shows what fails)");
    } finally {
      git.forget(key);
    }
  }

  List<SourceView> list() {
    return store.all().stream().map(this::view).toList();
  }

  /** The project a source was added in, if any; empty for an unknown source too. */
  Optional<String> project(String name) {
    return store.find(name).map(SourceStore.SourceRow::project);
  }

  /**
   * @throws ControllerException {@code NOT_FOUND}
   */
  SourceView get(String name) {
    return view(source(name));
  }

  /**
   * Deletes a source with its history and audits it; its local clone is the poller's to forget.
   *
   * @throws ControllerException {@code NOT_FOUND}
   */
  void delete(String name, String actor) {
    jdbi.useTransaction(
        h -> {
          if (!store.delete(h, name)) {
            throw ControllerException.notFound("git source", name);
          }
          audit.record(h, actor, "git-source.remove", name, Map.of());
        });
  }

  /**
   * The recorded heads of a source, newest first.
   *
   * @throws ControllerException {@code NOT_FOUND}
   */
  List<CommitView> history(String name, int limit) {
    SourceStore.SourceRow s = source(name);
    return standing(s, store.history(name, Math.max(1, Math.min(limit, 1000))));
  }

  /**
   * Records in the audit log, as {@code git-app.refused} by {@code gitops}, each application an
   * applied commit was applied without, with the reason and the revision it keeps.
   */
  void appsRefused(String source, String sha, List<CommitView.AppChange> changes) {
    List<CommitView.AppChange> refused =
        changes.stream().filter(c -> c.change() == CommitView.Change.REFUSED).toList();
    if (refused.isEmpty()) {
      return;
    }
    jdbi.useTransaction(
        h -> {
          for (CommitView.AppChange c : refused) {
            Map<String, Object> detail = new LinkedHashMap<>();
            detail.put("commit", sha);
            detail.put("keeps", c.revision() == null ? "nothing (not deployed)" : c.revision());
            detail.put("error", c.error());
            audit.record(h, "gitops", "git-app.refused", source + "/" + c.app(), detail);
          }
        });
  }

  /** The commits with where each stands now, judged by what devices report. */
  private List<CommitView> standing(SourceStore.SourceRow s, List<CommitView> commits) {
    Map<String, AppStatusService.CommitDevices> counts =
        commits.isEmpty() ? Map.of() : deviceCounts.apply(s.name());
    return commits.stream().map(c -> standing(s, c, counts.get(c.sha()))).toList();
  }

  private static CommitView standing(
      SourceStore.SourceRow s, CommitView c, AppStatusService.CommitDevices n) {
    if (c.status() == CommitView.Status.FAILED) {
      return c.standing(CommitView.State.REFUSED, null);
    }
    CommitView.Devices d =
        n == null
            ? CommitView.Devices.NONE
            : new CommitView.Devices(n.targeted(), n.delivered(), n.ready(), n.failed());
    CommitView.State state;
    if (d.rendered() == 0) {
      state = c.sha().equals(s.headSha()) ? CommitView.State.APPLIED : CommitView.State.SUPERSEDED;
    } else if (d.failed() > 0) {
      state = CommitView.State.FAILED;
    } else if (d.ready() == d.rendered()) {
      state = CommitView.State.READY;
    } else {
      state = CommitView.State.ROLLING_OUT;
    }
    return c.standing(state, d);
  }

  /**
   * One recorded head by full SHA or unique prefix (at least 4 hex digits); its latest record if it
   * was the head more than once.
   *
   * @throws ControllerException {@code NOT_FOUND}, or {@code VALIDATION_FAILED} for an ambiguous or
   *     malformed SHA
   */
  CommitView commit(String name, String sha) {
    SourceStore.SourceRow s = source(name);
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
    return standing(s, List.of(found.get(0))).get(0);
  }

  SourceStore.SourceRow source(String name) {
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
      // Apps the commit in effect was applied without: why, beside the revision they keep.
      Map<String, String> refused = new TreeMap<>();
      store
          .latestCommit(s.name(), s.headSha())
          .ifPresent(
              c ->
                  c.apps().stream()
                      .filter(a -> a.change() == CommitView.Change.REFUSED)
                      .forEach(a -> refused.put(a.app(), a.error())));
      List<SourceView.AppRevision> all = new ArrayList<>();
      for (SourceStore.AppRow a : rows) {
        CommitEvaluator.Revision r = commits.revision(a);
        all.add(
            new SourceView.AppRevision(
                a.name(), r.revision(), r.commit(), refused.remove(a.name())));
      }
      refused.forEach((app, error) -> all.add(new SourceView.AppRevision(app, null, null, error)));
      all.sort(Comparator.comparing(SourceView.AppRevision::app));
      revisions = List.copyOf(all);
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
        s.branch().isEmpty() ? null : s.branch(),
        s.path().isEmpty() ? "." : s.path(),
        Durations.human(Duration.ofMillis(s.intervalMs())),
        s.auth(),
        s.target(),
        webhookSecret(s),
        GitOps.WEBHOOK_PATH + s.name(),
        last,
        s.lastPolledAt() == null ? null : Instant.ofEpochMilli(s.lastPolledAt()),
        s.lastError(),
        hostKey,
        apps,
        revisions,
        Instant.ofEpochMilli(s.createdAt()),
        rolloutPolicies().get(s.name()),
        s.project());
  }

  /**
   * The rollout policy text of every source that has one, by source name: the {@code
   * edgefleet-rollout.yaml} of the commit in effect, else the policy given when the source was
   * added. Applications of these sources reach devices through phased rollouts.
   */
  Map<String, String> rolloutPolicies() {
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

  static String context(String source, String field) {
    return "git-source:" + source + ":" + field;
  }

  private static ControllerException conflict(String name) {
    return new ControllerException(
        ErrorCode.CONFLICT,
        "git source '" + name + "' already exists; remove it first or choose another name");
  }
}
