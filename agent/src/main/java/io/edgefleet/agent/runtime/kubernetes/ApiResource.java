package io.edgefleet.agent.runtime.kubernetes;

/**
 * The REST resource that serves a kind: {@code apps/v1} Deployment is {@code deployments},
 * namespaced. Immutable.
 */
record ApiResource(String apiVersion, String kind, String plural, boolean namespaced) {

  /** The collection: {@code /apis/apps/v1/namespaces/shop/deployments}. */
  String collectionPath(String namespace) {
    String base = apiVersion.contains("/") ? "/apis/" + apiVersion : "/api/" + apiVersion;
    return namespaced ? base + "/namespaces/" + namespace + "/" + plural : base + "/" + plural;
  }

  /** One object: {@code /apis/apps/v1/namespaces/shop/deployments/web}. */
  String path(String namespace, String name) {
    return collectionPath(namespace) + "/" + name;
  }
}
