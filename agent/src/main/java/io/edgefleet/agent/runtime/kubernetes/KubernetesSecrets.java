package io.edgefleet.agent.runtime.kubernetes;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.edgefleet.agent.runtime.SecretStore;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The agent's secrets as Kubernetes Secrets (type Opaque), labelled {@value Ownership#MANAGED_BY} =
 * {@value Ownership#MANAGER} and {@value #SECRET_LABEL} = true, the version they were written from
 * in the annotation {@value #VERSION}. A Secret without these labels is never changed or deleted.
 * Values go to the API server in the request body only: never logged, never in an error message.
 * Thread-safe.
 */
final class KubernetesSecrets implements SecretStore {
  static final String SECRET_LABEL = "edgefleet.io/secret";
  static final String VERSION = "edgefleet.io/secret-version";
  private static final ApiResource SECRETS = new ApiResource("v1", "Secret", "secrets", true);

  private final KubeApi api;
  private final ApiErrors errors;
  private final Consumer<String> ensureNamespace;

  KubernetesSecrets(KubeApi api, ApiErrors errors, Consumer<String> ensureNamespace) {
    this.api = api;
    this.errors = errors;
    this.ensureNamespace = ensureNamespace;
  }

  @Override
  public void put(String namespace, String name, long version, Map<String, byte[]> data) {
    String doing = "write Secret " + namespace + "/" + name;
    try {
      ensureNamespace.accept(namespace);
      String path = SECRETS.path(namespace, name);
      Optional<ObjectNode> live = api.get(path);
      if (live.isPresent() && !ours(live.get())) {
        throw new IllegalStateException(
            "Secret "
                + namespace
                + "/"
                + name
                + " exists and was not created by edgefleet; it is left alone (rename or delete"
                + " it to let edgefleet write it)");
      }
      ObjectNode secret = object(namespace, name, version, data);
      if (live.isEmpty()) {
        api.create(SECRETS.collectionPath(namespace), secret); // 409 if created meanwhile: retried
        return;
      }
      ((ObjectNode) secret.get("metadata"))
          .put("resourceVersion", live.get().path("metadata").path("resourceVersion").asText());
      api.replace(path, secret);
    } catch (KubeApiException e) {
      throw errors.forQuery(doing, e);
    }
  }

  @Override
  public boolean delete(String namespace, String name) {
    try {
      String path = SECRETS.path(namespace, name);
      Optional<ObjectNode> live = api.get(path);
      if (live.isEmpty() || !ours(live.get())) {
        return false;
      }
      return api.delete(path, live.get().path("metadata").path("resourceVersion").asText(""));
    } catch (KubeApiException e) {
      throw errors.forQuery("delete Secret " + namespace + "/" + name, e);
    }
  }

  @Override
  public List<Held> held() {
    try {
      List<Held> out = new ArrayList<>();
      for (ObjectNode s :
          api.list(
              "/api/v1/secrets",
              Ownership.MANAGED_BY + "=" + Ownership.MANAGER + "," + SECRET_LABEL + "=true")) {
        var meta = s.path("metadata");
        out.add(
            new Held(
                meta.path("namespace").asText(),
                meta.path("name").asText(),
                meta.path("annotations").path(VERSION).asLong(0)));
      }
      return out;
    } catch (KubeApiException e) {
      throw errors.forQuery("list the agent's Secrets", e);
    }
  }

  private static boolean ours(ObjectNode live) {
    var labels = live.path("metadata").path("labels");
    return Ownership.MANAGER.equals(labels.path(Ownership.MANAGED_BY).asText())
        && "true".equals(labels.path(SECRET_LABEL).asText());
  }

  private static ObjectNode object(
      String namespace, String name, long version, Map<String, byte[]> data) {
    ObjectNode s = KubeApi.JSON.objectNode();
    s.put("apiVersion", "v1").put("kind", "Secret").put("type", "Opaque");
    ObjectNode meta = s.putObject("metadata").put("name", name).put("namespace", namespace);
    meta.putObject("labels").put(Ownership.MANAGED_BY, Ownership.MANAGER).put(SECRET_LABEL, "true");
    meta.putObject("annotations").put(VERSION, Long.toString(version));
    ObjectNode values = s.putObject("data");
    data.forEach((k, v) -> values.put(k, Base64.getEncoder().encodeToString(v)));
    return s;
  }
}
