package io.edgefleet.agent.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.protocol.ClusterSpec;
import io.edgefleet.testkit.kube.KubeCluster;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The removal of a node by a K3s server against a real API server: the node is cordoned, its pods
 * are evicted through the Eviction API (a disruption budget keeps the pod it guards, and says so),
 * and the Node object is deleted. Runs against the local control plane, or the cluster named by
 * {@code EDGEFLEET_IT_KUBECONFIG} (it makes its own node object, which no kubelet serves, and
 * deletes it).
 */
class NodeDrainIT {
  @TempDir Path dir;

  @Test
  void aRemovedNodeIsCordonedDrainedWithinDisruptionBudgetsAndDeleted() {
    KubeCluster cluster = KubeCluster.shared();
    KubernetesClient k = cluster.client();
    String node = "edgefleet-drain-" + UUID.randomUUID().toString().substring(0, 8);
    String ns = cluster.newNamespace("drain");
    try {
      k.nodes()
          .resource(new NodeBuilder().withNewMetadata().withName(node).endMetadata().build())
          .create();
      pod(k, ns, "web-1", node, Map.of("app", "web"));
      pod(k, ns, "web-2", node, Map.of("app", "web"));
      pod(k, ns, "guarded", node, Map.of("app", "guarded"));
      running(k, ns, "guarded");
      int minor = Integer.parseInt(k.getKubernetesVersion().getMinor().replaceAll("\\D.*", ""));
      String policy = minor >= 21 ? "policy/v1" : "policy/v1beta1";
      k.resource(
              "apiVersion: "
                  + policy
                  + "\nkind: PodDisruptionBudget\nmetadata:\n  name: guarded\n  namespace: "
                  + ns
                  + "\nspec:\n  minAvailable: 1\n  selector:\n    matchLabels:\n      app: guarded\n")
          .create();
      // The disruption controller has seen the budget and the running pod it guards.
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () -> {
                var pdb =
                    k.genericKubernetesResources(policy, "PodDisruptionBudget")
                        .inNamespace(ns)
                        .withName("guarded")
                        .get();
                Object status = pdb == null ? null : pdb.getAdditionalProperties().get("status");
                return status instanceof Map<?, ?> m
                    && Integer.valueOf(1).equals(m.get("currentHealthy"));
              });

      NodeProbe probe = new NodeProbe(cluster.kubeconfig(), dir, Duration.ofSeconds(20));
      List<String> errors =
          Removals.apply(probe, "another-node", List.of(new ClusterSpec.Removal(node, false)));

      assertThat(errors)
          .singleElement()
          .asString()
          .startsWith("could not drain node " + node)
          .contains("a disruption budget keeps " + ns + "/guarded")
          .contains("evicted 2 other pods");
      assertThat(k.nodes().withName(node).get()).as("the node object is deleted").isNull();
      for (String evicted : List.of("web-1", "web-2")) {
        Pod p = k.pods().inNamespace(ns).withName(evicted).get();
        assertThat(p == null || p.getMetadata().getDeletionTimestamp() != null)
            .as(evicted + " is evicted")
            .isTrue();
      }
      Pod guarded = k.pods().inNamespace(ns).withName("guarded").get();
      assertThat(guarded).isNotNull();
    } finally {
      k.nodes().withName(node).delete();
      cluster.deleteNamespace(ns);
    }
  }

  private static void pod(
      KubernetesClient k, String ns, String name, String node, Map<String, String> labels) {
    PodBuilder b =
        new PodBuilder()
            .withNewMetadata()
            .withName(name)
            .withNamespace(ns)
            .withLabels(labels)
            .endMetadata()
            .withNewSpec()
            .withNodeName(node)
            .addNewContainer()
            .withName("c")
            .withImage("registry.invalid/none:1")
            .endContainer()
            .endSpec();
    k.pods().inNamespace(ns).resource(b.build()).create();
  }

  /** Marks a pod running and ready, as its kubelet would. */
  private static void running(KubernetesClient k, String ns, String name) {
    Pod p = k.pods().inNamespace(ns).withName(name).get();
    p.setStatus(
        new io.fabric8.kubernetes.api.model.PodStatusBuilder()
            .withPhase("Running")
            .withConditions(new PodConditionBuilder().withType("Ready").withStatus("True").build())
            .build());
    k.pods().inNamespace(ns).resource(p).updateStatus();
  }
}
