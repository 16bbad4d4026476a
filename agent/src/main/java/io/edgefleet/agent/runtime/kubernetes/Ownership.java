package io.edgefleet.agent.runtime.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The labels and annotation that mark an object as created by edgefleet for one app, and the test
 * whether an object is still ours to delete. Pure functions over JSON trees; thread-safe.
 */
final class Ownership {
  static final String MANAGED_BY = "app.kubernetes.io/managed-by";
  static final String MANAGER = "edgefleet";
  static final String APP = "edgefleet.io/app";
  static final String REVISION = "edgefleet.io/revision";

  /**
   * Workload kinds ({@code group/kind}) whose pod template gets the app label, so that the app's
   * pods can be found by label, with the path to the template.
   */
  private static final Map<String, List<String>> POD_TEMPLATES =
      Map.of(
          "apps/Deployment", List.of("spec", "template"),
          "apps/StatefulSet", List.of("spec", "template"),
          "apps/DaemonSet", List.of("spec", "template"),
          "apps/ReplicaSet", List.of("spec", "template"),
          "batch/Job", List.of("spec", "template"),
          "batch/CronJob", List.of("spec", "jobTemplate", "spec", "template"),
          "/ReplicationController", List.of("spec", "template"));

  /** Metadata only the server may set: a manifest saved with "kubectl get -o yaml" must apply. */
  private static final List<String> SERVER_FIELDS =
      List.of(
          "resourceVersion",
          "uid",
          "creationTimestamp",
          "deletionTimestamp",
          "deletionGracePeriodSeconds",
          "generation",
          "managedFields",
          "selfLink");

  private Ownership() {}

  /**
   * Adds the ownership labels and the revision annotation to {@code object}, in place, and the app
   * label to its pod template if it is a workload; drops metadata that only the server may set. The
   * revision does not go into pod templates: a new revision must not restart pods whose spec did
   * not change.
   */
  static void stamp(ObjectNode object, String app, String revision) {
    ObjectNode meta = child(object, "metadata");
    meta.remove(SERVER_FIELDS);
    ObjectNode labels = child(meta, "labels");
    labels.put(MANAGED_BY, MANAGER);
    labels.put(APP, app);
    child(meta, "annotations").put(REVISION, revision);
    podTemplate(object)
        .ifPresent(template -> child(child(template, "metadata"), "labels").put(APP, app));
  }

  /** Whether the object carries this app's label: only then may edgefleet delete it. */
  static boolean ownedBy(JsonNode object, String app) {
    return app.equals(object.path("metadata").path("labels").path(APP).asText(null));
  }

  /** The revision annotation, or "". */
  static String revisionOf(JsonNode object) {
    return object.path("metadata").path("annotations").path(REVISION).asText("");
  }

  /** The pod template of a workload, if {@code object} is one and has it. */
  static Optional<ObjectNode> podTemplate(ObjectNode object) {
    String apiVersion = object.path("apiVersion").asText();
    int slash = apiVersion.indexOf('/');
    String group = slash < 0 ? "" : apiVersion.substring(0, slash);
    List<String> path = POD_TEMPLATES.get(group + "/" + object.path("kind").asText());
    if (path == null) {
      return Optional.empty();
    }
    JsonNode node = object;
    for (String key : path) {
      node = node.path(key);
    }
    return node instanceof ObjectNode template ? Optional.of(template) : Optional.empty();
  }

  /** The object under {@code key}, replacing a missing or null value by an empty one. */
  private static ObjectNode child(ObjectNode parent, String key) {
    return parent.get(key) instanceof ObjectNode o ? o : parent.putObject(key);
  }
}
