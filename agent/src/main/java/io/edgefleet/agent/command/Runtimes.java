package io.edgefleet.agent.command;

import io.edgefleet.agent.runtime.Blobs;
import io.edgefleet.agent.runtime.DeferredRuntime;
import io.edgefleet.agent.runtime.NoRuntime;
import io.edgefleet.agent.runtime.RuntimeRouter;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.agent.runtime.container.ContainerRuntime;
import io.edgefleet.agent.runtime.kubernetes.KubernetesRuntime;
import io.edgefleet.protocol.DeviceFacts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/** Chooses the node's workload runtime from the agent's options. */
public final class Runtimes {
  private Runtimes() {}

  /**
   * @param kind {@code kubernetes}, {@code none}, or {@code auto} (Kubernetes once the kubeconfig
   *     exists: it may appear later, written by the K3s node the agent starts)
   */
  public static WorkloadRuntime create(String kind, Path kubeconfig) {
    return create(kind, kubeconfig, "edgefleet-system", () -> null);
  }

  /**
   * @param inventoryNamespace where the Kubernetes runtime keeps app inventories
   * @param device this device's id, null until it is enrolled: the inventories it writes carry it
   */
  public static WorkloadRuntime create(
      String kind, Path kubeconfig, String inventoryNamespace, Supplier<String> device) {
    return switch (kind) {
      case "none" -> new NoRuntime("started with --runtime none");
      case "auto" ->
          // The kubeconfig may appear (or become whole) later: K3s writes it once it runs.
          new DeferredRuntime(
              () ->
                  Files.isReadable(kubeconfig)
                      ? Optional.of(kubernetes(kubeconfig, inventoryNamespace, device))
                      : Optional.empty(),
              () ->
                  Files.isReadable(kubeconfig)
                      ? "the node's Kubernetes cannot be used yet"
                      : "no kubeconfig at " + kubeconfig + " (use --kubeconfig)");
      case "kubernetes" -> {
        if (!Files.isReadable(kubeconfig)) {
          throw new IllegalArgumentException(
              "--runtime kubernetes: cannot read the kubeconfig "
                  + kubeconfig
                  + " (use --kubeconfig)");
        }
        yield kubernetes(kubeconfig, inventoryNamespace, device);
      }
      default ->
          throw new IllegalArgumentException(
              "--runtime must be kubernetes, none or auto, got " + kind);
    };
  }

  /**
   * The node's runtimes behind one {@link RuntimeRouter}: Kubernetes as {@link #create(String,
   * Path, String, Supplier)} makes it (unless {@code kind} is {@code none}), and the container
   * runtime as {@code containerKind} says.
   *
   * @param containerKind {@code podman} (podman must answer now), {@code none}, or {@code auto}
   *     (podman when it is installed; it is asked only when it is used)
   * @param blobs where the container runtime finds the images its workloads name
   * @throws IllegalArgumentException for an unknown kind, or {@code podman} when podman does not
   *     answer
   */
  public static WorkloadRuntime create(
      String kind,
      Path kubeconfig,
      String inventoryNamespace,
      Supplier<String> device,
      String containerKind,
      ContainerRuntime.Options containerOptions,
      Blobs blobs) {
    return create(
        kind,
        kubeconfig,
        inventoryNamespace,
        device,
        containerKind,
        containerOptions,
        blobs,
        Optional.empty());
  }

  /**
   * As {@link #create(String, Path, String, Supplier, String, ContainerRuntime.Options, Blobs)},
   * with the node's VM runtime ({@link #vm}) behind the same router when there is one.
   */
  public static WorkloadRuntime create(
      String kind,
      Path kubeconfig,
      String inventoryNamespace,
      Supplier<String> device,
      String containerKind,
      ContainerRuntime.Options containerOptions,
      Blobs blobs,
      Optional<WorkloadRuntime> vm) {
    boolean containers =
        switch (containerKind) {
          case "none" -> false;
          // Not asked at start: podman takes about half a second to answer.
          case "auto" -> ContainerRuntime.installed(containerOptions);
          case "podman" -> {
            if (!ContainerRuntime.available(containerOptions)) {
              throw new IllegalArgumentException(
                  "--container-runtime podman: "
                      + containerOptions.command()
                      + " does not answer `podman version`; install podman, or use"
                      + " --container-runtime none");
            }
            yield true;
          }
          default ->
              throw new IllegalArgumentException(
                  "--container-runtime must be podman, none or auto, got " + containerKind);
        };
    WorkloadRuntime kubernetes = create(kind, kubeconfig, inventoryNamespace, device);
    Map<String, WorkloadRuntime> byKind = new LinkedHashMap<>();
    if (!"none".equals(kind)) {
      byKind.put(DeviceFacts.RUNTIME_KUBERNETES, kubernetes);
    }
    if (containers) {
      byKind.put(DeviceFacts.RUNTIME_CONTAINER, new ContainerRuntime(containerOptions, blobs));
    }
    vm.ifPresent(v -> byKind.put(DeviceFacts.RUNTIME_VM, v));
    return byKind.isEmpty() ? kubernetes : new RuntimeRouter(byKind);
  }

  /**
   * The node's VM runtime, by the option {@code --vm-runtime}.
   *
   * @param kind {@code auto} (QEMU when {@code qemu-system-<arch>} is installed), {@code qemu}
   *     (QEMU, which must be installed) or {@code none}
   * @param stateDir where VMs keep their disks, seeds and consoles ({@code <agent state>/vms})
   * @param blobs where disk images, kernels and initrds are found
   * @return empty for none, or for auto without QEMU
   * @throws IllegalArgumentException for another kind, or qemu without QEMU
   */
  public static Optional<WorkloadRuntime> vm(
      String kind, Path stateDir, io.edgefleet.agent.runtime.Blobs blobs) {
    return switch (kind) {
      case "none" -> Optional.empty();
      case "auto" ->
          io.edgefleet.agent.runtime.vm.VmRuntime.qemuBinary().isPresent()
              ? Optional.of(io.edgefleet.agent.runtime.vm.VmRuntime.open(stateDir, blobs))
              : Optional.empty();
      case "qemu" -> {
        try {
          yield Optional.of(io.edgefleet.agent.runtime.vm.VmRuntime.open(stateDir, blobs));
        } catch (IllegalStateException e) {
          throw new IllegalArgumentException("--vm-runtime qemu: " + e.getMessage());
        }
      }
      default ->
          throw new IllegalArgumentException(
              "--vm-runtime must be auto, qemu or none, got " + kind);
    };
  }

  private static WorkloadRuntime kubernetes(
      Path kubeconfig, String inventoryNamespace, Supplier<String> device) {
    return new KubernetesRuntime(
        KubernetesRuntime.Options.of(kubeconfig)
            .withInventoryNamespace(inventoryNamespace)
            .withWriter(device));
  }
}
