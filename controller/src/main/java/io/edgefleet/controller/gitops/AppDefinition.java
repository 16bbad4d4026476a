package io.edgefleet.controller.gitops;

import io.edgefleet.controller.render.AppKind;
import io.edgefleet.controller.render.ContentRevision;
import io.edgefleet.controller.selector.Selector;
import java.util.Objects;

/**
 * One application: a directory directly under a git source's path, at one recorded commit. The name
 * is the directory name and also the Kubernetes namespace its namespaced objects default to.
 *
 * @param source the git source name
 * @param name the application (directory) name, a DNS label
 * @param sha the full SHA of the commit the application was read from (the source's head)
 * @param revision the application's content revision ({@code sha256:} and 12 hex digits, see {@link
 *     ContentRevision}): equal for every commit that leaves its content as it was
 * @param commit the full SHA of the commit that brought the application to this revision (its
 *     provenance); {@code sha} or an earlier commit
 * @param kind plain manifests or a Helm chart
 * @param target the devices the source's applications are meant for
 */
public record AppDefinition(
    String source,
    String name,
    String sha,
    String revision,
    String commit,
    AppKind kind,
    Selector target) {
  public AppDefinition {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(sha, "sha");
    Objects.requireNonNull(revision, "revision");
    Objects.requireNonNull(commit, "commit");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(target, "target");
  }

  /** {@code source/name@revision (commit short-sha)}, for messages. */
  public String label() {
    return source
        + "/"
        + name
        + "@"
        + revision
        + " (commit "
        + ContentRevision.shortSha(commit)
        + ")";
  }
}
