package io.edgefleet.e2e.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.AppHealth.State;
import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.DriftRepair;
import io.edgefleet.agent.runtime.DriftRepair.Cause;
import io.edgefleet.agent.runtime.kubernetes.KubernetesRuntime;
import io.edgefleet.testkit.kube.KubeCluster;
import io.edgefleet.testkit.kube.KubeletStandIn;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ManagedFieldsEntry;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Kubernetes runtime against a real kube-apiserver (with kube-controller-manager): the local
 * one of the testkit, or the cluster named by {@code EDGEFLEET_IT_KUBECONFIG}. On the local one a
 * kubelet stand-in makes pods Ready, except images tagged {@code never-ready} (stay unready) and
 * {@code crash} (CrashLoopBackOff).
 */
class KubernetesRuntimeIT {
  private static final Duration ROLLOUT = Duration.ofSeconds(90);

  private final KubeCluster cluster = KubeCluster.shared();
  private final KubernetesClient kube = cluster.client();
  private KubernetesRuntime runtime;
  private String app;
  private String ns;

  @BeforeEach
  void start() {
    runtime = new KubernetesRuntime(cluster.kubeconfig());
    app = "it-" + Long.toString(ThreadLocalRandom.current().nextLong(1L << 40), 36);
    ns = cluster.newNamespace("rt");
  }

  @AfterEach
  void stop() {
    runtime.remove(app);
    runtime.close();
  }

  private String image(String tag) {
    return "registry.example/edgefleet/web:" + tag;
  }

  private String deployment(String image, String extraSpec) {
    return """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: %s}
        spec:
          replicas: 2
          %s
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - name: web
                image: %s
        """
        .formatted(ns, extraSpec, image);
  }

  private String service() {
    return """
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: %s}
        spec:
          selector: {app: web}
          # protocol explicit: server-side apply of ports without it fails on Kubernetes 1.20
          ports: [{port: 80, targetPort: 8080, protocol: TCP}]
        """
        .formatted(ns);
  }

  private String configMap() {
    return """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: web-config, namespace: %s}
        data: {greeting: hello}
        """
        .formatted(ns);
  }

  private Deployment web() {
    return kube.apps().deployments().inNamespace(ns).withName("web").get();
  }

  private AppHealth awaitHealth(State state) {
    AtomicReference<AppHealth> last = new AtomicReference<>();
    await()
        .atMost(ROLLOUT)
        .pollInterval(Duration.ofMillis(500))
        .untilAsserted(
            () -> {
              last.set(runtime.health(app));
              assertThat(last.get().state()).as(last.get().reason()).isEqualTo(state);
            });
    return last.get();
  }

