package io.edgefleet.controller.render;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ManifestsTest {
  @TempDir Path dir;

  private Renderer renderer() {
    // Plain manifests never start Helm's process.
    return new Renderer(
        new HelmRenderer(
            new ChartCache(dir.resolve("charts"), 1 << 20, 10),
            dir.resolve("tmp"),
            new HelmWorker(dir.resolve("helm"), HelmWorker.Options.defaults())),
        1 << 20);
  }

  private static SortedMap<String, byte[]> files(String... pathAndContent) {
    SortedMap<String, byte[]> m = new TreeMap<>();
    for (int i = 0; i < pathAndContent.length; i += 2) {
      m.put(pathAndContent[i], pathAndContent[i + 1].getBytes(StandardCharsets.UTF_8));
    }
    return m;
  }

  private static final String CONFIG =
      """
      # a comment
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: web-config
      data:
        greeting: "hello"
        script: |
          echo one
          echo two
      """;
  private static final String DEPLOYMENT =
      """
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: web
        namespace: frontend
      spec:
        replicas: 2
      ---
      ---
      apiVersion: rbac.authorization.k8s.io/v1
      kind: ClusterRole
      metadata:
        name: web-reader
      """;

  @Test
  void containerAndVirtualMachineDocumentsGetNoNamespace() {
    String container =
        """
        apiVersion: edgefleet.io/v1
        kind: Container
        metadata:
          name: web
        spec:
          image: registry.example/web@sha256:%s
        """
            .formatted("a".repeat(64));
    Bundle b = Bundle.parse("kiosk", "t1", files("web.yaml", container));
    RenderedApp out = renderer().render(b, Map.of(), Map.of(), null);
    assertThat(out.yaml()).doesNotContain("Namespace").doesNotContain("namespace");
    assertThat(out.documents())
        .singleElement()
        .satisfies(d -> assertThat(d).containsEntry("kind", "Container"));
    // Written back as a render writes it: the same text, the same digest.
    assertThat(RenderedApp.of(out.documents())).isEqualTo(out);
  }

  @Test
  void namespacesDefaultToTheAppAndComeFirstThenFileOrder() {
    Bundle b = Bundle.parse("web", "t1", files("b.yaml", DEPLOYMENT, "a.yml", CONFIG));
    String yaml = renderer().render(b, Map.of(), Map.of(), null).yaml();
    assertThat(yaml)
        .isEqualTo(
            """
            ---
            apiVersion: "v1"
            kind: "Namespace"
            metadata:
              name: "frontend"
            ---
            apiVersion: "v1"
            kind: "Namespace"
            metadata:
              name: "web"
            ---
            apiVersion: "v1"
            kind: "ConfigMap"
            metadata:
              name: "web-config"
              namespace: "web"
            data:
              greeting: "hello"
              script: |
                echo one
                echo two
            ---
            apiVersion: "apps/v1"
            kind: "Deployment"
            metadata:
              name: "web"
              namespace: "frontend"
            spec:
              replicas: 2
            ---
            apiVersion: "rbac.authorization.k8s.io/v1"
            kind: "ClusterRole"
            metadata:
              name: "web-reader"
            """);
  }

  @Test
  void outputIsDeterministicAndDigested() {
    Bundle a = Bundle.parse("web", "t1", files("a.yaml", CONFIG, "b.yaml", DEPLOYMENT));
    Bundle b = Bundle.parse("web", "t1", files("a.yaml", CONFIG, "b.yaml", DEPLOYMENT));
    RenderedApp one = renderer().render(a, Map.of(), Map.of("site", "x"), null);
    RenderedApp two = renderer().render(b, Map.of(), Map.of("site", "y"), null);
    assertThat(one).isEqualTo(two);
    assertThat(one.digest()).isEqualTo(RenderedApp.of(one.yaml()).digest()).startsWith("sha256:");
    assertThat(one.digest()).hasSize("sha256:".length() + 64);
  }

  @Test
  void aNamespaceDefinedInTheBundleIsKeptOnceAndFirst() {
    String ns =
        """
        apiVersion: v1
        kind: Namespace
        metadata:
          name: web
          labels: {team: edge}
        """;
    Bundle b = Bundle.parse("web", "t1", files("a.yaml", CONFIG, "z.yaml", ns));
    String yaml = renderer().render(b, Map.of(), Map.of(), null).yaml();
    assertThat(yaml)
        .startsWith(
            "---\napiVersion: \"v1\"\nkind: \"Namespace\"\nmetadata:\n  name: \"web\"\n  labels:");
    assertThat(yaml.split("kind: \"Namespace\"", -1)).hasSize(2);
  }

  @Test
  void clusterScopedCustomResourcesStayWithoutNamespace() {
    String crd =
        """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: gadgets.example.com}
        spec:
          scope: Cluster
          names: {kind: Gadget}
        ---
        apiVersion: example.com/v1
        kind: Gadget
        metadata: {name: g1}
        ---
        apiVersion: cert-manager.io/v1
        kind: ClusterIssuer
        metadata: {name: letsencrypt}
        ---
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: w1}
        """;
    var objects = Manifests.finish(Manifests.parse(crd, "crd.yaml"), "app");
    assertThat(objects.stream().map(Manifests::identity))
        .containsExactly(
            "v1 Namespace app",
            "apiextensions.k8s.io/v1 CustomResourceDefinition gadgets.example.com",
            "example.com/v1 Gadget g1",
            "cert-manager.io/v1 ClusterIssuer letsencrypt",
            "example.com/v1 Widget app/w1");
  }

  @Test
  void listsAreFlattened() {
    String list =
        """
        apiVersion: v1
        kind: List
        items:
          - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}
          - {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}
        """;
    assertThat(Manifests.parse(list, "l.yaml")).hasSize(2);
  }

  @Test
  void badContentIsRefusedWithFileAndDocument() {
    assertThatThrownBy(() -> Bundle.parse("web", "t", files("a.yaml", "a: [unclosed")))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("a.yaml document 1 is not valid YAML");
    assertThatThrownBy(
            () -> Bundle.parse("web", "t", files("a.yaml", CONFIG + "---\n- just\n- a list\n")))
        .hasMessageContaining("a.yaml document 2 is not a Kubernetes object");
    assertThatThrownBy(
            () -> Bundle.parse("web", "t", files("a.yaml", "kind: ConfigMap\nmetadata: {name: x}")))
        .hasMessageContaining("has no apiVersion");
    assertThatThrownBy(
            () -> Bundle.parse("web", "t", files("a.yaml", "apiVersion: v1\nkind: ConfigMap\n")))
        .hasMessageContaining("(ConfigMap) has no metadata.name");
    assertThatThrownBy(
            () ->
                Bundle.parse(
                    "web", "t", files("a.yaml", "apiVersion: v1\napiVersion: v2\nkind: X\n")))
        .hasMessageContaining("not valid YAML")
        .hasMessageContaining("Duplicate field 'apiVersion'");
  }

  @Test
  void duplicateObjectsAreRefused() {
    Bundle b = Bundle.parse("web", "t", files("a.yaml", CONFIG, "b.yaml", CONFIG));
    assertThatThrownBy(() -> renderer().render(b, Map.of(), Map.of(), null))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("v1 ConfigMap web/web-config is defined twice");
  }

  @Test
  void onlyYamlAndJsonFilesAreManifests() {
    Bundle b =
        Bundle.parse(
            "web",
            "t",
            files(
                "README.md",
                "# not yaml: [",
                "edgefleet-overrides.yaml",
                "- selector: a=b\n  values: {x: 1}\n",
                "sub/c.json",
                "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\"}}",
                "a.yaml",
                CONFIG));
    assertThat(b.kind()).isEqualTo(AppKind.MANIFESTS);
    assertThat(b.objects()).hasSize(2);
  }

  @Test
  void identityNamesApiVersionKindNamespaceAndName() {
    var objs = Manifests.finish(Manifests.parse(CONFIG + "---\n" + DEPLOYMENT, "x"), "web");
    assertThat(Manifests.index(objs).keySet())
        .containsExactly(
            "v1 Namespace frontend",
            "v1 Namespace web",
            "v1 ConfigMap web/web-config",
            "apps/v1 Deployment frontend/web",
            "rbac.authorization.k8s.io/v1 ClusterRole web-reader");
  }
}
