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
 * @param error optional: why a failed commit was refused, or which apps an applied commit was
 *     applied without and why (see the {@code REFUSED} entries of {@code apps})
 * @param apps per-application changes; empty for failed commits and commits that changed nothing
 * @param state optional: where the commit stands now, judged by what devices report (absent where
 *     not computed)
 * @param devices optional: how far the app revisions this commit brought have reached the devices
 *     that should run them now; absent for refused commits
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
    List<AppChange> apps,
    State state,
    Devices devices) {

  /** A commit as recorded, without where it stands now. */
  public CommitView(
      String source,
      String sha,
      String author,
      String message,
      Instant committedAt,
      Instant recordedAt,
      CommitView.Status status,
      String error,
      List<AppChange> apps) {
    this(source, sha, author, message, committedAt, recordedAt, status, error, apps, null, null);
  }

  /** This commit with where it stands now. */
  CommitView standing(State state, Devices devices) {
    return new CommitView(
        source, sha, author, message, committedAt, recordedAt, status, error, apps, state, devices);
  }

  public enum Status {
    APPLIED,
    FAILED
  }

  /** Where a commit stands now. */
  public enum State {
    /** Refused as a whole: never in effect. */
    REFUSED,
    /** In effect, with nothing for any device to run (no device targeted, or nothing changed). */
    APPLIED,
    /** Devices should run what it brought and not all of them report it ready or failed yet. */
    ROLLING_OUT,
    /** Every device that should run what it brought reports it ready. */
    READY,
    /** At least one device failed what it brought. */
    FAILED,
    /** No device should run anything it brought any more: later commits replaced it. */
    SUPERSEDED
  }

  /**
   * How far the app revisions a commit brought have reached the devices that should run them now.
   *
   * @param rendered devices that should run one of them (the documents rendered for them)
   * @param delivered devices that run all of them
   * @param ready devices that report all of them ready
   * @param failed devices that failed one of them (applying, or rendering for the device)
   */
  public record Devices(int rendered, int delivered, int ready, int failed) {
    static final Devices NONE = new Devices(0, 0, 0, 0);
  }

  /**
   * How an application changed. {@code REFUSED}: its new content could not be used (see {@code
   * error}); it keeps the revision it had before the commit, or is not deployed if it had none.
   */
  public enum Change {
    ADDED,
    CHANGED,
    REMOVED,
    REFUSED
  }

  /**
   * The change of one application. Resources are named {@code apiVersion kind namespace/name} (or
   * {@code apiVersion kind name} when cluster-scoped), compared on the application rendered without
   * device tags and without overrides.
   *
   * @param revision the application's content revision after the commit: the same as before when
   *     only files that do not count changed (see {@link ContentRevision}); null when it was
   *     removed, and for commits recorded before content revisions
   * @param diff optional: the unified diff of the rendered resources that changed, resource by
   *     resource, at most {@value Patches#MAX_LINES} lines (the last then says {@code … N more
   *     lines}); absent for commits recorded before diffs were kept
   * @param error optional: why a {@code REFUSED} application's new content could not be used,
   *     naming the file
   */
  public record AppChange(
      String app,
      Change change,
      String revision,
      List<String> added,
      List<String> changed,
      List<String> removed,
      String diff,
      String error) {

    /** A change without its content diff. */
    public AppChange(
        String app,
        Change change,
        String revision,
        List<String> added,
        List<String> changed,
        List<String> removed) {
      this(app, change, revision, added, changed, removed, null, null);
    }
  }
}
