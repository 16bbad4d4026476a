package io.edgefleet.agent.runtime.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.AppHealth.State;
import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.DriftRepair;
import io.edgefleet.agent.runtime.RuntimeUnavailableException;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The runtime's bookkeeping (inventory, in-sync check, pruning, removal, health) against fabric8's
 * mock API server in CRUD mode, with API discovery answered by expectations. That server cannot do
 * server-side apply, so objects are written by create-or-replace here; server-side apply itself is
 * covered by KubernetesRuntimeIT against a real kube-apiserver. The fabric8 client only checks the
 * mock's state; the runtime talks to it with its own client, over TLS.
 */
@EnableKubernetesMockClient(crud = true)
class KubernetesRuntimeTest {
  KubernetesMockServer server;
  KubernetesClient client;
  private KubernetesRuntime runtime;

  private static final String V1 =
      """
      apiVersion: v1
      kind: Namespace
      metadata: {name: shop}
      ---
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: web, namespace: shop}
      spec:
        replicas: 2
        selector: {matchLabels: {app: web}}
        template:
          metadata: {labels: {app: web}}
          spec: {containers: [{name: web, image: nginx}]}
      ---
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: cfg, namespace: shop}
      data: {greeting: hello}
      """;

  /** V1 without the ConfigMap. */
  private static final String V2 = V1.substring(0, V1.lastIndexOf("---"));

  private static final String CORE =
      """
      {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        {"name": "namespaces", "namespaced": false, "kind": "Namespace"},
        {"name": "configmaps", "namespaced": true, "kind": "ConfigMap"},
        {"name": "pods", "namespaced": true, "kind": "Pod"},
        {"name": "pods/status", "namespaced": true, "kind": "Pod"},
        {"name": "services", "namespaced": true, "kind": "Service"}]}""";
  private static final String APPS =
      """
      {"kind": "APIResourceList", "groupVersion": "apps/v1", "resources": [
        {"name": "deployments", "namespaced": true, "kind": "Deployment"},
        {"name": "deployments/scale", "namespaced": true, "kind": "Scale"}]}""";

  /** A kubeconfig of the mock server (self-signed TLS), with {@code namespace} as default. */
  static Kubeconfig kubeconfig(String url, String namespace) {
    return Kubeconfig.parse(
        """
        apiVersion: v1
        kind: Config
        current-context: mock
        contexts: [{name: mock, context: {cluster: mock, user: nobody, namespace: %s}}]
        clusters: [{name: mock, cluster: {server: "%s", insecure-skip-tls-verify: true}}]
        users: [{name: nobody, user: {token: t0k3n}}]
        """
            .formatted(namespace, url),
        Path.of("."));
  }

  @BeforeEach
  void start() {
    server.expect().get().withPath("/api/v1").andReturn(200, CORE).always();
    server.expect().get().withPath("/apis/apps/v1").andReturn(200, APPS).always();
    String url = server.url("/");
    runtime =
        new KubernetesRuntime(
            KubeApi.of(
                kubeconfig(url.substring(0, url.length() - 1), "default"), Duration.ofSeconds(10)),
            KubernetesRuntime.Options.of(Path.of("unused")),
            KubernetesRuntime.WriteMode.CREATE_OR_REPLACE);
  }

  @AfterEach
  void stop() {
    runtime.close();
  }

  private Deployment web() {
    return client.apps().deployments().inNamespace("shop").withName("web").get();
  }

  @Test
  void appliesLabelledObjectsAndRecordsThemInAnInventory() {
    assertThat(runtime.apply("shop", "r1", V1)).isEqualTo(new ApplyOutcome.Applied(3, 0));

    Deployment web = web();
    assertThat(web.getMetadata().getLabels())
        .containsEntry("app.kubernetes.io/managed-by", "edgefleet")
        .containsEntry("edgefleet.io/app", "shop");
    assertThat(web.getMetadata().getAnnotations()).containsEntry("edgefleet.io/revision", "r1");
    assertThat(web.getSpec().getTemplate().getMetadata().getLabels())
        .containsEntry("edgefleet.io/app", "shop");
    assertThat(client.namespaces().withName("shop").get().getMetadata().getLabels())
        .containsEntry("edgefleet.io/app", "shop");

    ConfigMap inventory =
        client
            .configMaps()
            .inNamespace("edgefleet-system")
            .withName("edgefleet-inventory-shop")
            .get();
    assertThat(inventory.getData().get("objects"))
        .matches(
            "v1 Namespace - shop [gr]\\d+\n"
                + "apps/v1 Deployment shop web g\\d+\n"
                + "v1 ConfigMap shop cfg [gr]\\d+\n");
    assertThat(inventory.getData()).containsEntry("revision", "r1");
    assertThat(runtime.ownedApps()).containsExactly("shop");
  }