  @Test
  void appliesRepairsPrunesAndRemoves() {
    String v1 = deployment(image("1.0"), "") + "---\n" + service() + "---\n" + configMap();

    // Apply: every object exists, labelled, applied by the edgefleet field manager.
    assertThat(runtime.apply(app, "r1", v1)).isEqualTo(new ApplyOutcome.Applied(3, 0));
    Deployment web = web();
    assertThat(web.getMetadata().getLabels())
        .containsEntry("app.kubernetes.io/managed-by", "edgefleet")
        .containsEntry("edgefleet.io/app", app);
    assertThat(web.getMetadata().getAnnotations()).containsEntry("edgefleet.io/revision", "r1");
    assertThat(web.getMetadata().getManagedFields())
        .anySatisfy(
            (ManagedFieldsEntry f) -> {
              assertThat(f.getManager()).isEqualTo("edgefleet");
              assertThat(f.getOperation()).isEqualTo("Apply");
            });
    assertThat(kube.services().inNamespace(ns).withName("web").get().getMetadata().getLabels())
        .containsEntry("edgefleet.io/app", app);
    assertThat(kube.configMaps().inNamespace(ns).withName("web-config").get()).isNotNull();
    assertThat(runtime.ownedApps()).contains(app);

    AppHealth ready = awaitHealth(State.READY);
    assertThat(ready.reason()).isEqualTo("all 3 objects ready");

    // The same again changes nothing.
    assertThat(runtime.apply(app, "r1", v1)).isEqualTo(new ApplyOutcome.InSync());

    // Deleted by hand: the next apply brings it back.
    kube.apps().deployments().inNamespace(ns).withName("web").delete();
    await().atMost(Duration.ofSeconds(30)).until(() -> web() == null);
    assertThat(runtime.health(app).state()).isEqualTo(State.MISSING);
    assertThat(runtime.apply(app, "r1", v1))
        .isEqualTo(
            new ApplyOutcome.Applied(
                3, 0, List.of(new DriftRepair("Deployment " + ns + "/web", Cause.DELETED))));
    assertThat(web()).isNotNull();
    assertThat(runtime.apply(app, "r1", v1)).isEqualTo(new ApplyOutcome.InSync());

    // A revision without the ConfigMap prunes it, but not a ConfigMap someone made by hand.
    kube.configMaps()
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName("made-by-hand")
                .withNamespace(ns)
                .endMetadata()
                .addToData("k", "v")
                .build())
        .create();
    String v2 = deployment(image("1.0"), "") + "---\n" + service();
    assertThat(runtime.apply(app, "r2", v2)).isEqualTo(new ApplyOutcome.Applied(2, 1));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> kube.configMaps().inNamespace(ns).withName("web-config").get() == null);
    assertThat(kube.configMaps().inNamespace(ns).withName("made-by-hand").get()).isNotNull();
    assertThat(web().getMetadata().getAnnotations()).containsEntry("edgefleet.io/revision", "r2");

    // Remove: everything the app owned goes, the rest stays.
    assertThat(runtime.remove(app)).isEqualTo(new ApplyOutcome.Applied(0, 2));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> web() == null && kube.services().inNamespace(ns).withName("web").get() == null);
    assertThat(kube.configMaps().inNamespace(ns).withName("made-by-hand").get()).isNotNull();
    assertThat(runtime.ownedApps()).doesNotContain(app);
    assertThat(runtime.health(app).state()).isEqualTo(State.MISSING);
    assertThat(runtime.remove(app)).isEqualTo(new ApplyOutcome.InSync());
  }

  @Test
  void reportsWhatOthersChangedAmongItsFieldsButNotTheirOwnFieldsNorItsOwnChanges() {
    String v1 = deployment(image("1.0"), "") + "---\n" + configMap();
    assertThat(runtime.apply(app, "r1", v1)).isEqualTo(new ApplyOutcome.Applied(2, 0));
    // The controllers write the Deployment's status and revision annotation: not drift.
    awaitHealth(State.READY);
    assertThat(runtime.apply(app, "r1", v1)).isEqualTo(new ApplyOutcome.InSync());

    // Someone adds an annotation of their own: the ConfigMap's version moves, so it is written
    // again, but no field edgefleet manages changed.
    kube.configMaps()
        .inNamespace(ns)
        .withName("web-config")
        .edit(
            c ->
                new ConfigMapBuilder(c)
                    .editMetadata()
                    .addToAnnotations("note", "x")
                    .endMetadata()
                    .build());
    assertThat(runtime.apply(app, "r1", v1)).isEqualTo(new ApplyOutcome.Applied(2, 0));
    assertThat(runtime.apply(app, "r1", v1)).isEqualTo(new ApplyOutcome.InSync());
    assertThat(
            kube.configMaps()
                .inNamespace(ns)
                .withName("web-config")
                .get()
                .getMetadata()
                .getAnnotations())
        .containsEntry("note", "x");

    // A managed value edited by hand: put back, and reported.
    kube.configMaps()
        .inNamespace(ns)
        .withName("web-config")
        .edit(c -> new ConfigMapBuilder(c).addToData("greeting", "tampered").build());
    assertThat(runtime.apply(app, "r1", v1))
        .isEqualTo(
            new ApplyOutcome.Applied(
                2, 0, List.of(new DriftRepair("ConfigMap " + ns + "/web-config", Cause.CHANGED))));
    assertThat(kube.configMaps().inNamespace(ns).withName("web-config").get().getData())
        .containsEntry("greeting", "hello");
    assertThat(runtime.apply(app, "r1", v1)).isEqualTo(new ApplyOutcome.InSync());

    // A managed label removed from the Deployment: its generation does not move, the fields do.
    kube.apps()
        .deployments()
        .inNamespace(ns)
        .withName("web")
        .edit(
            d ->
                new DeploymentBuilder(d)
                    .editMetadata()
                    .removeFromLabels("app.kubernetes.io/managed-by")
                    .endMetadata()
                    .build());
    assertThat(runtime.apply(app, "r1", v1))
        .isEqualTo(
            new ApplyOutcome.Applied(
                2, 0, List.of(new DriftRepair("Deployment " + ns + "/web", Cause.CHANGED))));
    assertThat(web().getMetadata().getLabels())
        .containsEntry("app.kubernetes.io/managed-by", "edgefleet");

    // Scaled by hand: spec.replicas is edgefleet's, so it goes back to 2, reported.
    kube.apps().deployments().inNamespace(ns).withName("web").scale(5);
    assertThat(runtime.apply(app, "r1", v1))
        .isEqualTo(
            new ApplyOutcome.Applied(
                2, 0, List.of(new DriftRepair("Deployment " + ns + "/web", Cause.CHANGED))));
    assertThat(web().getSpec().getReplicas()).isEqualTo(2);

    // The agent's own change: a new revision, with an object deleted meanwhile, is not drift.
    kube.configMaps().inNamespace(ns).withName("web-config").delete();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> kube.configMaps().inNamespace(ns).withName("web-config").get() == null);
    assertThat(runtime.apply(app, "r2", v1)).isEqualTo(new ApplyOutcome.Applied(2, 0));
    assertThat(runtime.apply(app, "r2", v1)).isEqualTo(new ApplyOutcome.InSync());
  }

  @Test
  void aDeploymentThatNeverBecomesReadyProgressesThenFails() {
    String yaml = deployment(image(KubeletStandIn.TAG_NEVER_READY), "progressDeadlineSeconds: 5");
    assertThat(runtime.apply(app, "r1", yaml)).isEqualTo(new ApplyOutcome.Applied(1, 0));
    assertThat(runtime.health(app).state()).isEqualTo(State.PROGRESSING);

    AppHealth failed = awaitHealth(State.FAILED);
    assertThat(failed.reason()).startsWith("deployment web: progress deadline exceeded");
  }

  @Test
  void aCrashLoopingPodFailsTheApp() {
    String yaml =
        cluster.local()
            ? deployment(image(KubeletStandIn.TAG_CRASH), "")
            : deployment("busybox:1.36", "")
                .replace(
                    "image: busybox:1.36", "image: busybox:1.36\n          command: [\"false\"]");
    assertThat(runtime.apply(app, "r1", yaml)).isEqualTo(new ApplyOutcome.Applied(1, 0));

    AppHealth failed = awaitHealth(State.FAILED);
    assertThat(failed.reason()).contains("container web in CrashLoopBackOff");
  }

  @Test
  void appliesACustomResourceDefinitionAndItsResourcesTogether() {
    String group = app + ".edgefleet.test";
    String yaml =
        """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: widgets.%1$s}
        spec:
          group: %1$s
          scope: Namespaced
          names: {plural: widgets, singular: widget, kind: Widget}
          versions:
          - name: v1
            served: true
            storage: true
            schema:
              openAPIV3Schema:
                type: object
                properties:
                  spec: {type: object, properties: {size: {type: integer}}}
        ---
        apiVersion: %1$s/v1
        kind: Widget
        metadata: {name: w1, namespace: %2$s}
        spec: {size: 3}
        """
            .formatted(group, ns);

    // The first apply may find the new kind not served yet: it asks to be retried shortly.
    AtomicReference<ApplyOutcome> outcome = new AtomicReference<>();
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofSeconds(1))
        .until(
            () -> {
              outcome.set(runtime.apply(app, "r1", yaml));
              return !(outcome.get() instanceof ApplyOutcome.RetryAfter);
            });
    assertThat(outcome.get()).isEqualTo(new ApplyOutcome.Applied(2, 0));
    ResourceDefinitionContext widgets =
        new ResourceDefinitionContext.Builder()
            .withGroup(group)
            .withVersion("v1")
            .withKind("Widget")
            .withPlural("widgets")
            .withNamespaced(true)
            .build();
    GenericKubernetesResource w1 =
        kube.genericKubernetesResources(widgets).inNamespace(ns).withName("w1").get();
    assertThat(w1.getMetadata().getLabels()).containsEntry("edgefleet.io/app", app);
    assertThat(runtime.apply(app, "r1", yaml)).isEqualTo(new ApplyOutcome.InSync());
    assertThat(runtime.health(app).state()).isEqualTo(State.READY);

    assertThat(runtime.remove(app)).isEqualTo(new ApplyOutcome.Applied(0, 2));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                kube.apiextensions()
                        .v1()
                        .customResourceDefinitions()
                        .withName("widgets." + group)
                        .get()
                    == null);
  }

  @Test
  void statefulSetsDaemonSetsAndJobsBecomeReady() {
    String yaml =
        """
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: db, namespace: %1$s}
        spec:
          replicas: 2
          serviceName: db
          selector: {matchLabels: {app: db}}
          template:
            metadata: {labels: {app: db}}
            spec: {containers: [{name: db, image: %2$s}]}
        ---
        apiVersion: apps/v1
        kind: DaemonSet
        metadata: {name: probe, namespace: %1$s}
        spec:
          selector: {matchLabels: {app: probe}}
          template:
            metadata: {labels: {app: probe}}
            spec: {containers: [{name: probe, image: %2$s}]}
        ---
        apiVersion: batch/v1
        kind: Job
        metadata: {name: migrate, namespace: %1$s}
        spec:
          backoffLimit: 0
          template:
            spec:
              restartPolicy: Never
              containers: [{name: migrate, image: %3$s, command: ["true"]}]
        """
            .formatted(ns, image("1.0"), cluster.local() ? image("1.0") : "busybox:1.36");
    assertThat(runtime.apply(app, "r1", yaml)).isEqualTo(new ApplyOutcome.Applied(3, 0));
    assertThat(awaitHealth(State.READY).reason()).isEqualTo("all 3 objects ready");
  }

  @Test
  void aFailedJobFailsTheApp() {
    String yaml =
        """
        apiVersion: batch/v1
        kind: Job
        metadata: {name: migrate, namespace: %s}
        spec:
          backoffLimit: 0
          template:
            spec:
              restartPolicy: Never
              containers: [{name: migrate, image: %s, command: ["false"]}]
        """
            .formatted(ns, cluster.local() ? image(KubeletStandIn.TAG_FAIL) : "busybox:1.36");
    assertThat(runtime.apply(app, "r1", yaml)).isEqualTo(new ApplyOutcome.Applied(1, 0));
    assertThat(awaitHealth(State.FAILED).reason()).startsWith("job migrate: failed");
  }

  @Test
  void objectsTheApiServerRejectsFailWithItsReason() {
    String invalid =
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: broken, namespace: %s}
        spec:
          template:
            spec: {containers: [{name: c, image: x}]}
        """
            .formatted(ns);
    ApplyOutcome outcome = runtime.apply(app, "r1", invalid);
    assertThat(outcome).isInstanceOf(ApplyOutcome.Failed.class);
    assertThat(((ApplyOutcome.Failed) outcome).reason())
        .startsWith("apply deployment broken (document 1): ")
        .contains("spec.selector")
        .contains("HTTP 422");

    ApplyOutcome unknown =
        runtime.apply(
            app, "r1", "apiVersion: nowhere.example/v1\nkind: Thing\nmetadata: {name: t}\n");
    assertThat(unknown)
        .isEqualTo(
            new ApplyOutcome.Failed(
                "document 1: the cluster has no kind Thing in nowhere.example/v1"));
  }

  @Test
  void createsAMissingNamespaceAndKeepsItOnRemove() {
    String other = ns + "-extra";
    String yaml =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: %s}\n".formatted(other);
    try {
      assertThat(runtime.apply(app, "r1", yaml)).isEqualTo(new ApplyOutcome.Applied(1, 0));
      assertThat(kube.namespaces().withName(other).get().getMetadata().getLabels())
          .containsEntry("app.kubernetes.io/managed-by", "edgefleet");
      assertThat(runtime.remove(app)).isEqualTo(new ApplyOutcome.Applied(0, 1));
      assertThat(kube.namespaces().withName(other).get()).isNotNull();
    } finally {
      kube.namespaces().withName(other).delete();
    }
  }
}
