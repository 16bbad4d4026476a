package io.edgefleet.agent.runtime.kubernetes;

import java.util.Locale;
import java.util.Objects;

/**
 * Names one Kubernetes object. {@code namespace} is empty for cluster-scoped objects.
 *
 * @param apiVersion {@code v1}, {@code apps/v1}, {@code example.com/v1alpha1}
 */
record ObjectRef(String apiVersion, String kind, String namespace, String name) {

  ObjectRef {
    Objects.requireNonNull(apiVersion, "apiVersion");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(name, "name");
    if (apiVersion.isBlank() || kind.isBlank() || name.isBlank()) {
      throw new IllegalArgumentException("apiVersion, kind and name must not be blank");
    }
  }

  /** The API group: empty for the core group ({@code v1}). */
  String group() {
    int slash = apiVersion.indexOf('/');
    return slash < 0 ? "" : apiVersion.substring(0, slash);
  }

  boolean clusterScoped() {
    return namespace.isEmpty();
  }

  /**
   * Identity regardless of API version: {@code apps/v1 Deployment} and {@code apps/v1beta2
   * Deployment} of the same name are the same object.
   */
  String identity() {
    return group() + "/" + kind + "/" + namespace + "/" + name;
  }

  /** For people: {@code deployment web}, {@code namespace shop}. */
  String describe() {
    return kind.toLowerCase(Locale.ROOT) + " " + name;
  }

  @Override
  public String toString() {
    return apiVersion + " " + kind + " " + (clusterScoped() ? "" : namespace + "/") + name;
  }
}
