package io.edgefleet.testkit.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ManagedFieldsEntry;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodSpecBuilder;
import io.fabric8.kubernetes.api.model.apps.DaemonSetBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobCondition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Kubernetes test cluster itself: a real apiserver (server-side apply), real controllers
 * (Deployment, ReplicaSet, Job, garbage collector) and, locally, the {@link KubeletStandIn} with
 * its image-tag hooks. Runs against {@code EDGEFLEET_IT_KUBECONFIG} too (hook tests are skipped
 * there).
 */
class KubeClusterIT {
  /** Real images for a real cluster; the stand-in never pulls anything. */
  private static final String LONG_RUNNING_IMAGE = "registry.k8s.io/pause:3.9";

  private static final String SHORT_LIVED_IMAGE = "busybox:1.36";

  private static KubeCluster cluster;
  private static KubernetesClient client;
  private static String ns;

  @BeforeAll
  static void cluster() {
    cluster = KubeCluster.shared();
    client = cluster.client();
    ns = cluster.newNamespace("kube-cluster-it");
  }

  @AfterAll
  static void dropNamespace() {
    if (ns != null) {
      cluster.deleteNamespace(ns);
    }
  }

  private static ConditionFactory eventually() {
    return await().atMost(Duration.ofSeconds(45)).pollInterval(Duration.ofMillis(100));
  }

  @Test
  void serverSideApplyOwnsFieldsPerManager() {
    ConfigMap applied =
        client
            .configMaps()
            .inNamespace(ns)
            .resource(configMap("settings", Map.of("mode", "edge", "level", "3")))
            .fieldManager("edgefleet")
            .forceConflicts()
            .serverSideApply();
    assertThat(applied.getData()).containsEntry("mode", "edge").containsEntry("level", "3");
    assertThat(applied.getMetadata().getManagedFields())
        .extracting(ManagedFieldsEntry::getManager, ManagedFieldsEntry::getOperation)
        .contains(org.assertj.core.groups.Tuple.tuple("edgefleet", "Apply"));

    // Applying without a field the manager owned removes it: real apply semantics.
    ConfigMap reapplied =
        client
            .configMaps()
            .inNamespace(ns)
            .resource(configMap("settings", Map.of("mode", "edge")))
            .fieldManager("edgefleet")
            .forceConflicts()
            .serverSideApply();
    assertThat(reapplied.getData()).containsOnlyKeys("mode");

    // Another manager setting an owned field to another value conflicts unless it forces.
    assertThatThrownBy(
            () ->
                client
                    .configMaps()
                    .inNamespace(ns)
                    .resource(configMap("settings", Map.of("mode", "cloud")))
                    .fieldManager("someone-else")
                    .serverSideApply())
        .isInstanceOf(KubernetesClientException.class)
        .satisfies(e -> assertThat(((KubernetesClientException) e).getCode()).isEqualTo(409));
  }

  @Test
  void deploymentBecomesAvailableThroughTheControllers() {
    client
        .apps()
        .deployments()
        .inNamespace(ns)
        .resource(deployment("web", 2, LONG_RUNNING_IMAGE))
        .create();

    eventually()
        .untilAsserted(
            () -> {
              Deployment d = client.apps().deployments().inNamespace(ns).withName("web").get();
              assertThat(d.getStatus()).isNotNull();
              assertThat(d.getStatus().getAvailableReplicas()).isEqualTo(2);
              assertThat(d.getStatus().getReadyReplicas()).isEqualTo(2);
            });
    List<Pod> pods = client.pods().inNamespace(ns).withLabel("app", "web").list().getItems();
    assertThat(pods)
        .hasSize(2)
        .allSatisfy(p -> assertThat(p.getStatus().getPhase()).isEqualTo("Running"));
    if (cluster.local()) {
      assertThat(pods)
          .allSatisfy(
              p -> assertThat(p.getSpec().getNodeName()).isEqualTo(KubeletStandIn.NODE_NAME));
    }
  }

