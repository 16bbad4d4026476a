package io.edgefleet.controller.render;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** What the render of a chart takes from the device's Kubernetes version, without Helm. */
class KubeVersionTest {

  private static Bundle chart(String chartYaml) {
    SortedMap<String, byte[]> files = new TreeMap<>();
    files.put("Chart.yaml", chartYaml.getBytes(StandardCharsets.UTF_8));
    files.put("templates/cm.yaml", "kind: ConfigMap".getBytes(StandardCharsets.UTF_8));
    return Bundle.parse("alerts", "t1", files);
  }

  @Test
  void theValidatedChartIsTheChartWithoutItsKubeVersionConstraint() {
    Bundle b =
        chart("apiVersion: v2\nname: alertmanager\nversion: 1.13.0\nkubeVersion: '>=1.25.0-0'\n");
    assertThat(b.kubeVersionConstraint()).isEqualTo(">=1.25.0-0");
    assertThat(b.chartName()).isEqualTo("alertmanager");

    Bundle any = b.withoutKubeVersionConstraint();
    assertThat(any.treeId()).isEqualTo("t1-any-kube");
    assertThat(any.kubeVersionConstraint()).isNull();
    String chartYaml = new String(any.files().get("Chart.yaml"), StandardCharsets.UTF_8);
    assertThat(chartYaml).contains("alertmanager").contains("1.13.0").doesNotContain("kubeVersion");
    assertThat(any.files().get("templates/cm.yaml")).isEqualTo(b.files().get("templates/cm.yaml"));
    assertThat(b.files().get("Chart.yaml")).asString().contains("kubeVersion");
  }

  @Test
  void aChartWithoutConstraintOrThatHelmCannotReadIsValidatedAsItIs() {
    Bundle plain = chart("apiVersion: v2\nname: web\nversion: 0.1.0\n");
    assertThat(plain.withoutKubeVersionConstraint()).isSameAs(plain);
    Bundle broken = chart("apiVersion: v2\nname: [web\n");
    assertThat(broken.withoutKubeVersionConstraint()).isSameAs(broken);
    assertThat(broken.chartName()).isEqualTo("alerts");
  }

  @Test
  void helmSeesTheVersionWithItsVAndWithoutBuildMetadata() {
    assertThat(Renderer.forHelm("v1.30.6+k3s1")).isEqualTo("v1.30.6");
    assertThat(Renderer.forHelm("1.28.3")).isEqualTo("v1.28.3");
    assertThat(Renderer.forHelm("v1.29.0-rc.1")).isEqualTo("v1.29.0-rc.1");
    assertThat(Renderer.forHelm(null)).isNull();
  }
}
