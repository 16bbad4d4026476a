package io.edgefleet.agent.command;

import io.edgefleet.agent.runtime.DeferredRuntime;
import io.edgefleet.agent.runtime.NoRuntime;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.agent.runtime.kubernetes.KubernetesRuntime;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** Chooses the node's workload runtime from the agent's options. */
public final class Runtimes {
  private Runtimes() {}

  /**
   * @param kind {@code kubernetes}, {@code none}, or {@code auto} (Kubernetes once the kubeconfig
   *     exists: it may appear later, written by the K3s node the agent starts)
   */
  public static WorkloadRuntime create(String kind, Path kubeconfig) {
    return create(kind, kubeconfig, "edgefleet-system");
  }

  /**
   * @param inventoryNamespace where the Kubernetes runtime keeps app inventories
   */
  public static WorkloadRuntime create(String kind, Path kubeconfig, String inventoryNamespace) {
    return switch (kind) {
      case "none" -> new NoRuntime("started with --runtime none");
      case "kubernetes", "auto" -> {
        if (!Files.isReadable(kubeconfig)) {
          if (kind.equals("auto")) {
            yield new DeferredRuntime(
                () ->
                    Files.isReadable(kubeconfig)
                        ? Optional.of(kubernetes(kubeconfig, inventoryNamespace))
                        : Optional.empty(),
                () -> "no kubeconfig at " + kubeconfig + " (use --kubeconfig)");
          }
          throw new IllegalArgumentException(
              "--runtime kubernetes: cannot read the kubeconfig "
                  + kubeconfig
                  + " (use --kubeconfig)");
        }
        yield kubernetes(kubeconfig, inventoryNamespace);
      }
      default ->
          throw new IllegalArgumentException(
              "--runtime must be kubernetes, none or auto, got " + kind);
    };
  }

  private static WorkloadRuntime kubernetes(Path kubeconfig, String inventoryNamespace) {
    return new KubernetesRuntime(
        KubernetesRuntime.Options.of(kubeconfig).withInventoryNamespace(inventoryNamespace));
  }
}