  @Test
  void statefulSetAndDaemonSetBecomeReady() {
    var labels = Map.of("app", "db");
    client
        .apps()
        .statefulSets()
        .inNamespace(ns)
        .resource(
            new StatefulSetBuilder()
                .withNewMetadata()
                .withName("db")
                .endMetadata()
                .withNewSpec()
                .withServiceName("db")
                .withReplicas(2)
                .withNewSelector()
                .withMatchLabels(labels)
                .endSelector()
                .withNewTemplate()
                .withNewMetadata()
                .withLabels(labels)
                .endMetadata()
                .withSpec(podSpec(LONG_RUNNING_IMAGE))
                .endTemplate()
                .endSpec()
                .build())
        .create();
    var agentLabels = Map.of("app", "node-agent");
    client
        .apps()
        .daemonSets()
        .inNamespace(ns)
        .resource(
            new DaemonSetBuilder()
                .withNewMetadata()
                .withName("node-agent")
                .endMetadata()
                .withNewSpec()
                .withNewSelector()
                .withMatchLabels(agentLabels)
                .endSelector()
                .withNewTemplate()
                .withNewMetadata()
                .withLabels(agentLabels)
                .endMetadata()
                .withSpec(podSpec(LONG_RUNNING_IMAGE))
                .endTemplate()
                .endSpec()
                .build())
        .create();

    // OrderedReady: db-1 is only created once db-0 is ready, so this exercises the stand-in twice.
    eventually()
        .untilAsserted(
            () ->
                assertThat(
                        client
                            .apps()
                            .statefulSets()
                            .inNamespace(ns)
                            .withName("db")
                            .get()
                            .getStatus()
                            .getReadyReplicas())
                    .isEqualTo(2));
    eventually()
        .untilAsserted(
            () -> {
              var status =
                  client
                      .apps()
                      .daemonSets()
                      .inNamespace(ns)
                      .withName("node-agent")
                      .get()
                      .getStatus();
              assertThat(status.getDesiredNumberScheduled()).isPositive();
              assertThat(status.getNumberReady()).isEqualTo(status.getDesiredNumberScheduled());
              assertThat(status.getNumberAvailable()).isEqualTo(status.getDesiredNumberScheduled());
            });
  }

  @Test
  void neverReadyImageStaysUnavailable() {
    Assumptions.assumeTrue(cluster.local(), "image-tag hooks need the kubelet stand-in");
    client
        .apps()
        .deployments()
        .inNamespace(ns)
        .resource(deployment("stuck", 1, "example.test/app:" + KubeletStandIn.TAG_NEVER_READY))
        .create();

    // The pod runs ...
    eventually()
        .untilAsserted(
            () ->
                assertThat(
                        client.pods().inNamespace(ns).withLabel("app", "stuck").list().getItems())
                    .singleElement()
                    .satisfies(p -> assertThat(p.getStatus().getPhase()).isEqualTo("Running")));
    // ... and the Deployment controller has seen it, yet counts nothing available, and keeps so.
    eventually()
        .untilAsserted(
            () -> assertThat(deploymentStatus("stuck").getUnavailableReplicas()).isEqualTo(1));
    await()
        .during(Duration.ofSeconds(3))
        .atMost(Duration.ofSeconds(5))
        .pollInterval(Duration.ofMillis(200))
        .untilAsserted(
            () -> {
              var status = deploymentStatus("stuck");
              assertThat(status.getAvailableReplicas()).isNull();
              assertThat(status.getReadyReplicas()).isNull();
              assertThat(status.getUnavailableReplicas()).isEqualTo(1);
            });
  }

  @Test
  void crashImageLoopsWithGrowingRestartCount() {
    Assumptions.assumeTrue(cluster.local(), "image-tag hooks need the kubelet stand-in");
    client
        .apps()
        .deployments()
        .inNamespace(ns)
        .resource(deployment("crashy", 1, "example.test/app:" + KubeletStandIn.TAG_CRASH))
        .create();

    eventually()
        .untilAsserted(
            () -> {
              ContainerStatus c = containerStatus("crashy");
              assertThat(c.getState().getWaiting().getReason()).isEqualTo("CrashLoopBackOff");
              assertThat(c.getRestartCount()).isGreaterThanOrEqualTo(2);
              assertThat(c.getReady()).isFalse();
            });
    assertThat(deploymentStatus("crashy").getAvailableReplicas()).isNull();
  }

  @Test
  void jobCompletes() {
    Job job =
        new JobBuilder()
            .withNewMetadata()
            .withName("once")
            .endMetadata()
            .withNewSpec()
            .withBackoffLimit(0)
            .withNewTemplate()
            .withNewSpec()
            .withRestartPolicy("Never")
            .addNewContainer()
            .withName("main")
            .withImage(SHORT_LIVED_IMAGE)
            .withCommand("true")
            .endContainer()
            .endSpec()
            .endTemplate()
            .endSpec()
            .build();
    client.batch().v1().jobs().inNamespace(ns).resource(job).create();

    eventually()
        .untilAsserted(
            () -> {
              Job j = client.batch().v1().jobs().inNamespace(ns).withName("once").get();
              assertThat(j.getStatus().getSucceeded()).isEqualTo(1);
              assertThat(j.getStatus().getConditions())
                  .extracting(JobCondition::getType, JobCondition::getStatus)
                  .contains(org.assertj.core.groups.Tuple.tuple("Complete", "True"));
            });
  }

