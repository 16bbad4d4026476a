package io.edgefleet.testkit.kube;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerState;
import io.fabric8.kubernetes.api.model.ContainerStateBuilder;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.NodeCondition;
import io.fabric8.kubernetes.api.model.NodeConditionBuilder;
import io.fabric8.kubernetes.api.model.NodeStatus;
import io.fabric8.kubernetes.api.model.NodeStatusBuilder;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.PodIP;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.http.HttpClient;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.HttpResponse;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Plays scheduler and kubelet for a control plane that has neither (the local test cluster of
 * {@link KubeCluster}): registers the Ready node {@value #NODE_NAME}, binds unscheduled pods to it
 * through the {@code pods/binding} subresource, and writes pod status as a kubelet would, so that
 * the real Deployment, ReplicaSet, StatefulSet, DaemonSet and Job controllers compute workload
 * status from it.
 *
 * <p>Pods bound to the node become {@code Running} with every container ready (conditions
 * Initialized, ContainersReady, Ready, PodScheduled), except:
 *
 * <ul>
 *   <li>image tag {@value #TAG_NEVER_READY}: the container runs but never becomes ready;
 *   <li>image tag {@value #TAG_CRASH}: the container is waiting with reason {@code
 *       CrashLoopBackOff}, its restart count going up about every {@value #CRASH_RESTART_SECONDS}
 *       seconds;
 *   <li>pods owned by a Job run to completion: phase {@code Succeeded}, containers terminated with
 *       exit code 0, or phase {@code Failed} (exit code 1) when a container's image tag is {@value
 *       #TAG_FAIL}.
 * </ul>
 *
 * <p>Pods being deleted are removed at once (as a kubelet does once its containers have stopped). A
 * pod whose {@code nodeSelector} the node does not match, or that names another scheduler, stays
 * Pending. Never start this against a real cluster.
 */
public final class KubeletStandIn implements AutoCloseable {
  /** The name of the node the stand-in registers and binds pods to. */
  public static final String NODE_NAME = "edgefleet-standin-node";

  /** Image tag whose container keeps running without ever becoming ready. */
  public static final String TAG_NEVER_READY = "never-ready";

  /** Image tag whose container is in CrashLoopBackOff with a growing restart count. */
  public static final String TAG_CRASH = "crash";

  /** Image tag that makes a Job's pod fail (phase Failed, exit code 1). */
  public static final String TAG_FAIL = "fail";

  /** About how often a {@value #TAG_CRASH} container's restart count goes up. */
  public static final int CRASH_RESTART_SECONDS = 2;

  private static final System.Logger LOG = System.getLogger(KubeletStandIn.class.getName());
  private static final String DEFAULT_SCHEDULER = "default-scheduler";
  private static final Map<String, String> NODE_LABELS =
      Map.of(
          "kubernetes.io/hostname", NODE_NAME,
          "kubernetes.io/os", "linux",
          "kubernetes.io/arch", "amd64",
          "beta.kubernetes.io/os", "linux",
          "beta.kubernetes.io/arch", "amd64",
          "node-role.kubernetes.io/edgefleet-standin", "");

  private final KubernetesClient client;
  private final HttpClient http;
  private final SharedIndexInformer<Pod> pods;
  private final ScheduledExecutorService timers;
  private final Thread worker;
  private final LinkedBlockingQueue<String> queue = new LinkedBlockingQueue<>();
  private final Set<String> queued = ConcurrentHashMap.newKeySet();
  private final Map<String, PodRecord> records = new ConcurrentHashMap<>();
  private final AtomicInteger nextIp = new AtomicInteger(2);
  private volatile boolean closed;

  /** What the stand-in "kubelet" remembers per pod uid: start time, pod IP, restarts. */
  private static final class PodRecord {
    final String startTime = now();
    final String ip;
    final AtomicInteger restarts = new AtomicInteger();

    PodRecord(String ip) {
      this.ip = ip;
    }
  }

  private KubeletStandIn(KubernetesClient client) {
    this.client = client;
    this.http = client.getHttpClient();
    registerNode();
    this.worker = Thread.ofPlatform().daemon().name("kubelet-standin").start(this::work);
    this.pods =
        client
            .pods()
            .inAnyNamespace()
            .inform(
                new ResourceEventHandler<>() {
                  @Override
                  public void onAdd(Pod pod) {
                    enqueue(pod);
                  }

                  @Override
                  public void onUpdate(Pod oldPod, Pod newPod) {
                    enqueue(newPod);
                  }

                  @Override
                  public void onDelete(Pod pod, boolean deletedFinalStateUnknown) {
                    records.remove(pod.getMetadata().getUid());
                  }
                },
                0);
    this.timers =
        Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().daemon().name("kubelet-standin-timer").unstarted(r));
    // Safety net for writes that failed (conflicts, a busy apiserver): look at every pod each
    // second.
    timers.scheduleWithFixedDelay(this::resync, 1, 1, TimeUnit.SECONDS);
    timers.scheduleWithFixedDelay(
        this::crashLoop, CRASH_RESTART_SECONDS, CRASH_RESTART_SECONDS, TimeUnit.SECONDS);
  }

  /**
   * Registers the node and starts serving pods. {@link KubeCluster#shared()} does this for a
   * cluster it started; call it only for a control plane without scheduler and kubelets.
   */
  public static KubeletStandIn start(KubernetesClient client) {
    return new KubeletStandIn(client);
  }

  /** The node all pods are bound to: {@value #NODE_NAME}. */
  public String nodeName() {
    return NODE_NAME;
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    timers.shutdownNow();
    pods.stop();
    worker.interrupt();
  }

  // ---- node ----

  private void registerNode() {
    Node node =
        new NodeBuilder()
            .withNewMetadata()
            .withName(NODE_NAME)
            .withLabels(NODE_LABELS)
            .endMetadata()
            .withNewSpec()
            .endSpec()
            .withStatus(nodeStatus())
            .build();
    Node existing = client.nodes().withName(NODE_NAME).get();
    if (existing == null) {
      client.nodes().resource(node).create();
    }
    // Create may drop the status on some versions; write it through the status subresource too.
    client
        .nodes()
        .withName(NODE_NAME)
        .editStatus(n -> new NodeBuilder(n).withStatus(nodeStatus()).build());
    // The TaintNodesByCondition admission plugin taints every new node not-ready:NoSchedule; the
    // node lifecycle controller (not running here) would lift it once the node reports Ready.
    // DaemonSet pods do not tolerate it, so lift it as that controller would.
    client
        .nodes()
        .withName(NODE_NAME)
        .edit(
            n ->
                new NodeBuilder(n)
                    .editSpec()
                    .withTaints(
                        nullSafe(n.getSpec().getTaints()).stream()
                            .filter(t -> !t.getKey().startsWith("node.kubernetes.io/"))
                            .toList())
                    .endSpec()
                    .build());
  }

  private static NodeStatus nodeStatus() {
    String now = now();
    Map<String, Quantity> capacity = new LinkedHashMap<>();
    capacity.put("cpu", new Quantity("16"));
    capacity.put("memory", new Quantity("64Gi"));
    capacity.put("pods", new Quantity("250"));
    capacity.put("ephemeral-storage", new Quantity("200Gi"));
    List<NodeCondition> conditions = new ArrayList<>();
    for (String type : List.of("MemoryPressure", "DiskPressure", "PIDPressure")) {
      conditions.add(
          new NodeConditionBuilder()
              .withType(type)
              .withStatus("False")
              .withReason("KubeletHasSufficient" + type.replace("Pressure", ""))
              .withLastHeartbeatTime(now)
              .withLastTransitionTime(now)
              .build());
    }
    conditions.add(
        new NodeConditionBuilder()
            .withType("Ready")
            .withStatus("True")
            .withReason("KubeletReady")
            .withMessage("edgefleet kubelet stand-in is posting ready status")
            .withLastHeartbeatTime(now)
            .withLastTransitionTime(now)
            .build());
    return new NodeStatusBuilder()
        .withCapacity(capacity)
        .withAllocatable(capacity)
        .withConditions(conditions)
        .addNewAddress()
        .withType("InternalIP")
        .withAddress("127.0.0.1")
        .endAddress()
        .addNewAddress()
        .withType("Hostname")
        .withAddress(NODE_NAME)
        .endAddress()
        .withNewNodeInfo()
        .withArchitecture("amd64")
        .withOperatingSystem("linux")
        .withOsImage("edgefleet kubelet stand-in")
        .withKernelVersion(System.getProperty("os.version", ""))
        .withKubeletVersion("v1.20.2")
        .withKubeProxyVersion("v1.20.2")
        .withContainerRuntimeVersion("standin://1.0")
        .withMachineID("")
        .withSystemUUID("")
        .withBootID("")
        .endNodeInfo()
        .build();
  }

  // ---- work queue ----

  private void enqueue(Pod pod) {
    if (!concerns(pod)) {
      return;
    }
    String key = pod.getMetadata().getNamespace() + "/" + pod.getMetadata().getName();
    if (queued.add(key)) {
      queue.add(key);
    }
  }

  private boolean concerns(Pod pod) {
    String nodeName = pod.getSpec().getNodeName();
    if (nodeName == null || nodeName.isEmpty()) {
      String scheduler = pod.getSpec().getSchedulerName();
      return scheduler == null || scheduler.isEmpty() || DEFAULT_SCHEDULER.equals(scheduler);
    }
    return NODE_NAME.equals(nodeName);
  }

  private void resync() {
    try {
      for (Pod pod : pods.getStore().list()) {
        enqueue(pod);
      }
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.DEBUG, "resync failed", e);
    }
  }

  private void crashLoop() {
    try {
      for (Pod pod : pods.getStore().list()) {
        if (NODE_NAME.equals(pod.getSpec().getNodeName())
            && !ownedByJob(pod)
            && pod.getMetadata().getDeletionTimestamp() == null
            && anyTag(pod.getSpec().getContainers(), TAG_CRASH)) {
          record(pod).restarts.incrementAndGet();
          enqueue(pod);
        }
      }
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.DEBUG, "crash loop tick failed", e);
    }
  }

  private void work() {
    while (!closed) {
      String key;
      try {
        key = queue.take();
      } catch (InterruptedException e) {
        return;
      }
      queued.remove(key);
      Pod pod = pods.getStore().getByKey(key);
      if (pod == null) {
        continue;
      }
      try {
        reconcile(pod);
      } catch (KubernetesClientException e) {
        // 404 (gone) and 409 (changed meanwhile) are normal; the next event or resync retries.
        if (e.getCode() != 404 && e.getCode() != 409) {
          LOG.log(System.Logger.Level.WARNING, "stand-in could not update pod " + key, e);
        }
      } catch (RuntimeException e) {
        if (!closed) {
          LOG.log(System.Logger.Level.WARNING, "stand-in could not update pod " + key, e);
        }
      }
    }
  }

  // ---- what a scheduler and a kubelet would do ----

  private void reconcile(Pod pod) {
    String ns = pod.getMetadata().getNamespace();
    String name = pod.getMetadata().getName();
    String nodeName = pod.getSpec().getNodeName();
    if (nodeName == null || nodeName.isEmpty()) {
      if (pod.getMetadata().getDeletionTimestamp() == null && nodeSelectorMatches(pod)) {
        bind(ns, name);
      }
      return;
    }
    if (pod.getMetadata().getDeletionTimestamp() != null) {
      // A kubelet stops the containers, then removes the pod for good.
      client.pods().inNamespace(ns).withName(name).withGracePeriod(0).delete();
      records.remove(pod.getMetadata().getUid());
      return;
    }
    String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
    if ("Succeeded".equals(phase) || "Failed".equals(phase)) {
      return; // terminal, as with a real kubelet
    }
    PodStatus desired = desiredStatus(pod);
    if (!signature(desired).equals(signature(pod.getStatus()))) {
      client
          .pods()
          .inNamespace(ns)
          .withName(name)
          .editStatus(p -> new PodBuilder(p).withStatus(desired).build());
    }
  }

  private void bind(String ns, String name) {
    String body =
        client
            .getKubernetesSerialization()
            .asJson(
                Map.of(
                    "apiVersion",
                    "v1",
                    "kind",
                    "Binding",
                    "metadata",
                    Map.of("name", name, "namespace", ns),
                    "target",
                    Map.of("apiVersion", "v1", "kind", "Node", "name", NODE_NAME)));
    String url =
        client.getMasterUrl().toString().replaceAll("/+$", "")
            + "/api/v1/namespaces/"
            + ns
            + "/pods/"
            + name
            + "/binding";
    HttpRequest request =
        http.newHttpRequestBuilder().uri(url).post("application/json", body).build();
    HttpResponse<String> response = http.sendAsync(request, String.class).join();
    // 409: bound meanwhile; 404: deleted meanwhile.
    if (!response.isSuccessful() && response.code() != 409 && response.code() != 404) {
      LOG.log(
          System.Logger.Level.WARNING,
          "binding " + ns + "/" + name + " failed: " + response.code() + " " + response.body());
    }
  }

  private static boolean nodeSelectorMatches(Pod pod) {
    Map<String, String> selector = pod.getSpec().getNodeSelector();
    if (selector == null) {
      return true;
    }
    for (Map.Entry<String, String> e : selector.entrySet()) {
      if (!Objects.equals(NODE_LABELS.get(e.getKey()), e.getValue())) {
        return false;
      }
    }
    return true;
  }

  private PodStatus desiredStatus(Pod pod) {
    PodRecord rec = record(pod);
    boolean job = ownedByJob(pod);
    boolean failed = job && anyTag(pod.getSpec().getContainers(), TAG_FAIL);
    String now = now();

    List<ContainerStatus> init = new ArrayList<>();
    for (Container c : nullSafe(pod.getSpec().getInitContainers())) {
      init.add(
          base(pod, c, 0)
              .withReady(true)
              .withState(terminated(0, "Completed", rec.startTime, rec.startTime))
              .build());
    }

    List<ContainerStatus> containers = new ArrayList<>();
    boolean allReady = true;
    for (Container c : pod.getSpec().getContainers()) {
      String tag = imageTag(c.getImage());
      ContainerStatus status;
      if (job) {
        int exit = failed ? 1 : 0;
        status =
            base(pod, c, 0)
                .withReady(false)
                .withStarted(false)
                .withState(terminated(exit, exit == 0 ? "Completed" : "Error", rec.startTime, now))
                .build();
      } else if (TAG_CRASH.equals(tag)) {
        int restarts = rec.restarts.get();
        status =
            base(pod, c, restarts)
                .withReady(false)
                .withStarted(false)
                .withState(
                    new ContainerStateBuilder()
                        .withNewWaiting()
                        .withReason("CrashLoopBackOff")
                        .withMessage(
                            "back-off 10s restarting failed container="
                                + c.getName()
                                + " pod="
                                + pod.getMetadata().getName())
                        .endWaiting()
                        .build())
                .withLastState(terminated(1, "Error", rec.startTime, rec.startTime))
                .build();
      } else {
        boolean ready = !TAG_NEVER_READY.equals(tag);
        status =
            base(pod, c, 0)
                .withReady(ready)
                .withStarted(true)
                .withState(
                    new ContainerStateBuilder()
                        .withNewRunning()
                        .withStartedAt(rec.startTime)
                        .endRunning()
                        .build())
                .build();
      }
      allReady &= Boolean.TRUE.equals(status.getReady());
      containers.add(status);
    }

    String phase = job ? (failed ? "Failed" : "Succeeded") : "Running";
    String notReadyReason = job ? "PodCompleted" : "ContainersNotReady";
    List<PodCondition> conditions = new ArrayList<>();
    conditions.add(condition("Initialized", true, job ? "PodCompleted" : null, rec.startTime));
    conditions.add(condition("Ready", !job && allReady, notReadyReason, rec.startTime));
    conditions.add(condition("ContainersReady", !job && allReady, notReadyReason, rec.startTime));
    conditions.add(condition("PodScheduled", true, null, rec.startTime));

    PodStatus current = pod.getStatus();
    return new PodStatusBuilder()
        .withPhase(phase)
        .withConditions(conditions)
        .withHostIP("127.0.0.1")
        .withPodIP(rec.ip)
        .withPodIPs(new PodIP(rec.ip))
        .withStartTime(rec.startTime)
        .withInitContainerStatuses(init)
        .withContainerStatuses(containers)
        .withQosClass(current == null ? null : current.getQosClass())
        .build();
  }

  private static ContainerStatusBuilder base(Pod pod, Container c, int restarts) {
    String image = c.getImage();
    return new ContainerStatusBuilder()
        .withName(c.getName())
        .withImage(image)
        .withImageID("standin://" + image)
        .withContainerID(
            "standin://" + pod.getMetadata().getUid() + "/" + c.getName() + "/" + restarts)
        .withRestartCount(restarts);
  }

  private static ContainerState terminated(
      int exitCode, String reason, String started, String finished) {
    return new ContainerStateBuilder()
        .withNewTerminated()
        .withExitCode(exitCode)
        .withReason(reason)
        .withStartedAt(started)
        .withFinishedAt(finished)
        .endTerminated()
        .build();
  }

  private static PodCondition condition(String type, boolean status, String reason, String time) {
    return new PodConditionBuilder()
        .withType(type)
        .withStatus(status ? "True" : "False")
        .withReason(status ? null : reason)
        .withLastTransitionTime(time)
        .build();
  }

  /**
   * What matters in a pod status, so that fields the apiserver normalises do not make the stand-in
   * write the same status forever.
   */
  private static String signature(PodStatus s) {
    if (s == null) {
      return "";
    }
    StringBuilder sb = new StringBuilder();
    sb.append(s.getPhase()).append('|').append(s.getPodIP()).append('|');
    for (PodCondition c : nullSafe(s.getConditions())) {
      sb.append(c.getType()).append('=').append(c.getStatus()).append(',');
    }
    for (List<ContainerStatus> list :
        List.of(nullSafe(s.getInitContainerStatuses()), nullSafe(s.getContainerStatuses()))) {
      sb.append('|');
      for (ContainerStatus c : list) {
        ContainerState st = c.getState();
        String state =
            st == null
                ? "?"
                : st.getRunning() != null
                    ? "running"
                    : st.getTerminated() != null
                        ? "terminated:" + st.getTerminated().getExitCode()
                        : st.getWaiting() != null ? "waiting:" + st.getWaiting().getReason() : "?";
        sb.append(c.getName())
            .append(':')
            .append(c.getReady())
            .append(':')
            .append(c.getRestartCount())
            .append(':')
            .append(state)
            .append(',');
      }
    }
    return sb.toString();
  }

  private PodRecord record(Pod pod) {
    return records.computeIfAbsent(
        pod.getMetadata().getUid(),
        uid -> {
          int n = nextIp.getAndIncrement();
          return new PodRecord("10.244." + ((n >> 8) & 0xff) + "." + (n & 0xff));
        });
  }

  private static boolean ownedByJob(Pod pod) {
    for (OwnerReference ref : nullSafe(pod.getMetadata().getOwnerReferences())) {
      if ("Job".equals(ref.getKind())
          && ref.getApiVersion() != null
          && ref.getApiVersion().startsWith("batch/")) {
        return true;
      }
    }
    return false;
  }

  private static boolean anyTag(List<Container> containers, String tag) {
    for (Container c : nullSafe(containers)) {
      if (tag.equals(imageTag(c.getImage()))) {
        return true;
      }
    }
    return false;
  }

  /** The tag of an image reference ("registry:5000/app:1.2@sha256:…" → "1.2"), or "latest". */
  static String imageTag(String image) {
    if (image == null) {
      return "latest";
    }
    String ref = image;
    int at = ref.indexOf('@');
    if (at >= 0) {
      ref = ref.substring(0, at);
    }
    int slash = ref.lastIndexOf('/');
    int colon = ref.lastIndexOf(':');
    return colon > slash ? ref.substring(colon + 1) : "latest";
  }

  private static <T> List<T> nullSafe(List<T> list) {
    return list == null ? List.of() : list;
  }

  private static String now() {
    return Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
  }
}
