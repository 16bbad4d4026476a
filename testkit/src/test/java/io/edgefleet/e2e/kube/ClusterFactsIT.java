package io.edgefleet.e2e.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.agent.runtime.kubernetes.KubernetesRuntime;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import io.edgefleet.testkit.kube.KubeCluster;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent reports the Kubernetes version and group versions of a real API server (the local one
 * of the testkit, or the cluster named by {@code EDGEFLEET_IT_KUBECONFIG}), and the controller
 * shows them in the device's facts.
 */
class ClusterFactsIT {
  static final KubeCluster KUBE = KubeCluster.shared();

  @TempDir Path dir;

  @Test
  void theRuntimeReadsTheApiServersVersionAndGroupVersions() {
    try (KubernetesRuntime runtime = new KubernetesRuntime(KUBE.kubeconfig())) {
      WorkloadRuntime.Cluster cluster = runtime.cluster().orElseThrow();

      assertThat(cluster.version())
          .isEqualTo(KUBE.client().getKubernetesVersion().getGitVersion())
          .startsWith("v1.");
      assertThat(cluster.apiVersions())
          .contains("v1", "apps/v1", "batch/v1", "apiextensions.k8s.io/v1")
          .containsAll(groupVersionsByFabric8())
          .isSorted()
          .doesNotHaveDuplicates();
    }
  }

  @Test
  void aConnectedAgentReportsItsClusterInTheDevicesFacts() throws Exception {
    String version = KUBE.client().getKubernetesVersion().getGitVersion();
    try (TestController controller = TestController.start(dir.resolve("controller"));
        TestAgents agents = new TestAgents(dir)) {
      AdminClient admin = controller.admin();
      Path bootstrap =
          agents.bootstrap(
              "kube",
              controller.url(),
              controller.caFingerprint(),
              controller.token(Map.of("site", "lab"), null, false));
      Agent agent =
          agents.start(
              agents.options("kube", bootstrap),
              Clock.systemUTC(),
              new KubernetesRuntime(KUBE.kubeconfig()));
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> agent.status().state() == Agent.State.CONNECTED);
      String id = agent.status().deviceId().orElseThrow();

      JsonNode facts =
          await()
              .atMost(Duration.ofSeconds(30))
              .until(
                  () -> admin.get("/api/v1/devices/" + id).body().path("facts"),
                  f -> f.path("kubernetesVersion").asText().equals(version));
      List<String> apiVersions = new ArrayList<>();
      facts.path("kubernetesApiVersions").forEach(v -> apiVersions.add(v.asText()));
      assertThat(apiVersions).contains("v1", "apps/v1");
    }
  }

  private static List<String> groupVersionsByFabric8() {
    List<String> out = new ArrayList<>();
    KUBE.client()
        .getApiGroups()
        .getGroups()
        .forEach(g -> g.getVersions().forEach(v -> out.add(v.getGroupVersion())));
    return out;
  }
}
