package io.edgefleet.agent.command;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.RuntimeUnavailableException;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RuntimesTest {
  @TempDir Path dir;

  private static final String KUBECONFIG =
      """
      current-context: c
      contexts: [{name: c, context: {cluster: x, user: u}}]
      clusters: [{name: x, cluster: {server: "https://127.0.0.1:9", insecure-skip-tls-verify: true}}]
      users: [{name: u, user: {token: t}}]
      """;

  /**
   * A device that becomes a K3s member runs with {@code --runtime auto} before its node has written
   * the kubeconfig: the runtime must become Kubernetes once it appears, without an agent restart.
   */
  @Test
  void autoBecomesKubernetesWhenTheKubeconfigAppearsLater() throws Exception {
    Path kubeconfig = dir.resolve("k3s.yaml");
    try (WorkloadRuntime runtime =
        Runtimes.create("auto", kubeconfig, "edgefleet-system", () -> "dev-1")) {
      ApplyOutcome before = runtime.apply("web", "1", "kind: ConfigMap\n");
      assertThat(before).isInstanceOf(ApplyOutcome.Failed.class);
      assertThat(((ApplyOutcome.Failed) before).reason())
          .contains("no workload runtime on this node")
          .contains(kubeconfig.toString());
      assertThat(runtime.ownedApps()).isEmpty();
      assertThat(runtime.cluster()).isEmpty();
      assertThat(runtime.secrets()).isPresent();
      assertThatThrownBy(() -> runtime.secrets().orElseThrow().held())
          .isInstanceOf(RuntimeUnavailableException.class)
          .hasMessageContaining("no kubeconfig at " + kubeconfig);

      Files.writeString(kubeconfig, KUBECONFIG);

      // Now the Kubernetes runtime answers: its API server (nothing listens on port 9) is
      // unreachable, which only a Kubernetes runtime can find out.
      assertThatThrownBy(runtime::ownedApps)
          .isInstanceOf(RuntimeUnavailableException.class)
          .hasMessageNotContaining("no kubeconfig");
      assertThatThrownBy(() -> runtime.secrets().orElseThrow().put("ns", "s", 1, Map.of()))
          .isInstanceOf(RuntimeUnavailableException.class)
          .hasMessageNotContaining("no kubeconfig");
    }
  }

  @Test
  void autoWaitsThroughAnUnusableKubeconfigAndSaysWhy() throws Exception {
    Path kubeconfig = dir.resolve("k3s.yaml");
    Files.writeString(kubeconfig, "kind: Config\n");
    try (WorkloadRuntime runtime =
        Runtimes.create("auto", kubeconfig, "edgefleet-system", () -> "dev-1")) {
      ApplyOutcome.Failed failed =
          (ApplyOutcome.Failed) runtime.apply("web", "1", "kind: ConfigMap\n");
      assertThat(failed.reason()).contains("no current-context");
      Files.writeString(kubeconfig, KUBECONFIG);
      assertThatThrownBy(runtime::ownedApps).isInstanceOf(RuntimeUnavailableException.class);
    }
  }

  @Test
  void noneStaysWithoutAndKubernetesNeedsTheKubeconfigAtOnce() {
    Path kubeconfig = dir.resolve("k3s.yaml");
    try (WorkloadRuntime none =
        Runtimes.create("none", kubeconfig, "edgefleet-system", () -> "dev-1")) {
      assertThat(none.secrets()).isEmpty();
    }
    assertThatThrownBy(
            () -> Runtimes.create("kubernetes", kubeconfig, "edgefleet-system", () -> "dev-1"))
        .hasMessageContaining("cannot read the kubeconfig");
  }

  private static final io.edgefleet.agent.runtime.container.ContainerRuntime.Options NO_PODMAN =
      io.edgefleet.agent.runtime.container.ContainerRuntime.Options.defaults()
          .withCommand("/nonexistent/podman");

  @Test
  void withoutPodmanAutoKeepsKubernetesAloneAndSaysSoInItsKinds() {
    Path kubeconfig = dir.resolve("k3s.yaml");
    try (WorkloadRuntime runtime =
        Runtimes.create(
            "auto",
            kubeconfig,
            "edgefleet-system",
            () -> "dev-1",
            "auto",
            NO_PODMAN,
            io.edgefleet.agent.runtime.Blobs.NONE)) {
      assertThat(runtime.workloadKinds()).containsExactly("kubernetes");
      ApplyOutcome.Failed container =
          (ApplyOutcome.Failed)
              runtime.apply(
                  "web",
                  "1",
                  "apiVersion: edgefleet.io/v1\nkind: Container\nmetadata: {name: web}\n"
                      + "spec: {image: sha256:"
                      + "a".repeat(64)
                      + "}\n");
      assertThat(container.reason()).contains("this node has no container runtime");
      // Kubernetes apps still reach the Kubernetes runtime, which waits for its kubeconfig.
      assertThat(((ApplyOutcome.Failed) runtime.apply("web", "1", "kind: ConfigMap\n")).reason())
          .contains("no kubeconfig at " + kubeconfig);
    }
  }

  @Test
  void podmanIsRequiredWhenAskedForAndUnknownKindsAreRefused() {
    Path kubeconfig = dir.resolve("k3s.yaml");
    assertThatThrownBy(
            () ->
                Runtimes.create(
                    "auto",
                    kubeconfig,
                    "ns",
                    () -> "d",
                    "podman",
                    NO_PODMAN,
                    io.edgefleet.agent.runtime.Blobs.NONE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--container-runtime podman: /nonexistent/podman does not answer");
    assertThatThrownBy(
            () ->
                Runtimes.create(
                    "auto",
                    kubeconfig,
                    "ns",
                    () -> "d",
                    "docker",
                    NO_PODMAN,
                    io.edgefleet.agent.runtime.Blobs.NONE))
        .hasMessageContaining("--container-runtime must be podman, none or auto");
    try (WorkloadRuntime none =
        Runtimes.create(
            "none",
            kubeconfig,
            "ns",
            () -> "d",
            "none",
            NO_PODMAN,
            io.edgefleet.agent.runtime.Blobs.NONE)) {
      assertThat(none.workloadKinds()).isEmpty();
      assertThat(((ApplyOutcome.Failed) none.apply("web", "1", "kind: ConfigMap\n")).reason())
          .contains("started with --runtime none");
    }
  }

  @Test
  void withPodmanTheNodeRunsBothKinds() {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        io.edgefleet.agent.runtime.container.ContainerRuntime.available(
            io.edgefleet.agent.runtime.container.ContainerRuntime.Options.defaults()),
        "podman is installed where the build runs");
    try (WorkloadRuntime runtime =
        Runtimes.create(
            "auto",
            dir.resolve("k3s.yaml"),
            "ns",
            () -> "d",
            "auto",
            io.edgefleet.agent.runtime.container.ContainerRuntime.Options.defaults(),
            io.edgefleet.agent.runtime.Blobs.NONE)) {
      assertThat(runtime.workloadKinds()).containsExactly("kubernetes", "container");
    }
  }

  @Test
  void theVmRuntimeIsQemuWhenInstalledAndNoneWhenAskedOrAbsent() {
    assertThat(Runtimes.vm("none", dir.resolve("vms"), io.edgefleet.agent.runtime.Blobs.NONE))
        .isEmpty();
    boolean qemu = io.edgefleet.agent.runtime.vm.VmRuntime.qemuBinary().isPresent();
    java.util.Optional<WorkloadRuntime> auto =
        Runtimes.vm("auto", dir.resolve("vms"), io.edgefleet.agent.runtime.Blobs.NONE);
    assertThat(auto.isPresent()).isEqualTo(qemu);
    auto.ifPresent(r -> assertThat(r).isInstanceOf(io.edgefleet.agent.runtime.vm.VmRuntime.class));
    assertThatThrownBy(
            () -> Runtimes.vm("kvm", dir.resolve("vms"), io.edgefleet.agent.runtime.Blobs.NONE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("--vm-runtime must be auto, qemu or none, got kvm");
  }
}
