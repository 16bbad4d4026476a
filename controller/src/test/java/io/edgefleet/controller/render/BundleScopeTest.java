package io.edgefleet.controller.render;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class BundleScopeTest {
  private static final String CM =
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n";

  private static SortedMap<String, byte[]> files(String spec) {
    SortedMap<String, byte[]> f = new TreeMap<>();
    f.put("cm.yaml", CM.getBytes(StandardCharsets.UTF_8));
    if (spec != null) {
      f.put(Bundle.APP_SPEC_FILE, spec.getBytes(StandardCharsets.UTF_8));
    }
    return f;
  }

  @Test
  void scopeComesFromTheAppSpecFileWhichIsNoManifest() {
    assertThat(Bundle.scope(files(null))).isEqualTo(Bundle.DEVICE_SCOPE);
    assertThat(Bundle.scope(files("scope: device\n"))).isEqualTo(Bundle.DEVICE_SCOPE);
    assertThat(Bundle.scope(files("scope: cluster\n"))).isEqualTo(Bundle.CLUSTER_SCOPE);
    Bundle b = Bundle.parse("web", "t1", files("scope: cluster\n"));
    assertThat(b.objects()).hasSize(1);
  }

  @Test
  void aBadSpecIsRefusedNamingTheFile() {
    assertThatThrownBy(() -> Bundle.parse("web", "t1", files("scope: node\n")))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining(Bundle.APP_SPEC_FILE)
        .hasMessageContaining("'node'");
    assertThatThrownBy(() -> Bundle.scope(files("scope: cluster\nreplicas: 2\n")))
        .isInstanceOf(RenderException.class)
        .hasMessageContaining("unknown fields [replicas]");
  }
}