  @Test
  void applyingTheSameAgainIsInSync() {
    runtime.apply("shop", "r1", V1);
    assertThat(runtime.apply("shop", "r1", V1)).isEqualTo(new ApplyOutcome.InSync());
    assertThat(runtime.apply("shop", "r2", V1)).isEqualTo(new ApplyOutcome.Applied(3, 0));
    assertThat(web().getMetadata().getAnnotations()).containsEntry("edgefleet.io/revision", "r2");
  }

  @Test
  void aDeletedObjectIsRecreatedByTheNextApply() {
    runtime.apply("shop", "r1", V1);
    client.apps().deployments().inNamespace("shop").withName("web").delete();
    assertThat(web()).isNull();

    assertThat(runtime.apply("shop", "r1", V1))
        .isEqualTo(
            new ApplyOutcome.Applied(
                3, 0, List.of(new DriftRepair("Deployment shop/web", DriftRepair.Cause.DELETED))));
    assertThat(web()).isNotNull();
    assertThat(runtime.apply("shop", "r1", V1)).isEqualTo(new ApplyOutcome.InSync());
  }

  @Test
  void anotherRevisionIsNeverDrift() {
    runtime.apply("shop", "r1", V1);
    client.apps().deployments().inNamespace("shop").withName("web").delete();
    // The agent's own change: whatever it puts back on the way is not reported.
    assertThat(runtime.apply("shop", "r2", V1)).isEqualTo(new ApplyOutcome.Applied(3, 0));
    assertThat(runtime.apply("shop", "r2", V2)).isEqualTo(new ApplyOutcome.Applied(2, 1));
  }

  @Test
  void anObjectEditedByHandIsRepairedByTheNextApply() {
    runtime.apply("shop", "r1", V1);
    client
        .configMaps()
        .inNamespace("shop")
        .withName("cfg")
        .edit(cm -> new ConfigMapBuilder(cm).addToData("greeting", "tampered").build());

    assertThat(runtime.apply("shop", "r1", V1))
        .isEqualTo(
            new ApplyOutcome.Applied(
                3, 0, List.of(new DriftRepair("ConfigMap shop/cfg", DriftRepair.Cause.CHANGED))));
    assertThat(client.configMaps().inNamespace("shop").withName("cfg").get().getData())
        .containsEntry("greeting", "hello");
  }

  @Test
  void prunesWhatTheNewRevisionDropsButNeverWhatItDoesNotOwn() {
    runtime.apply("shop", "r1", V1);
    client
        .configMaps()
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName("by-hand")
                .withNamespace("shop")
                .endMetadata()
                .build())
        .create();

