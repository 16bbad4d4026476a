package io.edgefleet.controller.gitops;

import java.time.Instant;
import java.util.List;

/**
 * One recorded head of a git source: a commit the controller saw at the tip of the branch, with
 * what it changed per application compared to the commit in effect before it.
 *
 * @param source the git source name
 * @param sha the full commit SHA
 * @param author {@code Name <email>}
 * @param message the full commit message
 * @param committedAt the committer time
 * @param recordedAt when the controller recorded it
 * @param status {@code APPLIED} (now or once in effect) or {@code FAILED} (bad content, never used)
 * @param error optional: why a failed commit was refused
 * @param apps per-application changes; empty for failed commits and commits that changed nothing
 */
public record CommitView(
    String source,
    String sha,
    String author,
    String message,
    Instant committedAt,
    Instant recordedAt,
    CommitView.Status status,
    String error,
    List<AppChange> apps) {

  public enum Status {
    APPLIED,
    FAILED
  }

  /** How an application changed. */
  public enum Change {
    ADDED,
    CHANGED,
    REMOVED
  }

  /**
   * The change of one application. Resources are named {@code apiVersion kind namespace/name} (or
   * {@code apiVersion kind name} when cluster-scoped), compared on the application rendered without
   * device tags and without overrides.
   *
   * @param revision the application's content revision after the commit: the same as before when
   *     only files that do not count changed (see {@link ContentRevision}); null when it was
   *     removed, and for commits recorded before content revisions
   */
  public record AppChange(
      String app,
      Change change,
      String revision,
      List<String> added,
      List<String> changed,
      List<String> removed) {}
}
