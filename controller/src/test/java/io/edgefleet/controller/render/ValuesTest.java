package io.edgefleet.controller.render;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class ValuesTest {
  @Test
  void mergeIsDeepForMapsAndReplacesEverythingElse() {
    Map<String, Object> base =
        Map.of(
            "image", Map.of("repository", "nginx", "tag", "1.0"),
            "ports", List.of(80, 443),
            "replicaCount", 1);
    Map<String, Object> overlay = new LinkedHashMap<>();
    overlay.put("image", Map.of("tag", "2.0"));
    overlay.put("ports", List.of(8080));
    overlay.put("extra", true);
    Map<String, Object> merged = Values.merge(base, overlay);
    assertThat(merged)
        .containsEntry("image", Map.of("repository", "nginx", "tag", "2.0"))
        .containsEntry("ports", List.of(8080))
        .containsEntry("replicaCount", 1)
        .containsEntry("extra", true);
    assertThat(base).containsEntry("image", Map.of("repository", "nginx", "tag", "1.0"));
  }

  @Test
  void substitutesTagsInStringsAtAnyDepth() {
    Map<String, Object> values =
        Map.of(
            "host", "${tag:site}.example.com",
            "nested", Map.of("list", List.of("a-${tag:site}-${tag:env}", 3)),
            "${tag:site}", "keys stay");
    Object out = Values.substitute(values, k -> Map.of("site", "s1", "env", "prod").get(k));
    assertThat(out)
        .isEqualTo(
            Map.of(
                "host", "s1.example.com",
                "nested", Map.of("list", List.of("a-s1-prod", 3)),
                "${tag:site}", "keys stay"));
    assertThat(Values.tagKeys(values)).containsExactly("env", "site");
  }

  @Test
  void replacementTextIsTakenLiterally() {
    assertThat(Values.substitute("x=${tag:a}", k -> "$1\\n")).isEqualTo("x=$1\\n");
  }

  @Test
  void digestIgnoresKeyOrder() {
    Map<String, Object> a = new LinkedHashMap<>();
    a.put("a", 1);
    a.put("b", Map.of("y", 2, "x", 1));
    Map<String, Object> b =
        new TreeMap<>(Map.of("b", new TreeMap<>(Map.of("x", 1, "y", 2)), "a", 1));
    assertThat(Values.digest(a)).isEqualTo(Values.digest(b));
    assertThat(new String(Values.canonicalJson(a), StandardCharsets.UTF_8))
        .isEqualTo("{\"a\":1,\"b\":{\"x\":1,\"y\":2}}");
  }

  @Test
  void overridesApplyInOrderWhenTheSelectorMatches() {
    Bundle b =
        Bundle.parse(
            "web",
            "t",
            new TreeMap<>(
                Map.of(
                    "Chart.yaml",
                    bytes("apiVersion: v2\nname: web\nversion: 0.1.0\n"),
                    "values.yaml",
                    bytes("replicaCount: 1\nimage: {tag: '1.0', repository: nginx}\n"),
                    "edgefleet-overrides.yaml",
                    bytes(
                        """
                        - selector: site-size=large
                          values: { replicaCount: 3 }
                        - selector: site-size in (large,huge),env=prod
                          values: { replicaCount: 5, image: {tag: '2.0'} }
                        - selector: ''
                          values: { everywhere: true }
                        """))));
    assertThat(b.kind()).isEqualTo(AppKind.HELM);
    assertThat(b.valuesFor(Map.of()))
        .containsEntry("replicaCount", 1)
        .containsEntry("everywhere", true);
    assertThat(b.valuesFor(Map.of("site-size", "large"))).containsEntry("replicaCount", 3);
    assertThat(b.valuesFor(Map.of("site-size", "large", "env", "prod")))
        .containsEntry("replicaCount", 5)
        .containsEntry("image", Map.of("tag", "2.0", "repository", "nginx"));
  }

  @Test
  void malformedOverridesAreRefusedClearly() {
    assertThatThrownBy(() -> helm("selector: x=y\n"))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("must be a list");
    assertThatThrownBy(() -> helm("- selector: 'x in y'\n  values: {}\n"))
        .hasMessageContaining("entry 1")
        .hasMessageContaining("expected '(' after 'in'");
    assertThatThrownBy(() -> helm("- selector: x=y\n  value: {a: 1}\n"))
        .hasMessageContaining("unknown fields [value]");
    assertThatThrownBy(() -> helm("- selector: x=y\n  values: [1]\n"))
        .hasMessageContaining("entry 1 values must be a YAML mapping");
    assertThatThrownBy(() -> helm("- selector: x=y\n  values: {a: '${tag:-bad}'}\n"))
        .hasMessageContaining("uses '${tag:-bad}'");
  }

  private static Bundle helm(String overrides) {
    return Bundle.parse(
        "web",
        "t",
        new TreeMap<>(
            Map.of(
                "Chart.yaml", bytes("apiVersion: v2\nname: web\nversion: 0.1.0\n"),
                "edgefleet-overrides.yaml", bytes(overrides))));
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
