package io.edgefleet.agent.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.ClusterSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

class K3sConfigTest {
  private static final ArtifactRef K3S = new ArtifactRef("sha256:" + "a".repeat(64), 10);

  static ClusterSpec spec(
      String role, boolean init, List<String> servers, Map<String, Object> config) {
    return new ClusterSpec(
        "store-1",
        role,
        init,
        servers,
        1,
        "till-1",
        Map.of("zone", "sjc", "tier", "edge"),
        List.of("dedicated=edge:NoSchedule"),
        "v1.20.2+k3s1",
        K3S,
        config,
        List.of());
  }

  private static Map<String, Object> parse(String yaml) {
    return new Yaml().load(yaml);
  }

  @Test
  void theInitialisingServerStartsANewClusterAndWritesItsKubeconfig() {
    String yaml =
        K3sConfig.render(
            spec(
                "server",
                true,
                List.of(),
                Map.of("disable", List.of("traefik"), "flannel-backend", "none")),
            "s3cret",
            Path.of("/var/lib/rancher/k3s"),
            "10.0.0.5",
            Path.of("/etc/rancher/k3s/k3s.yaml"));
    Map<String, Object> m = parse(yaml);
    assertThat(m)
        .containsEntry("token", "s3cret")
        .containsEntry("cluster-init", true)
        .containsEntry("data-dir", "/var/lib/rancher/k3s")
        .containsEntry("node-name", "till-1")
        .containsEntry("node-ip", "10.0.0.5")
        .containsEntry("node-label", List.of("tier=edge", "zone=sjc"))
        .containsEntry("node-taint", List.of("dedicated=edge:NoSchedule"))
        .containsEntry("write-kubeconfig", "/etc/rancher/k3s/k3s.yaml")
        .containsEntry("write-kubeconfig-mode", "0600")
        .containsEntry("disable", List.of("traefik"))
        .containsEntry("flannel-backend", "none")
        .doesNotContainKey("server");
  }

  @Test
  void aJoiningAgentGoesThroughTheFirstServerAndWritesNoKubeconfig() {
    Map<String, Object> m =
        parse(
            K3sConfig.render(
                spec(
                    "agent",
                    false,
                    List.of("https://10.0.0.1:6443", "https://10.0.0.2:6443"),
                    Map.of()),
                "t",
                Path.of("/data/k3s"),
                "10.0.0.9",
                Path.of("/k.yaml")));
    assertThat(m)
        .containsEntry("server", "https://10.0.0.1:6443")
        .doesNotContainKeys("cluster-init", "write-kubeconfig", "write-kubeconfig-mode");
  }

  @Test
  void aProfileMayNotSetAKeyTheAgentOwns() {
    for (String key : ClusterSpec.AGENT_OWNED_KEYS) {
      assertThatThrownBy(
              () ->
                  K3sConfig.render(
                      spec("server", true, List.of(), Map.of(key, "x")),
                      "t",
                      Path.of("/d/k3s"),
                      "10.0.0.1",
                      Path.of("/k.yaml")))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining(key)
          .hasMessageContaining("agent writes itself");
    }
  }

  @Test
  void malformedProfileValuesAndJoinsWithoutAServerAreRefused() {
    assertThatThrownBy(
            () ->
                K3sConfig.render(
                    spec("server", true, List.of(), Map.of("kubelet-arg", Map.of("a", "b"))),
                    "t",
                    Path.of("/d/k3s"),
                    "1.2.3.4",
                    Path.of("/k")))
        .hasMessageContaining("kubelet-arg");
    assertThatThrownBy(
            () ->
                K3sConfig.render(
                    spec("server", true, List.of(), Map.of("Bad Key", "b")),
                    "t",
                    Path.of("/d/k3s"),
                    "1.2.3.4",
                    Path.of("/k")))
        .hasMessageContaining("not a K3s flag name");
    assertThatThrownBy(
            () ->
                K3sConfig.render(
                    spec("agent", false, List.of(), Map.of()),
                    "t",
                    Path.of("/d/k3s"),
                    "1.2.3.4",
                    Path.of("/k")))
        .hasMessageContaining("waits for a running server");
    assertThatThrownBy(
            () ->
                K3sConfig.render(
                    spec("worker", false, List.of("https://a:6443"), Map.of()),
                    "t",
                    Path.of("/d/k3s"),
                    "1.2.3.4",
                    Path.of("/k")))
        .hasMessageContaining("only server and agent");
  }
}
