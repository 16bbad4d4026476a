package io.edgefleet.testkit.kube;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
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
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

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
 * Pending.
 *
 * <p>Container logs: like a kubelet, the stand-in serves {@code
 * /containerLogs/{namespace}/{pod}/{container}} over HTTPS (a self-signed certificate on a loopback
 * port, registered as the node's kubelet endpoint), which is where the API server reads {@code
 * pods/log} from. Every container of a pod bound to the node writes one line every {@link
 * #LOG_INTERVAL} from the moment the stand-in first saw the pod: {@link #logLine line N of
 * POD/CONTAINER}. The query parameters {@code tailLines}, {@code timestamps}, {@code sinceTime},
 * {@code sinceSeconds} and {@code follow} behave as a kubelet's; a followed log ends when the pod
 * is gone or the reader disconnects. Containers of Job pods have terminated and write nothing more.
 *
 * <p>Never start this against a real cluster.
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

  /** How often every container writes a log line. */
  public static final Duration LOG_INTERVAL = Duration.ofMillis(200);

  private static final String LOGS_PATH = "/containerLogs/";
  private static final DateTimeFormatter RFC3339_NANO =
      DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSSSSS'Z'")
          .withZone(java.time.ZoneOffset.UTC);

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
  private final ExecutorService logThreads = Executors.newVirtualThreadPerTaskExecutor();
  private final CountDownLatch closing = new CountDownLatch(1);
  private final Map<String, AtomicInteger> followed = new ConcurrentHashMap<>();
  private final HttpsServer logServer;
  private volatile boolean closed;

  /** What the stand-in "kubelet" remembers per pod uid: start time, pod IP, restarts. */
  private static final class PodRecord {
    final Instant started = Instant.now();
    final String startTime = started.truncatedTo(ChronoUnit.SECONDS).toString();
    final String ip;
    final AtomicInteger restarts = new AtomicInteger();

    PodRecord(String ip) {
      this.ip = ip;
    }
  }

  private KubeletStandIn(KubernetesClient client) {
    this.client = client;
    this.http = client.getHttpClient();
    this.logServer = startLogServer();
    try {
      registerNode();
    } catch (RuntimeException e) {
      logServer.stop(0);
      logThreads.shutdownNow();
      throw e;
    }
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
    closing.countDown();
    timers.shutdownNow();
    pods.stop();
    worker.interrupt();
    logServer.stop(0);
    logThreads.shutdownNow();
  }

  /** The port of the HTTPS endpoint serving container logs (the node's kubelet endpoint). */
  public int kubeletPort() {
    return logServer.getAddress().getPort();
  }

  /**
   * How many followed logs of pods in {@code namespace} the stand-in is serving now: a reader that
   * went away stops being counted once the stand-in noticed.
   */
  public int followedLogs(String namespace) {
    AtomicInteger n = followed.get(namespace);
    return n == null ? 0 : n.get();
  }

  /** The text of log line {@code n} (from 1) of a container, as the stand-in writes it. */
  public static String logLine(long n, String pod, String container) {
    return "line " + n + " of " + pod + "/" + container;
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
            .withStatus(nodeStatus(kubeletPort()))
            .build();
    Node existing = client.nodes().withName(NODE_NAME).get();
    if (existing == null) {
      client.nodes().resource(node).create();
    }
    // Create may drop the status on some versions; write it through the status subresource too.
    client
        .nodes()
        .withName(NODE_NAME)
        .editStatus(n -> new NodeBuilder(n).withStatus(nodeStatus(kubeletPort())).build());
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

  private static NodeStatus nodeStatus(int kubeletPort) {
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
        // Only an InternalIP: the API server connects to the first address of its preferred types,
        // Hostname first, and the node name resolves nowhere.
        .addNewAddress()
        .withType("InternalIP")
        .withAddress("127.0.0.1")
        .endAddress()
        .withNewDaemonEndpoints()
        .withNewKubeletEndpoint()
        .withPort(kubeletPort)
        .endKubeletEndpoint()
        .endDaemonEndpoints()
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

  // ---- container logs ----

  private HttpsServer startLogServer() {
    try {
      HttpsServer server =
          HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
      server.setHttpsConfigurator(new HttpsConfigurator(selfSignedTls()));
      server.setExecutor(logThreads);
      server.createContext(LOGS_PATH, this::containerLogs);
      server.start();
      return server;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start the stand-in's kubelet endpoint", e);
    }
  }

  /**
   * A TLS context with a fresh self-signed certificate: the API server of {@link KubeCluster} does
   * not verify kubelet certificates (no {@code --kubelet-certificate-authority}).
   */
  private static SSLContext selfSignedTls() {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
      generator.initialize(256);
      KeyPair key = generator.generateKeyPair();
      X500Name name = new X500Name("CN=" + NODE_NAME);
      Instant now = Instant.now();
      JcaX509v3CertificateBuilder builder =
          new JcaX509v3CertificateBuilder(
              name,
              BigInteger.valueOf(now.toEpochMilli()),
              Date.from(now.minus(Duration.ofDays(1))),
              Date.from(now.plus(Duration.ofDays(3650))),
              name,
              key.getPublic());
      builder.addExtension(
          Extension.subjectAlternativeName,
          false,
          new GeneralNames(
              new GeneralName[] {
                new GeneralName(GeneralName.iPAddress, "127.0.0.1"),
                new GeneralName(GeneralName.dNSName, "localhost")
              }));
      X509Certificate cert =
          new JcaX509CertificateConverter()
              .getCertificate(
                  builder.build(
                      new JcaContentSignerBuilder("SHA256withECDSA").build(key.getPrivate())));
      char[] password = "standin".toCharArray();
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      store.setKeyEntry("kubelet", key.getPrivate(), password, new Certificate[] {cert});
      KeyManagerFactory keys =
          KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      keys.init(store, password);
      SSLContext tls = SSLContext.getInstance("TLS");
      tls.init(keys.getKeyManagers(), null, null);
      return tls;
    } catch (GeneralSecurityException | IOException | OperatorCreationException e) {
      throw new IllegalStateException("cannot make the stand-in's kubelet certificate", e);
    }
  }

  /** {@code GET /containerLogs/{namespace}/{pod}/{container}}, as a kubelet serves it. */
  private void containerLogs(HttpExchange exchange) throws IOException {
    try (exchange) {
      String[] parts =
          exchange.getRequestURI().getRawPath().substring(LOGS_PATH.length()).split("/", -1);
      if (!"GET".equals(exchange.getRequestMethod()) || parts.length != 3) {
        plain(exchange, 404, "not found");
        return;
      }
      String ns = decode(parts[0]);
      String name = decode(parts[1]);
      String container = decode(parts[2]);
      Pod pod = pods.getStore().getByKey(ns + "/" + name);
      if (pod == null || !NODE_NAME.equals(pod.getSpec().getNodeName())) {
        plain(exchange, 404, "pod " + ns + "/" + name + " is not on node " + NODE_NAME);
        return;
      }
      boolean known =
          java.util.stream.Stream.concat(
                  nullSafe(pod.getSpec().getContainers()).stream(),
                  nullSafe(pod.getSpec().getInitContainers()).stream())
              .anyMatch(c -> container.equals(c.getName()));
      if (!known) {
        plain(exchange, 404, "container " + container + " is not in pod " + ns + "/" + name);
        return;
      }
      Map<String, String> query = query(exchange.getRequestURI().getRawQuery());
      LogQuery q;
      try {
        q = LogQuery.of(query, Instant.now());
      } catch (IllegalArgumentException e) {
        plain(exchange, 400, e.getMessage());
        return;
      }
      serveLog(exchange, pod, container, q);
    } catch (IOException e) {
      // The reader went away (the API server closed its stream): nothing left to do.
    }
  }

  /** The kubelet's log options that the stand-in honours. */
  private record LogQuery(long tailLines, boolean follow, boolean timestamps, Instant since) {
    static LogQuery of(Map<String, String> q, Instant now) {
      long tail = -1;
      if (q.containsKey("tailLines")) {
        try {
          tail = Long.parseLong(q.get("tailLines"));
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("tailLines must be a number");
        }
      }
      Instant since = Instant.EPOCH;
      try {
        if (q.containsKey("sinceTime")) {
          since = Instant.parse(q.get("sinceTime"));
        } else if (q.containsKey("sinceSeconds")) {
          since = now.minusSeconds(Long.parseLong(q.get("sinceSeconds")));
        }
      } catch (DateTimeParseException | NumberFormatException e) {
        throw new IllegalArgumentException("sinceTime / sinceSeconds is malformed");
      }
      return new LogQuery(tail, flag(q.get("follow")), flag(q.get("timestamps")), since);
    }

    private static boolean flag(String v) {
      return "true".equalsIgnoreCase(v) || "1".equals(v);
    }
  }

  private void serveLog(HttpExchange exchange, Pod pod, String container, LogQuery q)
      throws IOException {
    String name = pod.getMetadata().getName();
    Instant started = record(pod).started;
    boolean job = ownedByJob(pod);
    exchange.getResponseHeaders().set("Content-Type", "text/plain");
    exchange.sendResponseHeaders(200, 0);
    OutputStream out = exchange.getResponseBody();
    // Line n was written at started + n * LOG_INTERVAL; a Job's container wrote nothing.
    long last = job ? 0 : linesBy(started, Instant.now());
    long first = Math.max(1, linesBy(started, q.since().minusNanos(1)) + 1);
    if (q.tailLines() >= 0) {
      first = Math.max(first, last - q.tailLines() + 1);
    }
    for (long n = first; n <= last; n++) {
      writeLine(out, started, n, name, container, q.timestamps());
    }
    out.flush();
    if (!q.follow() || job) {
      return;
    }
    AtomicInteger counter =
        followed.computeIfAbsent(pod.getMetadata().getNamespace(), k -> new AtomicInteger());
    counter.incrementAndGet();
    try {
      follow(out, pod, container, q, started, last);
    } finally {
      counter.decrementAndGet();
    }
  }

  /** Writes each new line when it is due until the pod is gone or the reader left. */
  private void follow(
      OutputStream out, Pod pod, String container, LogQuery q, Instant started, long last)
      throws IOException {
    String ns = pod.getMetadata().getNamespace();
    String name = pod.getMetadata().getName();
    String uid = pod.getMetadata().getUid();
    for (long n = last + 1; !closed; n++) {
      Instant at = lineAt(started, n);
      Duration wait = Duration.between(Instant.now(), at);
      try {
        if (wait.isPositive() && closing.await(wait.toNanos(), TimeUnit.NANOSECONDS)) {
          return;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      Pod now = pods.getStore().getByKey(ns + "/" + name);
      if (now == null
          || !uid.equals(now.getMetadata().getUid())
          || now.getMetadata().getDeletionTimestamp() != null) {
        return; // the pod is gone: a kubelet ends the stream
      }
      writeLine(out, started, n, name, container, q.timestamps());
      out.flush();
    }
  }

  private static long linesBy(Instant started, Instant t) {
    if (t.isBefore(started)) {
      return 0;
    }
    return Duration.between(started, t).toNanos() / LOG_INTERVAL.toNanos();
  }

  private static Instant lineAt(Instant started, long n) {
    return started.plus(LOG_INTERVAL.multipliedBy(n));
  }

  private static void writeLine(
      OutputStream out, Instant started, long n, String pod, String container, boolean timestamps)
      throws IOException {
    String text = logLine(n, pod, container) + "\n";
    if (timestamps) {
      text = RFC3339_NANO.format(lineAt(started, n)) + " " + text;
    }
    out.write(text.getBytes(StandardCharsets.UTF_8));
  }

  private static void plain(HttpExchange exchange, int status, String message) throws IOException {
    byte[] body = message.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "text/plain");
    exchange.sendResponseHeaders(status, body.length);
    exchange.getResponseBody().write(body);
  }

  private static Map<String, String> query(String raw) {
    Map<String, String> out = new HashMap<>();
    if (raw == null || raw.isEmpty()) {
      return out;
    }
    for (String pair : raw.split("&")) {
      int eq = pair.indexOf('=');
      String key = decode(eq < 0 ? pair : pair.substring(0, eq));
      out.put(key, eq < 0 ? "" : decode(pair.substring(eq + 1)));
    }
    return out;
  }

  private static String decode(String s) {
    return URLDecoder.decode(s, StandardCharsets.UTF_8);
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
