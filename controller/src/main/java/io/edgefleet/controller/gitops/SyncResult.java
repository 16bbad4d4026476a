package io.edgefleet.controller.gitops;

/**
 * What {@code POST /api/v1/repos/{name}/sync} found. Fields documented as optional are null when
 * absent (and omitted from JSON).
 *
 * @param changed whether this check applied a new commit
 * @param source the source after the check
 * @param newest optional: the newest commit recorded for the source (by this check or an earlier
 *     one), applied or refused with the reason; absent before the first commit was recorded
 */
public record SyncResult(boolean changed, SourceView source, CommitView newest) {}
