package io.edgefleet.agent.command;

import io.edgefleet.agent.runtime.NoRuntime;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.agent.runtime.kubernetes.KubernetesRuntime;
import java.nio.file.Files;
import java.nio.file.Path;

/** Chooses the node's workload runtime from the agent's options. */
public final class Runtimes {
  private Runtimes() {}

  /**
   * @param kind {@code kubernetes}, {@code none}, or {@code auto} (Kubernetes when the kubeconfig
   *     exists)
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
            yield new NoRuntime("no kubeconfig at " + kubeconfig + " (use --kubeconfig)");
          }
          throw new IllegalArgumentException(
              "--runtime kubernetes: cannot read the kubeconfig "
                  + kubeconfig
                  + " (use --kubeconfig)");
        }
        yield new KubernetesRuntime(
            KubernetesRuntime.Options.of(kubeconfig).withInventoryNamespace(inventoryNamespace));
      }
      default ->
          throw new IllegalArgumentException(
              "--runtime must be kubernetes, none or auto, got " + kind);
    };
  }
}
