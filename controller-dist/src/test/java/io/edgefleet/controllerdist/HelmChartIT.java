package io.edgefleet.controllerdist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import io.edgefleet.testkit.kube.KubeCluster;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Helm chart under deploy/helm: real Helm lints and renders it, and the real kube-apiserver of
 * the test cluster accepts every rendered object in a server-side dry run (schema, defaults and
 * admission, nothing stored).
 */
class HelmChartIT {
  private static final Path CHART =
      Path.of(System.getProperty("controller.chart.dir", "../deploy/helm/edgefleet-controller"));
  private static final KubeCluster KUBE = KubeCluster.shared();
  private static String namespace;
  private static String kubeVersion;
  private final KubernetesClient kube = KUBE.client();

  @BeforeAll
  static void namespace() {
    namespace = KUBE.newNamespace("chart");
    kubeVersion = KUBE.client().getKubernetesVersion().getGitVersion();
  }

  @AfterAll
  static void deleteNamespace() {
    if (namespace != null) {
      KUBE.deleteNamespace(namespace);
    }
  }

  @Test
  void chartPassesLint() {
    LintResult lint = new Helm(CHART).lint().strict().call();
    assertThat(lint.isFailed()).as("helm lint: %s", lint.getMessages()).isFalse();
  }

  @Test
  void defaultValuesRenderOneReplicaOnAVolumeAndTheServerAcceptsThem() {
    List<HasMetadata> objects = render(t -> t);
    assertThat(kinds(objects)).containsExactly("PersistentVolumeClaim", "Service", "Deployment");
    Deployment d = deployment(objects);
    assertThat(d.getSpec().getReplicas()).isEqualTo(1);
    assertThat(d.getSpec().getStrategy().getType()).isEqualTo("Recreate");
    var pod = d.getSpec().getTemplate().getSpec();
    var container = pod.getContainers().get(0);
    assertThat(container.getImage()).isEqualTo("edgefleet-controller:0.1.0-snapshot");
    assertThat(container.getArgs())
        .contains(
            "--listen=0.0.0.0:7443", "--tls-san=efc-edgefleet-controller." + namespace + ".svc")
        .noneMatch(
            a ->
                a.startsWith("--database-url")
                    || a.startsWith("--s3-")
                    || a.startsWith("--replica-url"));
    assertThat(container.getLivenessProbe().getHttpGet().getScheme()).isEqualTo("HTTPS");
    assertThat(container.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/healthz");
    assertThat(container.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
    assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
    assertThat(pod.getSecurityContext().getRunAsUser()).isEqualTo(10001L);
    assertThat(pod.getVolumes())
        .anyMatch(v -> v.getName().equals("data") && v.getPersistentVolumeClaim() != null);
    assertDryRunAccepts(objects);
  }

  @Test
  void threeReplicasWithPostgresqlAndS3RenderAndTheServerAcceptsThem() {
    List<HasMetadata> objects =
        render(
            t ->
                t.set("replicas", 3)
                    .set("database.url", "jdbc:postgresql://postgres.db.svc:5432/edgefleet")
                    .set("database.user", "edgefleet")
                    .set("database.password", "pg-s3cret")
                    .set("s3.endpoint", "https://minio.storage.svc:9000")
                    .set("s3.bucket", "edgefleet-artifacts")
                    .set("s3.accessKeyId", "AKIAEXAMPLE")
                    .set("s3.secretAccessKey", "s3-s3cret")
                    .set("persistence.accessMode", "ReadWriteMany")
                    .set("advertiseUrl", "https://edgefleet.example.com:7443")
                    .set("tlsNames[0]", "edgefleet.example.com"));
    assertThat(kinds(objects))
        .containsExactlyInAnyOrder(
            "Secret",
            "Secret",
            "PersistentVolumeClaim",
            "Service",
            "Deployment",
            "PodDisruptionBudget");
    Deployment d = deployment(objects);
    assertThat(d.getSpec().getReplicas()).isEqualTo(3);
    var container = d.getSpec().getTemplate().getSpec().getContainers().get(0);
    assertThat(container.getArgs())
        .contains(
            "--database-url=jdbc:postgresql://postgres.db.svc:5432/edgefleet",
            "--s3-endpoint=https://minio.storage.svc:9000",
            "--s3-bucket=edgefleet-artifacts",
            "--advertise-url=https://edgefleet.example.com:7443",
            "--tls-san=edgefleet.example.com",
            "--replica-url=https://$(EDGEFLEET_POD_IP):7443");
    assertThat(container.getEnv().stream().map(EnvVar::getName))
        .containsExactlyInAnyOrder(
            "EDGEFLEET_POD_IP",
            "EDGEFLEET_DATABASE_USER",
            "EDGEFLEET_DATABASE_PASSWORD",
            "EDGEFLEET_S3_ACCESS_KEY_ID",
            "EDGEFLEET_S3_SECRET_ACCESS_KEY");
    // The secrets come from Secrets, never from the pod spec.
    assertThat(container.getEnv()).allMatch(e -> e.getValue() == null && e.getValueFrom() != null);
    assertDryRunAccepts(objects);
  }

  @Test
  void valuesThatCannotWorkAreRefusedWithWhatToSet() {
    assertThatThrownBy(() -> render(t -> t.set("replicas", 2)))
        .hasMessageContaining("set database.url to PostgreSQL");
    assertThatThrownBy(
            () ->
                render(
                    t ->
                        t.set("replicas", 2)
                            .set("database.url", "jdbc:postgresql://db:5432/e")
                            .set("database.existingSecret", "db")
                            .set("s3.endpoint", "https://s3.example.com")
                            .set("s3.bucket", "b")
                            .set("s3.existingSecret", "s3")))
        .hasMessageContaining("persistence.accessMode=ReadWriteMany");
    assertThatThrownBy(() -> render(t -> t.set("database.url", "jdbc:mysql://db/e")))
        .hasMessageContaining("must be a PostgreSQL JDBC URL");
    assertThatThrownBy(() -> render(t -> t.set("s3.endpoint", "https://s3.example.com")))
        .hasMessageContaining("s3.endpoint needs s3.bucket");
  }

  private List<HasMetadata> render(UnaryOperator<TemplateCommand> values) {
    String yaml =
        values
            .apply(
                new Helm(CHART)
                    .template()
                    .withName("efc")
                    .withNamespace(namespace)
                    .withKubeVersion(kubeVersion))
            .call();
    return kube.load(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8))).items();
  }

  /** Every object created with dryRun=All: the server validates and admits it, stores nothing. */
  private void assertDryRunAccepts(List<HasMetadata> objects) {
    for (HasMetadata o : objects) {
      HasMetadata accepted = kube.resource(o).inNamespace(namespace).dryRun().create();
      assertThat(accepted.getMetadata().getName()).isEqualTo(o.getMetadata().getName());
      assertThat(accepted.getKind()).isEqualTo(o.getKind());
      // Nothing was stored.
      assertThat(kube.resource(o).inNamespace(namespace).get()).isNull();
    }
  }

  private static List<String> kinds(List<HasMetadata> objects) {
    return objects.stream().map(HasMetadata::getKind).toList();
  }

  private static Deployment deployment(List<HasMetadata> objects) {
    return objects.stream()
        .filter(Deployment.class::isInstance)
        .map(Deployment.class::cast)
        .findFirst()
        .orElseThrow();
  }
}
