package io.edgefleet.controller.gitops;

import java.time.Instant;
import java.util.List;

/**
 * A git source as the API shows it. Never contains the token or the ssh private key; {@code auth}
 * only says which kind of credential is stored. Fields documented as optional are null when absent
 * (and omitted from JSON).
 *
 * @param name the source name
 * @param url the repository URL
 * @param branch optional: the followed branch; for a source added without one, the remote's default
 *     branch, absent until the first poll resolves it
 * @param path the directory whose subdirectories are applications ({@code .} for the root)
 * @param interval the polling interval, e.g. {@code 15s}
 * @param auth {@code none}, {@code token} or {@code ssh}
 * @param target the canonical selector of the devices the applications are meant for; for a source
 *     of a project, the project's selector is part of it
 * @param project the project the source was added in, or null
 * @param webhookSecret the shared secret for {@code POST webhookUrlPath}
 * @param webhookUrlPath {@code /api/v1/hooks/git/<name>}
 * @param lastCommit optional: the commit currently in effect (the last good one)
 * @param lastPolledAt optional: when the remote was last checked successfully
 * @param lastError optional: why the last poll failed, or why the newest commit was refused
 * @param sshHostKey optional: fingerprint of the pinned ssh server key ({@code SHA256:…})
 * @param apps the application names at {@code lastCommit}, sorted
 * @param revisions the applications at {@code lastCommit} with their content revisions, sorted by
 *     name, and those it was applied without, with why
 * @param createdAt when the source was added
 * @param rollout optional: the rollout policy new revisions are rolled out with
 */
public record SourceView(
    String name,
    String url,
    String branch,
    String path,
    String interval,
    String auth,
    String target,
    String webhookSecret,
    String webhookUrlPath,
    SourceView.Commit lastCommit,
    Instant lastPolledAt,
    String lastError,
    String sshHostKey,
    List<String> apps,
    List<AppRevision> revisions,
    Instant createdAt,
    String rollout,
    String project) {

  /**
   * An application at the commit in effect.
   *
   * @param revision its content revision, unchanged by commits that leave its content as it was;
   *     absent for an application whose content never could be used
   * @param commit the full SHA of the commit that brought it to this revision
   * @param error optional: why the commit in effect was applied without this application's new
   *     content (it keeps {@code revision}, or is not deployed without one)
   */
  public record AppRevision(String app, String revision, String commit, String error) {
    /** An application whose content at the commit in effect is used. */
    public AppRevision(String app, String revision, String commit) {
      this(app, revision, commit, null);
    }
  }

  /** A commit in brief. */
  public record Commit(String sha, String author, String message, Instant committedAt) {}
}
