package io.edgefleet.bench;

import io.edgefleet.testkit.kube.KubeletStandIn;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * The device side of {@code bench/badlink.sh}, run inside the device's network namespace next to
 * its kube-apiserver: the kubelet stand-in (so Deployments become ready, see {@link
 * KubeletStandIn}), and a watch on the agent's inventory ConfigMaps that prints one line per change
 * with the wall-clock time it was seen, so the benchmark can tell when an apply finished on the
 * device without reaching into the namespace itself:
 *
 * <pre>
 * site ready
 * inventory APP REVISION complete|incomplete EPOCH_MILLIS
 * </pre>
 *
 * <p>{@code BadLinkSite KUBECONFIG [INVENTORY_NAMESPACE]}; runs until its standard input closes or
 * it is terminated.
 */
public final class BadLinkSite {
  private static final String PREFIX = "edgefleet-inventory-";

  public static void main(String[] args) throws Exception {
    Path kubeconfig = Path.of(args[0]);
    String namespace = args.length > 1 ? args[1] : "edgefleet-system";
    Config config =
        Config.fromKubeconfig(null, Files.readString(kubeconfig), kubeconfig.toString());
    KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build();
    KubeletStandIn standIn = KubeletStandIn.start(client);
    SharedIndexInformer<ConfigMap> inventories =
        client
            .configMaps()
            .inNamespace(namespace)
            .inform(
                new ResourceEventHandler<>() {
                  @Override
                  public void onAdd(ConfigMap cm) {
                    print(cm);
                  }

                  @Override
                  public void onUpdate(ConfigMap before, ConfigMap after) {
                    print(after);
                  }

                  @Override
                  public void onDelete(ConfigMap cm, boolean unknown) {}
                },
                0);
    CountDownLatch stop = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown, "site-stop"));
    Thread.ofPlatform()
        .daemon()
        .start(
            () -> {
              try {
                while (System.in.read() >= 0) {
                  // Nothing is expected on stdin; its end means the benchmark is gone.
                }
              } catch (java.io.IOException e) {
                // Same.
              }
              stop.countDown();
            });
    System.out.println("site ready");
    System.out.flush();
    stop.await();
    inventories.stop();
    standIn.close();
    client.close();
    System.exit(0);
  }

  private static synchronized void print(ConfigMap cm) {
    long now = System.currentTimeMillis();
    String name = cm.getMetadata().getName();
    if (!name.startsWith(PREFIX)) {
      return;
    }
    Map<String, String> data = cm.getData() == null ? Map.of() : cm.getData();
    String revision = data.getOrDefault("revision", "");
    boolean complete = !data.getOrDefault("digest", "").isEmpty();
    System.out.println(
        "inventory "
            + name.substring(PREFIX.length())
            + " "
            + (revision.isEmpty() ? "-" : revision)
            + " "
            + (complete ? "complete" : "incomplete")
            + " "
            + now);
    System.out.flush();
  }
}
