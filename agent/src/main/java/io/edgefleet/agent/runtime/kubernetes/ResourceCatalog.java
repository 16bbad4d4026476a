package io.edgefleet.agent.runtime.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Maps {@code apiVersion} + {@code kind} to the REST resource (plural, scope) that serves it, by
 * API discovery, one request per group version, remembered for the life of the runtime. A kind the
 * cluster does not serve is asked about again next time, so a CRD installed later is found.
 * Thread-safe.
 */
final class ResourceCatalog {
  private final KubeApi api;
  private final Map<String, Map<String, ApiResource>> byGroupVersion = new ConcurrentHashMap<>();

  ResourceCatalog(KubeApi api) {
    this.api = api;
  }

  /**
   * The resource serving this kind, or empty when the cluster does not serve it.
   *
   * @throws KubeApiException when discovery fails
   */
  Optional<ApiResource> resolve(String apiVersion, String kind) {
    Map<String, ApiResource> known = byGroupVersion.get(apiVersion);
    if (known != null && known.containsKey(kind)) {
      return Optional.of(known.get(kind));
    }
    Map<String, ApiResource> fresh = new ConcurrentHashMap<>();
    Optional<ObjectNode> list = api.resources(apiVersion);
    for (JsonNode r : list.map(l -> l.path("resources")).orElse(KubeApi.JSON.arrayNode())) {
      String name = r.path("name").asText("");
      // Subresources (deployments/scale) carry the kind of something else.
      if (!name.isEmpty() && !name.contains("/")) {
        String k = r.path("kind").asText("");
        fresh.put(k, new ApiResource(apiVersion, k, name, r.path("namespaced").asBoolean(false)));
      }
    }
    byGroupVersion.put(apiVersion, fresh);
    return Optional.ofNullable(fresh.get(kind));
  }

  /** Forgets what discovery said about this group version (a CRD changed). */
  void forget(String apiVersion) {
    byGroupVersion.remove(apiVersion);
  }

  /**
   * The resources a CustomResourceDefinition manifest declares, one per version, before the cluster
   * serves them: lets one apply install a CRD and its custom resources together.
   */
  static List<ApiResource> declaredBy(ObjectNode crd) {
    JsonNode spec = crd.path("spec");
    String group = spec.path("group").asText("");
    String kind = spec.path("names").path("kind").asText("");
    String plural = spec.path("names").path("plural").asText("");
    if (group.isEmpty() || kind.isEmpty() || plural.isEmpty()) {
      return List.of();
    }
    boolean namespaced = !"Cluster".equals(spec.path("scope").asText(""));
    List<String> versions = new ArrayList<>();
    for (JsonNode v : spec.path("versions")) {
      if (!v.path("name").asText("").isEmpty()) {
        versions.add(v.path("name").asText());
      }
    }
    String legacy = spec.path("version").asText("");
    if (!legacy.isEmpty() && !versions.contains(legacy)) {
      versions.add(legacy);
    }
    return versions.stream()
        .map(v -> new ApiResource(group + "/" + v, kind, plural, namespaced))
        .toList();
  }

  static boolean isCrd(ObjectNode object) {
    return "CustomResourceDefinition".equals(object.path("kind").asText())
        && object.path("apiVersion").asText().startsWith("apiextensions.k8s.io/");
  }
}