    assertThat(runtime.apply("shop", "r2", V2)).isEqualTo(new ApplyOutcome.Applied(2, 1));
    assertThat(client.configMaps().inNamespace("shop").withName("cfg").get()).isNull();
    assertThat(client.configMaps().inNamespace("shop").withName("by-hand").get()).isNotNull();
  }

  @Test
  void doesNotPruneAnObjectThatWasRelabelledForAnotherApp() {
    runtime.apply("shop", "r1", V1);
    client
        .configMaps()
        .inNamespace("shop")
        .withName("cfg")
        .edit(
            cm ->
                new ConfigMapBuilder(cm)
                    .editMetadata()
                    .addToLabels("edgefleet.io/app", "other")
                    .endMetadata()
                    .build());

    assertThat(runtime.apply("shop", "r2", V2)).isEqualTo(new ApplyOutcome.Applied(2, 0));
    assertThat(client.configMaps().inNamespace("shop").withName("cfg").get()).isNotNull();
  }

  @Test
  void aMalformedDocumentFailsAndAppliesNothing() {
    ApplyOutcome outcome = runtime.apply("shop", "r1", V1 + "---\nkind: [\n");
    assertThat(outcome).isInstanceOf(ApplyOutcome.Failed.class);
    assertThat(((ApplyOutcome.Failed) outcome).reason()).startsWith("document 4: ");
    assertThat(web()).isNull();
    assertThat(runtime.ownedApps()).isEmpty();
  }

  @Test
  void anUnknownKindFailsAndAppliesNothing() {
    ApplyOutcome outcome =
        runtime.apply(
            "shop",
            "r1",
            V1 + "---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n");
    assertThat(outcome)
        .isEqualTo(
            new ApplyOutcome.Failed(
                "document 4: the cluster has no kind Widget in example.com/v1"));
    assertThat(web()).isNull();
  }

  @Test
  void theSameObjectTwiceIsRejected() {
    ApplyOutcome outcome =
        runtime.apply(
            "shop",
            "r1",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\n---\n"
                + "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\n");
    assertThat(outcome)
        .isEqualTo(
            new ApplyOutcome.Failed(
                "document 2: configmap a in namespace default is already in document 1"));
  }

  @Test
  void objectsWithoutNamespaceGoToTheContextsNamespace() {
    assertThat(
            runtime.apply("till", "r1", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"))
        .isEqualTo(new ApplyOutcome.Applied(1, 0));
    assertThat(client.configMaps().inNamespace("default").withName("a").get()).isNotNull();
  }

  @Test
  void createsUndeclaredNamespacesButNeverDeletesThem() {
    String yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: pos}\n";
    assertThat(runtime.apply("till", "r1", yaml)).isEqualTo(new ApplyOutcome.Applied(1, 0));
    assertThat(client.namespaces().withName("pos").get().getMetadata().getLabels())
        .containsEntry("app.kubernetes.io/managed-by", "edgefleet")
        .doesNotContainKey("edgefleet.io/app");

    assertThat(runtime.remove("till")).isEqualTo(new ApplyOutcome.Applied(0, 1));
    assertThat(client.configMaps().inNamespace("pos").withName("a").get()).isNull();
    assertThat(client.namespaces().withName("pos").get()).isNotNull();
  }

  @Test
  void removeDeletesEverythingAndIsIdempotent() {
    runtime.apply("shop", "r1", V1);
    assertThat(runtime.remove("shop")).isEqualTo(new ApplyOutcome.Applied(0, 3));
    assertThat(web()).isNull();
    assertThat(client.namespaces().withName("shop").get()).isNull();
    assertThat(runtime.ownedApps()).isEmpty();
    assertThat(runtime.remove("shop")).isEqualTo(new ApplyOutcome.InSync());
  }

  @Test
  void healthFollowsTheDeploymentAndItsPods() {
    assertThat(runtime.health("shop").state()).isEqualTo(State.MISSING);
    runtime.apply("shop", "r1", V1);
    assertThat(runtime.health("shop"))
        .isEqualTo(
            new AppHealth(State.PROGRESSING, "deployment web: waiting for the rollout to start"));

    long generation = web().getMetadata().getGeneration();
    client
        .apps()
        .deployments()
        .inNamespace("shop")
        .withName("web")
        .editStatus(
            d -> {
              d.setStatus(
                  new DeploymentStatusBuilder()
                      .withObservedGeneration(generation)
                      .withReplicas(2)
                      .withUpdatedReplicas(2)
                      .withAvailableReplicas(2)
                      .build());
              return d;
            });
    assertThat(runtime.health("shop")).isEqualTo(new AppHealth(State.READY, "all 3 objects ready"));

    client
        .pods()
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName("web-1")
                .withNamespace("shop")
                .addToLabels("edgefleet.io/app", "shop")
                .endMetadata()
                .withNewStatus()
                .addNewContainerStatus()
                .withName("web")
                .withRestartCount(3)
                .withNewState()
                .withNewWaiting()
                .withReason("CrashLoopBackOff")
                .endWaiting()
                .endState()
                .endContainerStatus()
                .endStatus()
                .build())
        .create();
    assertThat(runtime.health("shop"))
        .isEqualTo(
            new AppHealth(
                State.FAILED, "pod web-1: container web in CrashLoopBackOff (3 restarts)"));

    client.configMaps().inNamespace("shop").withName("cfg").delete();
    assertThat(runtime.health("shop").state()).isEqualTo(State.FAILED);
    client.pods().inNamespace("shop").withName("web-1").delete();
    assertThat(runtime.health("shop"))
        .isEqualTo(new AppHealth(State.MISSING, "configmap cfg is missing"));
  }

  @Test
  void invalidAppNamesAreRefused() {
    assertThat(runtime.apply("Shop_1", "r1", V1)).isInstanceOf(ApplyOutcome.Failed.class);
    assertThat(runtime.remove("-x")).isInstanceOf(ApplyOutcome.Failed.class);
    assertThat(runtime.health("a".repeat(64)).state()).isEqualTo(State.FAILED);
  }

  @Test
  void closedRuntimeRefusesCalls() {
    runtime.close();
    runtime.close();
    assertThatThrownBy(() -> runtime.ownedApps()).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void anUnreachableClusterMeansRetryLater() throws IOException {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    KubeApi nowhere =
        KubeApi.of(kubeconfig("https://127.0.0.1:" + port, "default"), Duration.ofSeconds(2));
    try (KubernetesRuntime offline =
        new KubernetesRuntime(
            nowhere,
            KubernetesRuntime.Options.of(Path.of("unused")),
            KubernetesRuntime.WriteMode.SERVER_SIDE_APPLY)) {
      ApplyOutcome outcome = offline.apply("shop", "r1", V1);
      assertThat(outcome).isInstanceOf(ApplyOutcome.RetryAfter.class);
      ApplyOutcome.RetryAfter retry = (ApplyOutcome.RetryAfter) outcome;
      assertThat(retry.delay()).isEqualTo(Duration.ofSeconds(15));
      assertThat(retry.reason()).startsWith("discover kinds: API server unreachable (");
      assertThatThrownBy(offline::ownedApps).isInstanceOf(RuntimeUnavailableException.class);
      assertThatThrownBy(() -> offline.health("shop"))
          .isInstanceOf(RuntimeUnavailableException.class);
    }
  }

  @Test
  void aMissingOrUnreadableKubeconfigIsAClearError(@TempDir Path dir) throws IOException {
    assertThatThrownBy(() -> new KubernetesRuntime(dir.resolve("k3s.yaml")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("does not exist");
    Path garbage = Files.writeString(dir.resolve("bad.yaml"), "clusters: 7\n");
    assertThatThrownBy(() -> new KubernetesRuntime(garbage))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not a usable kubeconfig");
  }

  @Test
  void concurrentCallsForOneAppAreSerialized() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<ApplyOutcome>> outcomes = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        outcomes.add(pool.submit(() -> runtime.apply("shop", "r1", V1)));
      }
      List<ApplyOutcome> done = new ArrayList<>();
      for (Future<ApplyOutcome> f : outcomes) {
        done.add(f.get(30, TimeUnit.SECONDS));
      }
      // Exactly one of them applied; the others, serialized behind it, found everything in sync.
      assertThat(done).containsOnlyOnce(new ApplyOutcome.Applied(3, 0));
      assertThat(done).filteredOn(o -> o instanceof ApplyOutcome.InSync).hasSize(3);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void ownedAppsListsEveryInventory() {
    runtime.apply("shop", "r1", V1);
    runtime.apply("till", "r1", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: t}\n");
    assertThat(runtime.ownedApps()).isEqualTo(Set.of("shop", "till"));
  }

  /**
   * Members of one K3s cluster share its API server and so its inventories: a member that did not
   * apply an app (a cluster-scoped app applied by another member) must not count it as its own, or
   * its reconcile prunes it while the applier puts it back, forever.
   */
  @Test
  void aMemberPrunesOnlyWhatItAppliedItself() {
    String url = server.url("/");
    java.util.function.Function<String, KubernetesRuntime> member =
        id ->
            new KubernetesRuntime(
                KubeApi.of(
                    kubeconfig(url.substring(0, url.length() - 1), "default"),
                    Duration.ofSeconds(10)),
                KubernetesRuntime.Options.of(Path.of("unused")).withWriter(() -> id),
                KubernetesRuntime.WriteMode.CREATE_OR_REPLACE);
    try (KubernetesRuntime applier = member.apply("dev-a");
        KubernetesRuntime other = member.apply("dev-b")) {
      assertThat(applier.apply("shop", "r1", V1)).isEqualTo(new ApplyOutcome.Applied(3, 0));
      assertThat(
              client
                  .configMaps()
                  .inNamespace("edgefleet-system")
                  .withName("edgefleet-inventory-shop")
                  .get()
                  .getMetadata()
                  .getLabels())
          .containsEntry("edgefleet.io/applied-by", "dev-a");
      assertThat(applier.ownedApps()).containsExactly("shop");
      assertThat(other.ownedApps()).isEmpty();
      // A runtime that does not know its device (and inventories of older agents) sees them all.
      assertThat(runtime.ownedApps()).containsExactly("shop");

      // The other member takes over applying it: the inventory is its own now.
      assertThat(other.apply("shop", "r1", V1)).isInstanceOf(ApplyOutcome.class);
      assertThat(other.ownedApps()).containsExactly("shop");
      assertThat(applier.ownedApps()).isEmpty();
      assertThat(web()).isNotNull();
    }
  }
}
