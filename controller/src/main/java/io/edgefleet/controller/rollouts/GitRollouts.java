package io.edgefleet.controller.rollouts;

import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.controller.render.ContentRevision;
import java.time.Clock;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts the rollouts of phased Git apps: one for every app whose current revision has none yet. A
 * Git app's revision is a digest of its content, so only a commit that changes an app starts one
 * for it. The one exception is an app whose latest rollout went to a commit SHA (started before
 * revisions were content digests): if the app has the same content now, the rollout to its new name
 * is one batch, at once, since nothing runs differently.
 */
final class GitRollouts {
  private static final Logger LOG = LoggerFactory.getLogger(GitRollouts.class);

  private final Jdbi jdbi;
  private final Clock clock;
  private final RolloutGate gate;
  private final RolloutTransactions transactions;
  private final RolloutCommands commands;
  private final Function<String, RolloutPolicy> policies;
  private final GitRevisions revisions;

  GitRollouts(
      Jdbi jdbi,
      Clock clock,
      RolloutGate gate,
      RolloutTransactions transactions,
      RolloutCommands commands,
      Function<String, RolloutPolicy> policies,
      GitRevisions revisions) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.gate = gate;
    this.transactions = transactions;
    this.commands = commands;
    this.policies = policies;
    this.revisions = revisions;
  }

  /**
   * Starts what is due.
   *
   * @param bySubject the apps by subject
   * @param policyTexts the policy of each phased Git source, by source name
   * @return whether any rollout started
   */
  boolean start(Map<String, AppCatalog.App> bySubject, Map<String, String> policyTexts) {
    boolean started = false;
    for (AppCatalog.App app : bySubject.values()) {
      String text = policyTexts.get(app.source());
      if (!app.phased() || app.source().equals(Deployments.SOURCE) || text == null) {
        continue;
      }
      // The cached latest rollouts answer the usual case (nothing new) without a transaction.
      if (hasRolloutFor(jdbi.withHandle(gate::latest), app)) {
        continue;
      }
      try {
        started |= transactions.run(h -> startIn(h, app, text));
      } catch (RuntimeException e) {
        LOG.warn("no rollout could start for {}: {}", app.subject(), e.toString());
      }
    }
    return started;
  }

  private boolean startIn(Handle h, AppCatalog.App app, String text) {
    RolloutGate.Latest latest = gate.latest(h).get(app.subject());
    if (hasRolloutFor(gate.latest(h), app)) {
      return false;
    }
    Optional<String> from = Optional.ofNullable(latest).map(RolloutGate.Latest::toRevision);
    boolean unchanged = from.isPresent() && sameContent(h, app, from.get());
    String by =
        app.commit() == null ? "git" : "git commit " + ContentRevision.shortSha(app.commit());
    commands.start(
        h,
        new RolloutEngine.Start(
            app.subject(),
            app.name(),
            app.source(),
            from,
            app.revision(),
            unchanged ? RolloutPolicy.defaults() : policies.apply(text),
            app.target(),
            unchanged ? by + " (content unchanged)" : by),
        clock.instant());
    return true;
  }

  private static boolean hasRolloutFor(Map<String, RolloutGate.Latest> latest, AppCatalog.App app) {
    RolloutGate.Latest l = latest.get(app.subject());
    return l != null && l.toRevision().equals(app.revision());
  }

  /**
   * Whether the app had the content of its current revision at the commit {@code fromRevision}
   * names: only for revisions that are commit SHAs, from before revisions were content digests.
   */
  private boolean sameContent(Handle h, AppCatalog.App app, String fromRevision) {
    if (!ContentRevision.isCommitSha(fromRevision)) {
      return false; // a content revision, and not the current one
    }
    return revisions.sameContent(h, app.source(), app.name(), fromRevision, app.revision());
  }
}
