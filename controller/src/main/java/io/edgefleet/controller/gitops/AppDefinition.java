package io.edgefleet.controller.gitops;

import java.util.Objects;

/**
 * One application: a directory directly under a git source's path, at one recorded commit. The name
 * is the directory name and also the Kubernetes namespace its namespaced objects default to.
 *
 * @param source the git source name
 * @param name the application (directory) name, a DNS label
 * @param revision the full SHA of the commit the application was read from
 * @param kind plain manifests or a Helm chart
 * @param target the devices the source's applications are meant for
 */
public record AppDefinition(
    String source, String name, String revision, AppDefinition.Kind kind, Selector target) {
  public AppDefinition {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(revision, "revision");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(target, "target");
  }

  /** How an application directory is turned into Kubernetes objects. */
  public enum Kind {
    /** Kubernetes YAML files, one or many documents each, taken in sorted path order. */
    MANIFESTS,
    /** A Helm chart ({@code Chart.yaml}) rendered with its values, overrides and device tags. */
    HELM
  }

  /** {@code source/name@short-sha}, for messages. */
  public String label() {
    return source + "/" + name + "@" + revision.substring(0, Math.min(12, revision.length()));
  }
}
