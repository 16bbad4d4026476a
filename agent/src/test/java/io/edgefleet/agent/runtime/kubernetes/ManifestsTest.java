package io.edgefleet.agent.runtime.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.junit.jupiter.api.Test;

class ManifestsTest {
  private List<Manifests.Document> objects(String yaml) {
    Manifests.Parsed parsed = Manifests.parse(yaml);
    assertThat(parsed).isInstanceOf(Manifests.Parsed.Objects.class);
    return ((Manifests.Parsed.Objects) parsed).objects();
  }

  private Manifests.Parsed.Malformed malformed(String yaml) {
    Manifests.Parsed parsed = Manifests.parse(yaml);
    assertThat(parsed).isInstanceOf(Manifests.Parsed.Malformed.class);
    return (Manifests.Parsed.Malformed) parsed;
  }

  @Test
  void splitsDocumentsAndSkipsEmptyOnesKeepingTheirNumbers() {
    List<Manifests.Document> docs =
        objects(
            """
            ---
            # only a comment
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: a, namespace: shop}
            data: {k: v}
            ---
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web
            spec:
              replicas: 2
            ---
            """);
    assertThat(docs).extracting(Manifests.Document::index).containsExactly(2, 4);
    Manifests.Document cm = docs.get(0);
    assertThat(cm.kind()).isEqualTo("ConfigMap");
    assertThat(cm.metadata().path("namespace").asText()).isEqualTo("shop");
    assertThat(cm.object().path("data").path("k").asText()).isEqualTo("v");
    Manifests.Document web = docs.get(1);
    assertThat(web.apiVersion()).isEqualTo("apps/v1");
    assertThat(web.name()).isEqualTo("web");
    assertThat(web.metadata().has("namespace")).isFalse();
    assertThat(web.object().path("spec").path("replicas").asInt()).isEqualTo(2);
  }

  @Test
  void emptyInputHasNoObjects() {
    assertThat(objects("")).isEmpty();
    assertThat(objects("---\n---\n")).isEmpty();
  }

  @Test
  void malformedDocumentIsReportedWithItsNumberAndLine() {
    Manifests.Parsed.Malformed m =
        malformed(
            """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: a}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: b
               namespace: x
            """);
    assertThat(m.document()).isEqualTo(2);
    assertThat(m.reason()).startsWith("document 2: ").contains("line 9");
  }

  @Test
  void scalarsAreReadLikeKubectlDoes() {
    ObjectNode o =
        objects(
                """
                apiVersion: v1
                kind: Secret
                metadata: {name: s, annotations: {when: 2024-01-02}}
                spec:
                  mode: 0644
                  flag: yes
                """)
            .get(0)
            .object();
    assertThat(o.path("spec").path("mode").isInt()).isTrue();
    assertThat(o.path("spec").path("mode").asInt()).isEqualTo(420);
    assertThat(o.path("spec").path("flag").isBoolean()).isTrue();
    assertThat(o.path("metadata").path("annotations").path("when").asText())
        .isEqualTo("2024-01-02");
  }

  @Test
  void duplicateKeysAreRejected() {
    assertThat(
            malformed("apiVersion: v1\nkind: ConfigMap\nkind: Secret\nmetadata: {name: a}\n")
                .reason())
        .contains("duplicate key kind");
  }

  @Test
  void objectsNeedApiVersionKindAndName() {
    assertThat(malformed("kind: ConfigMap\nmetadata: {name: a}\n").reason())
        .isEqualTo("document 1: apiVersion is missing");
    assertThat(malformed("apiVersion: v1\nmetadata: {name: a}\n").reason())
        .isEqualTo("document 1: kind is missing");
    assertThat(malformed("apiVersion: v1\nkind: Pod\nmetadata: {generateName: a-}\n").reason())
        .startsWith("document 1: Pod has no metadata.name");
    assertThat(malformed("- a\n- b\n").reason())
        .isEqualTo("document 1: not a Kubernetes object (a YAML mapping)");
    assertThat(malformed("apiVersion: v1\nkind: ConfigMap\nmetadata: [a]\n").reason())
        .isEqualTo("document 1: ConfigMap has no metadata");
    assertThat(
            malformed("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: [x]}\n")
                .reason())
        .isEqualTo("document 1: metadata.labels of ConfigMap is not a mapping");
  }

  @Test
  void listsAreExpanded() {
    List<Manifests.Document> docs =
        objects(
            """
            apiVersion: v1
            kind: List
            items:
            - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}
            - {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}
            """);
    assertThat(docs).extracting(Manifests.Document::name).containsExactly("a", "b");
    assertThat(docs).extracting(Manifests.Document::index).containsExactly(1, 1);
  }

  @Test
  void digestDependsOnAppRevisionAndText() {
    String d = Manifests.digest("web", "r1", "a: b\n");
    assertThat(d).startsWith("sha256:").hasSize(7 + 64);
    assertThat(Manifests.digest("web", "r1", "a: b\n")).isEqualTo(d);
    assertThat(Manifests.digest("web", "r2", "a: b\n")).isNotEqualTo(d);
    assertThat(Manifests.digest("web2", "r1", "a: b\n")).isNotEqualTo(d);
    assertThat(Manifests.digest("web", "r1", "a: c\n")).isNotEqualTo(d);
    // Length-prefixed parts: moving text between fields changes the digest.
    assertThat(Manifests.digest("web", "r1a", ": b\n")).isNotEqualTo(d);
  }
}