  @Test
  void failImageFailsTheJob() {
    Assumptions.assumeTrue(cluster.local(), "image-tag hooks need the kubelet stand-in");
    Job job =
        new JobBuilder()
            .withNewMetadata()
            .withName("doomed")
            .endMetadata()
            .withNewSpec()
            .withBackoffLimit(0)
            .withNewTemplate()
            .withNewSpec()
            .withRestartPolicy("Never")
            .addNewContainer()
            .withName("main")
            .withImage("example.test/task:" + KubeletStandIn.TAG_FAIL)
            .endContainer()
            .endSpec()
            .endTemplate()
            .endSpec()
            .build();
    client.batch().v1().jobs().inNamespace(ns).resource(job).create();

    eventually()
        .untilAsserted(
            () -> {
              Job j = client.batch().v1().jobs().inNamespace(ns).withName("doomed").get();
              assertThat(j.getStatus().getFailed()).isEqualTo(1);
              assertThat(j.getStatus().getConditions())
                  .extracting(JobCondition::getType, JobCondition::getStatus)
                  .contains(org.assertj.core.groups.Tuple.tuple("Failed", "True"));
            });
  }

  @Test
  void deletingADeploymentCollectsItsReplicaSetsAndPods() {
    client
        .apps()
        .deployments()
        .inNamespace(ns)
        .resource(deployment("doomed-web", 1, LONG_RUNNING_IMAGE))
        .create();
    eventually()
        .untilAsserted(
            () -> assertThat(deploymentStatus("doomed-web").getAvailableReplicas()).isEqualTo(1));
    List<ReplicaSet> owned = replicaSets("doomed-web");
    assertThat(owned).hasSize(1);

    client.apps().deployments().inNamespace(ns).withName("doomed-web").delete();

    // Background propagation: the garbage collector of kube-controller-manager removes dependents.
    eventually()
        .untilAsserted(
            () -> {
              assertThat(replicaSets("doomed-web")).isEmpty();
              assertThat(
                      client
                          .pods()
                          .inNamespace(ns)
                          .withLabel("app", "doomed-web")
                          .list()
                          .getItems())
                  .isEmpty();
            });
  }

  // ---- helpers ----

  private static ConfigMap configMap(String name, Map<String, String> data) {
    return new ConfigMapBuilder()
        .withNewMetadata()
        .withName(name)
        .endMetadata()
        .withData(data)
        .build();
  }

  private static Deployment deployment(String name, int replicas, String image) {
    return new DeploymentBuilder()
        .withNewMetadata()
        .withName(name)
        .endMetadata()
        .withNewSpec()
        .withReplicas(replicas)
        .withNewSelector()
        .withMatchLabels(Map.of("app", name))
        .endSelector()
        .withNewTemplate()
        .withNewMetadata()
        .withLabels(Map.of("app", name))
        .endMetadata()
        .withSpec(podSpec(image))
        .endTemplate()
        .endSpec()
        .build();
  }

  private static PodSpec podSpec(String image) {
    return new PodSpecBuilder()
        .withTerminationGracePeriodSeconds(1L)
        .addNewContainer()
        .withName("main")
        .withImage(image)
        .endContainer()
        .build();
  }

  private static io.fabric8.kubernetes.api.model.apps.DeploymentStatus deploymentStatus(
      String name) {
    Deployment d = client.apps().deployments().inNamespace(ns).withName(name).get();
    assertThat(d.getStatus()).isNotNull();
    return d.getStatus();
  }

  private static ContainerStatus containerStatus(String app) {
    List<Pod> pods = client.pods().inNamespace(ns).withLabel("app", app).list().getItems();
    assertThat(pods).hasSize(1);
    assertThat(pods.get(0).getStatus().getContainerStatuses()).hasSize(1);
    return pods.get(0).getStatus().getContainerStatuses().get(0);
  }

  private static List<ReplicaSet> replicaSets(String deployment) {
    return client.apps().replicaSets().inNamespace(ns).list().getItems().stream()
        .filter(
            rs ->
                rs.getMetadata().getOwnerReferences() != null
                    && rs.getMetadata().getOwnerReferences().stream()
                        .anyMatch(
                            o ->
                                "Deployment".equals(o.getKind()) && deployment.equals(o.getName())))
        .toList();
  }
}
