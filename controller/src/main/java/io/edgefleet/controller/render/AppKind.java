package io.edgefleet.controller.render;

/** How an application directory is turned into Kubernetes objects. */
public enum AppKind {
  /** Kubernetes YAML files, one or many documents each, taken in sorted path order. */
  MANIFESTS,
  /** A Helm chart ({@code Chart.yaml}) rendered with its values, overrides and device tags. */
  HELM
}
