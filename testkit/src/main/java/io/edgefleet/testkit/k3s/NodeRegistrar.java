package io.edgefleet.testkit.k3s;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.NodeCondition;
import io.fabric8.kubernetes.api.model.NodeConditionBuilder;
import io.fabric8.kubernetes.api.model.NodeStatus;
import io.fabric8.kubernetes.api.model.NodeStatusBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.api.model.TaintBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The kubelet part of the stand-in: registers the node's Node object (labels, taints, addresses,
 * kubelet version) and posts a Ready heartbeat every {@value #HEARTBEAT_SECONDS} seconds. It runs
 * no pods (the workload side of a kubelet is {@code testkit.kube.KubeletStandIn}'s job, for a
 * single-node test cluster). Once the Node has been deleted it stops posting, as a kubelet whose
 * node was removed from the cluster does until it is restarted.
 */
final class NodeRegistrar implements AutoCloseable {
  static final int HEARTBEAT_SECONDS = 5;

  private final KubernetesClient client;
  private final String name;
  private final String ip;
  private final String version;
  private final Map<String, String> labels;
  private final List<Taint> taints;
  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(
          r -> Thread.ofPlatform().daemon().name("node-heartbeat").unstarted(r));
  private volatile boolean deleted;

  NodeRegistrar(
      KubernetesClient client,
      String name,
      String ip,
      String version,
      Map<String, String> labels,
      List<String> taints) {
    this.client = client;
    this.name = name;
    this.ip = ip;
    this.version = version;
    this.labels = labels;
    this.taints = taints.stream().map(NodeRegistrar::taint).toList();
  }

  /** Parses {@code key=value:Effect} or {@code key:Effect}. */
  static Taint taint(String spec) {
    int colon = spec.lastIndexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException(
          "node-taint "
              + spec
              + " must be key=value:Effect (NoSchedule, PreferNoSchedule, NoExecute)");
    }
    String effect = spec.substring(colon + 1);
    if (!List.of("NoSchedule", "PreferNoSchedule", "NoExecute").contains(effect)) {
      throw new IllegalArgumentException(
          "node-taint " + spec + ": effect must be NoSchedule, PreferNoSchedule or NoExecute");
    }
    String kv = spec.substring(0, colon);
    int eq = kv.indexOf('=');
    return new TaintBuilder()
        .withKey(eq < 0 ? kv : kv.substring(0, eq))
        .withValue(eq < 0 ? null : kv.substring(eq + 1))
        .withEffect(effect)
        .build();
  }

  /** Registers (or updates) the Node and starts the heartbeat. */
  void start() {
    Node existing = client.nodes().withName(name).get();
    if (existing == null) {
      client
          .nodes()
          .resource(
              new NodeBuilder()
                  .withNewMetadata()
                  .withName(name)
                  .withLabels(labels)
                  .endMetadata()
                  .withNewSpec()
                  .withTaints(taints)
                  .endSpec()
                  .build())
          .create();
    } else {
      client
          .nodes()
          .withName(name)
          .edit(
              n -> {
                Map<String, String> merged = new LinkedHashMap<>();
                if (n.getMetadata().getLabels() != null) {
                  merged.putAll(n.getMetadata().getLabels());
                }
                merged.putAll(labels);
                return new NodeBuilder(n)
                    .editMetadata()
                    .withLabels(merged)
                    .endMetadata()
                    .editSpec()
                    .withTaints(taints)
                    .endSpec()
                    .build();
              });
    }
    postStatus();
    // The TaintNodesByCondition admission plugin taints a new node not-ready; the node lifecycle
    // controller of a real control plane lifts it once the node is Ready. Lift it here.
    client
        .nodes()
        .withName(name)
        .edit(
            n ->
                new NodeBuilder(n)
                    .editSpec()
                    .withTaints(
                        n.getSpec().getTaints() == null
                            ? List.of()
                            : n.getSpec().getTaints().stream()
                                .filter(t -> !t.getKey().startsWith("node.kubernetes.io/"))
                                .toList())
                    .endSpec()
                    .build());
    timer.scheduleWithFixedDelay(
        this::heartbeat, HEARTBEAT_SECONDS, HEARTBEAT_SECONDS, TimeUnit.SECONDS);
  }

  private void heartbeat() {
    if (deleted) {
      return;
    }
    try {
      postStatus();
    } catch (KubernetesClientException e) {
      if (e.getCode() == 404) {
        deleted = true;
        System.err.println(
            "level=info msg=\"node " + name + " was deleted: no longer posting its status\"");
      } else {
        System.err.println(
            "level=warning msg=\"node status update failed: " + e.getMessage() + "\"");
      }
    } catch (RuntimeException e) {
      System.err.println("level=warning msg=\"node status update failed: " + e + "\"");
    }
  }

  private void postStatus() {
    Node current = client.nodes().withName(name).get();
    if (current == null) {
      throw new KubernetesClientException("node " + name + " not found", 404, null);
    }
    Map<String, String> transitions = new LinkedHashMap<>();
    if (current.getStatus() != null && current.getStatus().getConditions() != null) {
      for (NodeCondition c : current.getStatus().getConditions()) {
        if (c.getLastTransitionTime() != null) {
          transitions.put(c.getType() + "=" + c.getStatus(), c.getLastTransitionTime());
        }
      }
    }
    NodeStatus status = status(transitions);
    client.nodes().withName(name).editStatus(n -> new NodeBuilder(n).withStatus(status).build());
  }

  private NodeStatus status(Map<String, String> transitions) {
    String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    Map<String, Quantity> capacity = new LinkedHashMap<>();
    capacity.put("cpu", new Quantity("2"));
    capacity.put("memory", new Quantity("4Gi"));
    capacity.put("pods", new Quantity("110"));
    List<NodeCondition> conditions = new ArrayList<>();
    for (String type : List.of("MemoryPressure", "DiskPressure", "PIDPressure")) {
      conditions.add(
          new NodeConditionBuilder()
              .withType(type)
              .withStatus("False")
              .withReason("KubeletHasSufficient" + type.replace("Pressure", ""))
              .withLastHeartbeatTime(now)
              .withLastTransitionTime(transitions.getOrDefault(type + "=False", now))
              .build());
    }
    conditions.add(
        new NodeConditionBuilder()
            .withType("Ready")
            .withStatus("True")
            .withReason("KubeletReady")
            .withMessage("kubelet is posting ready status")
            .withLastHeartbeatTime(now)
            .withLastTransitionTime(transitions.getOrDefault("Ready=True", now))
            .build());
    return new NodeStatusBuilder()
        .withCapacity(capacity)
        .withAllocatable(capacity)
        .withConditions(conditions)
        .addNewAddress()
        .withType("InternalIP")
        .withAddress(ip)
        .endAddress()
        .addNewAddress()
        .withType("Hostname")
        .withAddress(name)
        .endAddress()
        .withNewNodeInfo()
        .withArchitecture("amd64")
        .withOperatingSystem("linux")
        .withOsImage("edgefleet k3s stand-in")
        .withKernelVersion(System.getProperty("os.version", ""))
        .withKubeletVersion(version)
        .withKubeProxyVersion(version)
        .withContainerRuntimeVersion("containerd://stand-in")
        .withMachineID("")
        .withSystemUUID("")
        .withBootID("")
        .endNodeInfo()
        .build();
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
