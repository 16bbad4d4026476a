package io.edgefleet.agent.runtime.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

class OwnershipTest {

  static ObjectNode parse(String yaml) {
    return ((Manifests.Parsed.Objects) Manifests.parse(yaml)).objects().get(0).object();
  }

  static ObjectNode json(String json) {
    try {
      return (ObjectNode) io.edgefleet.protocol.json.JsonCodec.readTree(json);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @Test
  void stampsLabelsAndRevisionKeepingTheOwnOnes() {
    ObjectNode cm =
        parse(
            """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: a
              labels: {tier: web, edgefleet.io/app: spoofed}
              annotations: {note: hi}
            """);
    Ownership.stamp(cm, "shop", "r7");
    assertThat(cm.path("metadata").path("labels"))
        .isEqualTo(
            json(
                """
                {"tier": "web", "edgefleet.io/app": "shop",
                 "app.kubernetes.io/managed-by": "edgefleet"}"""));
    assertThat(cm.path("metadata").path("annotations"))
        .isEqualTo(json("{\"note\": \"hi\", \"edgefleet.io/revision\": \"r7\"}"));
    assertThat(Ownership.ownedBy(cm, "shop")).isTrue();
    assertThat(Ownership.ownedBy(cm, "other")).isFalse();
    assertThat(Ownership.revisionOf(cm)).isEqualTo("r7");
  }

  @Test
  void stampsObjectsWithoutLabelsOrWithNullOnes() {
    ObjectNode cm = parse("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: null}\n");
    Ownership.stamp(cm, "shop", "r1");
    assertThat(Ownership.ownedBy(cm, "shop")).isTrue();
    assertThat(Ownership.ownedBy(json("{}"), "shop")).isFalse();
    assertThat(Ownership.revisionOf(json("{}"))).isEmpty();
  }

  @Test
  void labelsPodTemplatesOfWorkloadsWithTheAppButNotTheRevision() {
    ObjectNode deployment =
        parse(
            """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec: {containers: [{name: c, image: nginx}]}
            """);
    Ownership.stamp(deployment, "shop", "r1");
    assertThat(Ownership.podTemplate(deployment).orElseThrow().path("metadata"))
        .isEqualTo(json("{\"labels\": {\"app\": \"web\", \"edgefleet.io/app\": \"shop\"}}"));
    assertThat(deployment.path("spec").path("selector"))
        .isEqualTo(json("{\"matchLabels\": {\"app\": \"web\"}}"));
  }

  @Test
  void findsTheTemplateOfACronJobAndCreatesMissingMetadata() {
    ObjectNode cron =
        parse(
            """
            apiVersion: batch/v1
            kind: CronJob
            metadata: {name: nightly}
            spec:
              schedule: "0 1 * * *"
              jobTemplate:
                spec:
                  template:
                    spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}
            """);
    Ownership.stamp(cron, "ops", "r1");
    assertThat(Ownership.podTemplate(cron).orElseThrow().path("metadata"))
        .isEqualTo(json("{\"labels\": {\"edgefleet.io/app\": \"ops\"}}"));
  }

  @Test
  void otherKindsHaveNoPodTemplate() {
    ObjectNode svc =
        parse("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {template: {}}\n");
    assertThat(Ownership.podTemplate(svc)).isEmpty();
    ObjectNode noTemplate = parse("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n");
    assertThat(Ownership.podTemplate(noTemplate)).isEmpty();
    Ownership.stamp(noTemplate, "a", "r");
    assertThat(noTemplate.has("spec")).isFalse();
  }

  @Test
  void dropsMetadataOnlyTheServerSets() {
    ObjectNode copied =
        parse(
            """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: a
              namespace: n
              uid: 0b1c
              resourceVersion: "42"
              generation: 3
              creationTimestamp: "2024-01-01T00:00:00Z"
              managedFields: [{manager: kubectl, operation: Update}]
            """);
    Ownership.stamp(copied, "a", "r");
    assertThat(copied.path("metadata").properties())
        .extracting(java.util.Map.Entry::getKey)
        .containsExactlyInAnyOrder("name", "namespace", "labels", "annotations");
  }
}
