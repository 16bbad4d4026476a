package io.edgefleet.controller.rollouts;

import org.jdbi.v3.core.Handle;

/**
 * What rollouts ask of the Git sources' history, which only the Git sources read: whether an app
 * had, at a commit, the content of a revision. Answered in the caller's transaction.
 */
@FunctionalInterface
public interface GitRevisions {
  /**
   * Whether app {@code app} of source {@code source}, as recorded at commit {@code commitSha}, had
   * the content of {@code revision}.
   */
  boolean sameContent(Handle h, String source, String app, String commitSha, String revision);
}
