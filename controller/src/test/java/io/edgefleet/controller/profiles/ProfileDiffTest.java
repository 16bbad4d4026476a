package io.edgefleet.controller.profiles;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ProfileDiffTest {
  private static final Layer K8S_1 =
      Layer.kubernetes("k3s", "v1.20.2+k3s1", Map.of("disable", List.of("traefik")));
  private static final Layer CNI_1 =
      Layer.app("cni", "networking", "flannel", "1.0.0", Map.of("mtu", 1450));
  private static final Layer MON_1 = Layer.app("monitoring", "addon", "prom", "2.0.0", Map.of());

  @Test
  void aLayerAddedRemovedChangedOrUnchangedIsSaidSo() {
    Layer cni2 =
        Layer.app(
            "cni",
            "networking",
            "flannel",
            "1.1.0",
            Map.of("mtu", 1400, "backend", Map.of("type", "vxlan")));
    Layer storage = Layer.app("storage", "storage", "longhorn", "1.0.0", Map.of());

    List<ProfileDiff.LayerChange> changes =
        ProfileDiff.layers(List.of(K8S_1, CNI_1, MON_1), List.of(K8S_1, cni2, storage));

    assertThat(changes)
        .extracting(ProfileDiff.LayerChange::name, ProfileDiff.LayerChange::change)
        .containsExactly(
            tuple("k3s", "unchanged"),
            tuple("cni", "changed"),
            tuple("storage", "added"),
            tuple("monitoring", "removed"));
    assertThat(changes.get(1).details())
        .containsExactly("version 1.0.0 -> 1.1.0", "values changed: backend.type, mtu");
    assertThat(changes.get(1).from()).isEqualTo("flannel@1.0.0");
    assertThat(changes.get(1).to()).isEqualTo("flannel@1.1.0");
    assertThat(ProfileDiff.kubernetesChanged(List.of(K8S_1, CNI_1), List.of(K8S_1, cni2)))
        .isFalse();
  }

  @Test
  void aKubernetesVersionOrConfigChangeRestartsNodes() {
    Layer k8s2 =
        Layer.kubernetes("k3s", "v1.21.1+k3s1", Map.of("disable", List.of("traefik", "metrics")));

    List<ProfileDiff.LayerChange> changes =
        ProfileDiff.layers(List.of(K8S_1, CNI_1), List.of(k8s2, CNI_1));

    assertThat(changes.get(0).change()).isEqualTo("changed");
    assertThat(changes.get(0).details())
        .containsExactly(
            "kubernetes version v1.20.2+k3s1 -> v1.21.1+k3s1", "config keys changed: disable");
    assertThat(changes.get(1).change()).isEqualTo("unchanged");
    assertThat(ProfileDiff.kubernetesChanged(List.of(K8S_1), List.of(k8s2))).isTrue();
    assertThat(ProfileDiff.kubernetesChanged(List.of(CNI_1), List.of(K8S_1, CNI_1))).isTrue();
  }

  @Test
  void aReorderedLayerIsAChange() {
    List<ProfileDiff.LayerChange> changes =
        ProfileDiff.layers(List.of(CNI_1, MON_1), List.of(MON_1, CNI_1));

    assertThat(changes).allSatisfy(c -> assertThat(c.change()).isEqualTo("changed"));
    assertThat(changes.get(0).details()).containsExactly("moved from position 2 to 1");
  }

  @Test
  void theUnifiedDiffShowsChangedLinesWithContext() {
    String a = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
    String b = "a\nb\nc\nd\nE\nf\ng\nh\ni\nj\nk\n";

    ProfileDiff.Unified u = ProfileDiff.unified("web@1", "web@2", a, b);

    assertThat(u.truncated()).isFalse();
    assertThat(u.lines())
        .containsExactly(
            "--- web@1",
            "+++ web@2",
            "@@ -2,9 +2,10 @@",
            " b",
            " c",
            " d",
            "-e",
            "+E",
            " f",
            " g",
            " h",
            " i",
            " j",
            "+k");
  }

  @Test
  void farApartChangesAreSeparateHunks() {
    StringBuilder a = new StringBuilder();
    for (int i = 0; i < 30; i++) {
      a.append("line").append(i).append('\n');
    }
    String b = a.toString().replace("line2\n", "two\n").replace("line25\n", "twentyfive\n");

    ProfileDiff.Unified u = ProfileDiff.unified("1", "2", a.toString(), b);

    assertThat(u.lines()).filteredOn(l -> l.startsWith("@@")).hasSize(2);
    assertThat(u.lines()).contains("-line2", "+two", "-line25", "+twentyfive");
  }

  @Test
  void equalTextsHaveNoDiffAndHugeOnesAreBounded() {
    assertThat(ProfileDiff.unified("1", "2", "a\n", "a\n").lines()).isEmpty();
    StringBuilder a = new StringBuilder();
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < 3000; i++) {
      a.append("a").append(i).append('\n');
      b.append("b").append(i).append('\n');
    }

    ProfileDiff.Unified u = ProfileDiff.unified("1", "2", a.toString(), b.toString());

    assertThat(u.truncated()).isTrue();
    assertThat(u.lines()).hasSize(ProfileDiff.MAX_DIFF_LINES);
  }

  @Test
  void concatenationSeparatesDocumentsOnce() {
    assertThat(ProfileApps.concatenate(List.of("---\na: 1\n", "", "b: 2")))
        .isEqualTo("a: 1\n---\nb: 2\n");
  }
}
