package io.edgefleet.agent.runtime.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.AppHealth.State;
import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.DriftRepair;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.protocol.json.JsonCodec;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs apps on the node's Kubernetes (K3s) cluster by server-side apply.
 *
 * <p>Every object of an app's manifests is applied with field manager {@value #FIELD_MANAGER},
 * forcing conflicts, and labelled {@code app.kubernetes.io/managed-by=edgefleet} and {@code
 * edgefleet.io/app=<app>}, annotated {@code edgefleet.io/revision=<revision>}. Any kind works,
 * custom resources included (plural and scope come from API discovery; a CRD and its resources may
 * come in the same manifests). Namespaces in the manifests are applied first; a namespace that the
 * manifests use without declaring is created if it is missing, labelled as managed by edgefleet but
 * owned by no app, so edgefleet never deletes it (another app may share it).
 *
 * <p>What was applied is recorded per app in the ConfigMap {@code edgefleet-inventory-<app>} of the
 * namespace {@value #SYSTEM_NAMESPACE}. An apply deletes (in the background) objects of the
 * previous inventory that the new manifests no longer name, but only those that still carry the
 * app's label: edgefleet never deletes what it does not own. The inventory is written before the
 * apply starts, as the union of old and new objects, so an apply cut short leaves nothing behind
 * that a later apply or {@link #remove} would not find.
 *
 * <p>Drift: re-applying the revision in effect first compares each object of the inventory with the
 * cluster (one GET each). What is gone, relabelled, or lost a field edgefleet owns (told by field
 * ownership in {@code metadata.managedFields}, fingerprinted in the inventory) is repaired and
 * reported in {@link ApplyOutcome.Applied#repaired()}.
 *
 * <p>Threading: thread-safe. Calls for the same app are serialized by a per-app lock; different
 * apps proceed in parallel. Every request to the API server is bounded by the request timeout and
 * never retried here: callers retry on {@link ApplyOutcome.RetryAfter}.
 */
public final class KubernetesRuntime implements WorkloadRuntime {

  /** Where K3s writes its admin kubeconfig. */
  public static final Path DEFAULT_KUBECONFIG = Path.of("/etc/rancher/k3s/k3s.yaml");

  static final String FIELD_MANAGER = "edgefleet";
  static final String SYSTEM_NAMESPACE = "edgefleet-system";

  private final String inventoryNamespace;
  private final Supplier<String> writer;
  static final String INVENTORY_PREFIX = "edgefleet-inventory-";
  static final String INVENTORY_LABEL = "edgefleet.io/inventory";

  /**
   * On an inventory: the device whose agent applied it last. Members of one K3s cluster share its
   * API server and so its inventories; each prunes only what it applied itself.
   */
  static final String WRITER_LABEL = "edgefleet.io/applied-by";

  /** An app name must be a DNS label: it becomes a label value and part of the inventory name. */
  private static final Pattern APP_NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");

  private static final ApiResource NAMESPACES =
      new ApiResource("v1", "Namespace", "namespaces", false);
  private static final ApiResource CONFIG_MAPS =
      new ApiResource("v1", "ConfigMap", "configmaps", true);
  private static final ApiResource PODS = new ApiResource("v1", "Pod", "pods", true);
  private static final Duration CRD_PENDING_DELAY = Duration.ofSeconds(2);
  private static final Logger log = LoggerFactory.getLogger(KubernetesRuntime.class);

  /**
   * How the runtime connects.
   *
   * @param kubeconfig the kubeconfig file (its current context is used)
   * @param requestTimeout bound of one request to the API server (and of connecting)
   * @param unreachableDelay the {@link ApplyOutcome.RetryAfter} delay when the server did not
   *     answer
   * @param busyDelay the delay when it answered "not now" (409, 429, 5xx)
   * @param inventoryNamespace where the app inventories live
   * @param writer this device's id (null while it has none), recorded on the inventories it writes:
   *     {@link #ownedApps()} leaves out inventories another device wrote
   */
  public record Options(
      Path kubeconfig,
      Duration requestTimeout,
      Duration unreachableDelay,
      Duration busyDelay,
      String inventoryNamespace,
      Supplier<String> writer) {
    public Options {
      Objects.requireNonNull(kubeconfig, "kubeconfig");
      Objects.requireNonNull(writer, "writer");
      if (inventoryNamespace == null
          || !inventoryNamespace.matches("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")) {
        throw new IllegalArgumentException(
            "the inventory namespace must be a DNS label, got " + inventoryNamespace);
      }
      for (Duration d : List.of(requestTimeout, unreachableDelay, busyDelay)) {
        if (d.isNegative() || d.isZero()) {
          throw new IllegalArgumentException("durations must be positive");
        }
      }
    }

    /** K3s's kubeconfig, 30 s requests, retry after 15 s (unreachable) or 5 s (busy). */
    public static Options defaults() {
      return of(DEFAULT_KUBECONFIG);
    }

    public static Options of(Path kubeconfig) {
      return new Options(
          kubeconfig,
          Duration.ofSeconds(30),
          Duration.ofSeconds(15),
          Duration.ofSeconds(5),
          SYSTEM_NAMESPACE,
          () -> null);
    }

    public Options withRequestTimeout(Duration d) {
      return new Options(kubeconfig, d, unreachableDelay, busyDelay, inventoryNamespace, writer);
    }

    public Options withRetryDelays(Duration unreachable, Duration busy) {
      return new Options(kubeconfig, requestTimeout, unreachable, busy, inventoryNamespace, writer);
    }

    /**
     * The device this agent is ({@code id} answers null until it is enrolled): inventories it
     * writes carry it, and it prunes only apps whose inventory it wrote (or that carry no device).
     * Members of one K3s cluster share inventories: a cluster-scoped app applied by one member is
     * not pruned by the others, and a member that takes over applying it takes its inventory over.
     */
    public Options withWriter(Supplier<String> id) {
      return new Options(
          kubeconfig, requestTimeout, unreachableDelay, busyDelay, inventoryNamespace, id);
    }

    /**
     * Where the app inventories live (default {@value #SYSTEM_NAMESPACE}). Agents that share one
     * cluster keep separate inventories, so none of them prunes what another applied.
     */
    public Options withInventoryNamespace(String namespace) {
      return new Options(
          kubeconfig, requestTimeout, unreachableDelay, busyDelay, namespace, writer);
    }
  }

  /**
   * How objects are written. Server-side apply on every real API server; create-or-replace only for
   * the mock API server of unit tests, which cannot apply.
   */
  enum WriteMode {
    SERVER_SIDE_APPLY,
    CREATE_OR_REPLACE
  }

  /** The manifests resolved against the cluster, or why they cannot be applied. */
  private sealed interface Plan {
    record Ready(List<Planned> objects) implements Plan {}

    record Rejected(ApplyOutcome.Failed failed) implements Plan {}
  }

  /** One object of the manifests, ready to apply. */
  private record Planned(
      int document,
      ObjectRef ref,
      ApiResource resource,
      ObjectNode object,
      boolean declaredByCrd) {}

  private final KubeApi api;
  private final WriteMode writeMode;
  private final ApiErrors errors;
  private final ResourceCatalog catalog;
  private final KubernetesSecrets secrets;
  private final Map<String, ReentrantLock> locks = new ConcurrentHashMap<>();
  private final AtomicBoolean closed = new AtomicBoolean();

  /** Connects with K3s's kubeconfig, {@link #DEFAULT_KUBECONFIG}. */
  public KubernetesRuntime() {
    this(Options.defaults());
  }

  public KubernetesRuntime(Path kubeconfig) {
    this(Options.of(kubeconfig));
  }

  /**
   * Reads the kubeconfig and prepares a client; does not contact the API server, so the runtime may
   * be created before the cluster is up.
   *
   * @throws IllegalArgumentException if the kubeconfig is missing, unreadable or unusable
   */
  public KubernetesRuntime(Options options) {
    this(
        KubeApi.of(Kubeconfig.load(options.kubeconfig()), options.requestTimeout()),
        options,
        WriteMode.SERVER_SIDE_APPLY);
  }

  /** For tests: an existing client (closed by {@link #close()}). */
  KubernetesRuntime(KubeApi api, Options options, WriteMode writeMode) {
    this.api = api;
    this.writeMode = writeMode;
    this.errors = new ApiErrors(options.unreachableDelay(), options.busyDelay());
    this.catalog = new ResourceCatalog(api);
    this.inventoryNamespace = options.inventoryNamespace();
    this.writer = options.writer();
    this.secrets = new KubernetesSecrets(api, errors, this::ensureNamespace);
  }

  /** The agent's secrets, as Kubernetes Secrets it owns. */
  @Override
  public Optional<io.edgefleet.agent.runtime.SecretStore> secrets() {
    ensureOpen();
    return Optional.of(secrets);
  }

  @Override
  public ApplyOutcome apply(String app, String revision, String manifestsYaml) {
    Objects.requireNonNull(revision, "revision");
    Objects.requireNonNull(manifestsYaml, "manifestsYaml");
    ensureOpen();
    Optional<String> invalid = invalidApp(app);
    if (invalid.isPresent()) {
      return new ApplyOutcome.Failed(invalid.get());
    }
    return locked(app, () -> applyLocked(app, revision, manifestsYaml));
  }

  @Override
  public ApplyOutcome remove(String app) {
    ensureOpen();
    Optional<String> invalid = invalidApp(app);
    if (invalid.isPresent()) {
      return new ApplyOutcome.Failed(invalid.get());
    }
    return locked(app, () -> removeLocked(app));
  }

  /**
   * {@inheritDoc}
   *
   * <p>An error the API server answers that retrying cannot fix (403: the kubeconfig's user may not
   * read the app's objects) is reported as {@link State#FAILED} with the server's message.
   */
  @Override
  public AppHealth health(String app) {
    ensureOpen();
    Optional<String> invalid = invalidApp(app);
    if (invalid.isPresent()) {
      return new AppHealth(State.FAILED, invalid.get());
    }
    try {
      return healthOf(app);
    } catch (KubeApiException e) {
      if (ApiErrors.retryable(e)) {
        throw errors.forQuery("health of app " + app, e);
      }
      return new AppHealth(State.FAILED, "cannot read app " + app + ": " + ApiErrors.describe(e));
    }
  }

  /**
   * {@inheritDoc}
   *
   * <p>Apps whose inventory ConfigMap exists in the inventory namespace, leaving out those another
   * device applied last ({@link Options#withWriter}).
   *
   * @throws IllegalStateException when the API server refuses the list (the kubeconfig's user may
   *     not read ConfigMaps there)
   */
  @Override
  public Set<String> ownedApps() {
    ensureOpen();
    String me = writer.get();
    try {
      Set<String> apps = new TreeSet<>();
      for (ObjectNode cm :
          api.list(CONFIG_MAPS.collectionPath(inventoryNamespace), INVENTORY_LABEL + "=true")) {
        String name = cm.path("metadata").path("name").asText();
        String by = cm.path("metadata").path("labels").path(WRITER_LABEL).asText("");
        if (name.startsWith(INVENTORY_PREFIX) && (me == null || by.isEmpty() || by.equals(me))) {
          apps.add(name.substring(INVENTORY_PREFIX.length()));
        }
      }
      return Set.copyOf(apps);
    } catch (KubeApiException e) {
      throw errors.forQuery("list inventories", e);
    }
  }

  /**
   * {@inheritDoc}
   *
   * <p>The API server's {@code /version} and its discovery documents {@code /api} and {@code
   * /apis}: three small requests.
   *
   * @throws IllegalStateException when the API server refuses them (the kubeconfig's user may not
   *     read discovery)
   */
  @Override
  public Optional<Cluster> cluster() {
    ensureOpen();
    try {
      return Optional.of(new Cluster(api.serverVersion(), api.groupVersions()));
    } catch (KubeApiException e) {
      throw errors.forQuery("read the cluster's version", e);
    }
  }

  /**
   * {@inheritDoc}
   *
   * <p>The containers of the pods labelled {@code edgefleet.io/app=<app>} (the label is on every
   * pod template the runtime applies) in the namespaces of the app's inventory, that are bound to a
   * node; sorted by namespace, pod and container.
   *
   * @throws IllegalStateException when the API server refuses the list (403)
   */
  @Override
  public List<LogSource> logSources(String app) {
    ensureOpen();
    Optional<String> invalid = invalidApp(app);
    if (invalid.isPresent()) {
      throw new IllegalArgumentException(invalid.get());
    }
    try {
      Optional<Inventory> inventory = readInventory(app);
      if (inventory.isEmpty()) {
        return List.of();
      }
      Set<String> namespaces = new TreeSet<>();
      for (Inventory.Entry e : inventory.get().entries()) {
        if (!e.ref().clusterScoped()) {
          namespaces.add(e.ref().namespace());
        }
      }
      List<LogSource> sources = new ArrayList<>();
      for (String namespace : namespaces) {
        for (ObjectNode pod : api.list(PODS.collectionPath(namespace), Ownership.APP + "=" + app)) {
          JsonNode spec = pod.path("spec");
          if (spec.path("nodeName").asText("").isEmpty()) {
            continue; // not scheduled yet: no container has written anything
          }
          String name = pod.path("metadata").path("name").asText();
          for (JsonNode c : spec.path("containers")) {
            sources.add(new LogSource(namespace, name, c.path("name").asText()));
          }
        }
      }
      sources.sort(
          java.util.Comparator.comparing(LogSource::namespace)
              .thenComparing(LogSource::pod)
              .thenComparing(LogSource::container));
      return List.copyOf(sources);
    } catch (KubeApiException e) {
      throw errors.forQuery("list the pods of app " + app, e);
    }
  }

  /**
   * {@inheritDoc}
   *
   * <p>Reads {@code pods/log} of the API server (which asks the node's kubelet) with timestamps,
   * over the runtime's own HTTP client: no port is opened on the node.
   */
  @Override
  public LogStream readLogs(LogSource source, LogQuery query, LogSink sink) {
    ensureOpen();
    StringBuilder path =
        new StringBuilder(PODS.path(source.namespace(), source.pod()))
            .append("/log?timestamps=true&container=")
            .append(URLEncoder.encode(source.container(), StandardCharsets.UTF_8))
            .append("&tailLines=")
            .append(query.tailLines());
    if (query.follow()) {
      path.append("&follow=true");
    }
    if (query.since().isAfter(Instant.EPOCH)) {
      // Whole seconds only: the caller drops the lines it already has.
      path.append("&sinceTime=")
          .append(query.since().truncatedTo(java.time.temporal.ChronoUnit.SECONDS));
    }
    PodLog log = new PodLog(source, sink);
    log.request = api.streamLines(path.toString(), log);
    log.request.whenComplete((ok, error) -> log.ended(error));
    return log;
  }

  /** One pod container's log being read: parses the kubelet's timestamp prefix of each line. */
  private static final class PodLog implements LogStream, Flow.Subscriber<String> {
    private final LogSource source;
    private final LogSink sink;
    private final AtomicBoolean finished = new AtomicBoolean();
    private volatile boolean closed;
    private volatile Flow.Subscription subscription;
    private volatile CompletableFuture<Void> request;
    private Instant last = Instant.EPOCH;

    PodLog(LogSource source, LogSink sink) {
      this.source = source;
      this.sink = sink;
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
      subscription = s;
      if (closed) {
        s.cancel();
      } else {
        s.request(Long.MAX_VALUE);
      }
    }

    @Override
    public void onNext(String text) {
      if (closed || finished.get()) {
        return;
      }
      String line = text.endsWith("\r") ? text.substring(0, text.length() - 1) : text;
      int space = line.indexOf(' ');
      Instant at = last;
      if (space > 0) {
        try {
          at = Instant.parse(line.substring(0, space));
          line = line.substring(space + 1);
        } catch (DateTimeParseException e) {
          // No timestamp (a line the kubelet did not write): keep it, at the previous time.
        }
      }
      last = at;
      sink.line(at, line);
    }

    @Override
    public void onError(Throwable error) {
      ended(error);
    }

    @Override
    public void onComplete() {
      ended(null);
    }

    void ended(Throwable error) {
      if (closed || !finished.compareAndSet(false, true)) {
        return;
      }
      if (error == null) {
        sink.completed();
        return;
      }
      Throwable cause =
          error instanceof CompletionException c && c.getCause() != null ? c.getCause() : error;
      String why =
          cause instanceof KubeApiException k
              ? ApiErrors.describe(k)
              : "API server unreachable (" + cause + ")";
      sink.failed("log of " + source.pod() + "/" + source.container() + ": " + why);
    }

    @Override
    public void close() {
      closed = true;
      Flow.Subscription s = subscription;
      if (s != null) {
        s.cancel();
      }
      CompletableFuture<Void> r = request;
      if (r != null) {
        r.cancel(true);
      }
    }
  }

  /** Closes the client; idempotent. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      api.close();
    }
  }

  // ---- apply ----

  private ApplyOutcome applyLocked(String app, String revision, String yaml) {
    List<Manifests.Document> documents;
    switch (Manifests.parse(yaml)) {
      case Manifests.Parsed.Malformed m -> {
        return new ApplyOutcome.Failed(m.reason());
      }
      case Manifests.Parsed.Objects o -> documents = o.objects();
    }
    List<Planned> plan;
    try {
      switch (plan(documents)) {
        case Plan.Rejected r -> {
          return r.failed();
        }
        case Plan.Ready r -> plan = r.objects();
      }
    } catch (KubeApiException e) {
      return errors.outcome("discover kinds", e);
    }
    String digest = Manifests.digest(app, revision, yaml);
    Optional<Inventory> previous;
    // What this apply repairs: only when it re-applies the revision and manifests already in
    // effect.
    List<DriftRepair> drift = List.of();
    try {
      Optional<ObjectNode> held =
          api.get(CONFIG_MAPS.path(inventoryNamespace, INVENTORY_PREFIX + app));
      previous = held.map(KubernetesRuntime::inventoryOf);
      if (previous.isPresent()
          && previous.get().complete()
          && previous.get().digest().equals(digest)) {
        switch (compare(previous.get(), plan, app, revision)) {
          case Comparison.InSync s -> {
            if (writtenByAnother(held.get())) {
              // Another member of the cluster applied it; this one applies it now.
              writeInventory(app, previous.get());
            }
            return new ApplyOutcome.InSync();
          }
          case Comparison.Stale s -> drift = s.drift();
        }
      }
    } catch (KubeApiException e) {
      return errors.outcome("read inventory of app " + app, e);
    }
    List<ObjectRef> refs = plan.stream().map(Planned::ref).toList();
    try {
      ensureNamespace(inventoryNamespace);
      writeInventory(app, previous.orElse(Inventory.empty()).intending(refs));
    } catch (KubeApiException e) {
      return errors.outcome("write inventory of app " + app, e);
    }
    Set<String> declaredNamespaces = new LinkedHashSet<>();
    Set<String> usedNamespaces = new LinkedHashSet<>();
    for (Planned p : plan) {
      Ownership.stamp(p.object(), app, revision);
      if (isNamespace(p.ref())) {
        declaredNamespaces.add(p.ref().name());
      } else if (!p.ref().clusterScoped()) {
        usedNamespaces.add(p.ref().namespace());
      }
    }
    usedNamespaces.removeAll(declaredNamespaces);
    for (String namespace : usedNamespaces) {
      try {
        ensureNamespace(namespace);
      } catch (KubeApiException e) {
        return errors.outcome("create namespace " + namespace, e);
      }
    }
    List<Inventory.Entry> applied = new ArrayList<>();
    Set<String> awaitingCrds = new LinkedHashSet<>();
    for (Planned p : plan) {
      try {
        ObjectNode live = write(p);
        applied.add(new Inventory.Entry(p.ref(), stampOf(live), fieldsOf(live)));
      } catch (KubeApiException e) {
        if (p.declaredByCrd() && e.status() == 404) {
          // The CRD was applied a moment ago; the API server serves its kind once established.
          awaitingCrds.add(p.ref().kind());
          continue;
        }
        return errors.outcome(
            "apply " + p.ref().describe() + " (document " + p.document() + ")", e);
      }
    }
    if (!awaitingCrds.isEmpty()) {
      return new ApplyOutcome.RetryAfter(
          CRD_PENDING_DELAY,
          "waiting for the API server to serve "
              + String.join(", ", awaitingCrds)
              + " (its CustomResourceDefinition was just applied)");
    }
    int pruned = 0;
    if (previous.isPresent()) {
      for (ObjectRef gone : previous.get().pruneCandidates(refs)) {
        try {
          if (deleteIfOwned(gone, app)) {
            pruned++;
          }
        } catch (KubeApiException e) {
          return errors.outcome("prune " + gone.describe(), e);
        }
      }
    }
    try {
      writeInventory(app, new Inventory(applied, revision, digest));
    } catch (KubeApiException e) {
      return errors.outcome("write inventory of app " + app, e);
    }
    if (!drift.isEmpty()) {
      log.info("app {}: {}", app, drift.stream().map(DriftRepair::describe).toList());
    }
    return new ApplyOutcome.Applied(plan.size(), pruned, drift);
  }

  /**
   * Resolves every document's kind and namespace, namespaces first, then CRDs, then the rest in
   * document order; or rejects the manifests before anything is applied.
   */
  private Plan plan(List<Manifests.Document> documents) {
    Map<String, ApiResource> declared = new HashMap<>();
    for (Manifests.Document d : documents) {
      if (ResourceCatalog.isCrd(d.object())) {
        for (ApiResource r : ResourceCatalog.declaredBy(d.object())) {
          declared.put(r.apiVersion() + "|" + r.kind(), r);
        }
      }
    }
    List<Planned> namespaces = new ArrayList<>();
    List<Planned> crds = new ArrayList<>();
    List<Planned> rest = new ArrayList<>();
    Map<String, Integer> seen = new HashMap<>();
    for (Manifests.Document d : documents) {
      Optional<ApiResource> resource = catalog.resolve(d.apiVersion(), d.kind());
      boolean byCrd = false;
      if (resource.isEmpty()) {
        ApiResource r = declared.get(d.apiVersion() + "|" + d.kind());
        if (r == null) {
          return new Plan.Rejected(
              new ApplyOutcome.Failed(
                  "document "
                      + d.index()
                      + ": the cluster has no kind "
                      + d.kind()
                      + " in "
                      + d.apiVersion()));
        }
        resource = Optional.of(r);
        byCrd = true;
      }
      String namespace = "";
      if (resource.get().namespaced()) {
        namespace = d.metadata().path("namespace").asText("");
        if (namespace.isBlank()) {
          namespace = api.defaultNamespace();
        }
        d.metadata().put("namespace", namespace);
      } else {
        d.metadata().remove("namespace");
      }
      ObjectRef ref = new ObjectRef(d.apiVersion(), d.kind(), namespace, d.name());
      Integer earlier = seen.putIfAbsent(ref.identity(), d.index());
      if (earlier != null) {
        return new Plan.Rejected(
            new ApplyOutcome.Failed(
                "document "
                    + d.index()
                    + ": "
                    + ref.describe()
                    + (namespace.isEmpty() ? "" : " in namespace " + namespace)
                    + " is already in document "
                    + earlier));
      }
      Planned p = new Planned(d.index(), ref, resource.get(), d.object(), byCrd);
      if (isNamespace(ref)) {
        namespaces.add(p);
      } else if (ResourceCatalog.isCrd(d.object())) {
        crds.add(p);
      } else {
        rest.add(p);
      }
    }
    List<Planned> plan = new ArrayList<>(namespaces);
    plan.addAll(crds);
    plan.addAll(rest);
    return new Plan.Ready(List.copyOf(plan));
  }

  /** How the cluster compares with a complete inventory of the same revision and manifests. */
  private sealed interface Comparison {
    /** Every object is there as applied: nothing to write. */
    record InSync() implements Comparison {}

    /**
     * Something was written since: apply again. {@code drift} names what someone else deleted or
     * changed among the fields edgefleet manages; it may be empty (someone wrote fields that are
     * not edgefleet's, such as a status or an annotation of their own, which the apply leaves as
     * they are).
     */
    record Stale(List<DriftRepair> drift) implements Comparison {}
  }

  /**
   * Compares every object of a complete inventory with the cluster, with the one GET per object
   * that the in-sync check needs anyway: present, still labelled for the app at this revision, the
   * fields edgefleet owns unchanged (same fingerprint), and not written since (same stamp). What is
   * missing, relabelled or lost a field edgefleet owns is drift; a write that left edgefleet's
   * fields alone only makes the objects stale. An entry without fingerprint (an older agent's) is
   * stale when its stamp moved, never drift: a false alarm is worse than a missed one-off. The
   * create-or-replace mode of unit tests tracks no field managers: there a write is drift.
   */
  private Comparison compare(Inventory inventory, List<Planned> plan, String app, String revision) {
    Map<String, Planned> planned = new HashMap<>();
    for (Planned p : plan) {
      planned.put(p.ref().identity(), p);
    }
    boolean stale = false;
    List<DriftRepair> drift = new ArrayList<>();
    for (Inventory.Entry e : inventory.entries()) {
      Planned p = planned.get(e.ref().identity());
      if (p == null) {
        stale = true; // cannot be with the same digest; apply rather than guess
        continue;
      }
      Optional<ObjectNode> live = api.get(p.resource().path(e.ref().namespace(), e.ref().name()));
      if (live.isEmpty()) {
        drift.add(new DriftRepair(describe(e.ref()), DriftRepair.Cause.DELETED));
      } else if (!Ownership.ownedBy(live.get(), app)
          || !revision.equals(Ownership.revisionOf(live.get()))) {
        drift.add(new DriftRepair(describe(e.ref()), DriftRepair.Cause.CHANGED));
      } else {
        boolean written = !stampOf(live.get()).equals(e.stamp());
        // The fingerprint also catches what leaves the stamp alone: a label or annotation of the
        // manifests changed on a kind with a generation, which moves only with the spec.
        boolean fieldsChanged =
            switch (writeMode) {
              case SERVER_SIDE_APPLY ->
                  (!e.fields().isEmpty() && !fieldsOf(live.get()).equals(e.fields()))
                      || (written && scaledAway(p.object(), live.get()));
              case CREATE_OR_REPLACE -> written;
            };
        if (fieldsChanged) {
          drift.add(new DriftRepair(describe(e.ref()), DriftRepair.Cause.CHANGED));
        } else if (written) {
          stale = true;
        }
      }
    }
    return stale || !drift.isEmpty()
        ? new Comparison.Stale(List.copyOf(drift))
        : new Comparison.InSync();
  }

  /**
   * Whether the manifests set {@code spec.replicas} and the live object has another number. Writes
   * through the {@code scale} subresource ({@code kubectl scale}) do not move field ownership on
   * Kubernetes before 1.22, so the fingerprint misses them; this one number is compared directly.
   */
  private static boolean scaledAway(ObjectNode manifest, JsonNode live) {
    JsonNode wanted = manifest.path("spec").path("replicas");
    return wanted.isIntegralNumber()
        && wanted.asLong() != live.path("spec").path("replicas").asLong(-1);
  }

  /** For people and events: {@code Deployment web/web}, {@code Namespace shop}. */
  private static String describe(ObjectRef ref) {
    return ref.kind() + " " + (ref.clusterScoped() ? "" : ref.namespace() + "/") + ref.name();
  }

  private ObjectNode write(Planned p) {
    ObjectRef ref = p.ref();
    String path = p.resource().path(ref.namespace(), ref.name());
    ObjectNode live =
        switch (writeMode) {
          case SERVER_SIDE_APPLY -> api.apply(path, p.object(), FIELD_MANAGER);
          case CREATE_OR_REPLACE ->
              createOrReplace(p.resource().collectionPath(ref.namespace()), path, p.object());
        };
    if (p.declaredByCrd()) {
      catalog.forget(ref.apiVersion());
    }
    return live;
  }

  private ObjectNode createOrReplace(String collection, String path, ObjectNode object) {
    Optional<ObjectNode> existing = api.get(path);
    if (existing.isEmpty()) {
      return api.create(collection, object);
    }
    ObjectNode copy = object.deepCopy();
    ((ObjectNode) copy.get("metadata"))
        .put("resourceVersion", existing.get().path("metadata").path("resourceVersion").asText(""));
    return api.replace(path, copy);
  }

  /** Deletes the object if it exists and still carries the app's label; answers whether it did. */
  private boolean deleteIfOwned(ObjectRef ref, String app) {
    Optional<ApiResource> resource = catalog.resolve(ref.apiVersion(), ref.kind());
    if (resource.isEmpty()) {
      return false; // its kind is gone, and with it every object of the kind
    }
    String path = resource.get().path(ref.namespace(), ref.name());
    Optional<ObjectNode> live = api.get(path);
    if (live.isEmpty()) {
      return false;
    }
    if (!Ownership.ownedBy(live.get(), app)) {
      log.info("not deleting {}: it is no longer labelled {}={}", ref, Ownership.APP, app);
      return false;
    }
    // The precondition makes the delete fail (409, retried) if the object changed meanwhile,
    // relabelled for another app, say.
    String version = live.get().path("metadata").path("resourceVersion").asText("");
    if (api.delete(path, version)) {
      log.info("deleted {} of app {}", ref, app);
      return true;
    }
    return false;
  }

  private static String stampOf(JsonNode live) {
    JsonNode meta = live.path("metadata");
    long generation = meta.path("generation").asLong(0);
    if (generation > 0) {
      return "g" + generation;
    }
    String version = meta.path("resourceVersion").asText("");
    return version.isEmpty() ? "" : "r" + version;
  }

  /**
   * A fingerprint of the fields that edgefleet's server-side apply owns in {@code live}: the {@code
   * fieldsV1} of its {@code Apply} entry in {@code metadata.managedFields}, hashed; "" when the
   * object has no such entry. The API server keeps this set exact: whoever changes the value of a
   * field (kubectl edit, scale, patch, a forced apply) takes its ownership away from edgefleet, and
   * a removed field leaves it, so the fingerprint moves exactly when a managed field was changed by
   * someone else, and not when others write their own fields or a status.
   */
  static String fieldsOf(JsonNode live) {
    for (JsonNode entry : live.path("metadata").path("managedFields")) {
      if (FIELD_MANAGER.equals(entry.path("manager").asText())
          && "Apply".equals(entry.path("operation").asText())
          && entry.path("subresource").asText("").isEmpty()) {
        byte[] hash;
        try {
          hash =
              MessageDigest.getInstance("SHA-256")
                  .digest(JsonCodec.writeBytes(entry.path("fieldsV1")));
        } catch (NoSuchAlgorithmException e) {
          throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
        return "f" + HexFormat.of().formatHex(hash, 0, 12);
      }
    }
    return "";
  }

  // ---- remove ----

  private ApplyOutcome removeLocked(String app) {
    Optional<Inventory> inventory;
    try {
      inventory = readInventory(app);
    } catch (KubeApiException e) {
      return errors.outcome("read inventory of app " + app, e);
    }
    if (inventory.isEmpty()) {
      return new ApplyOutcome.InSync();
    }
    int deleted = 0;
    for (ObjectRef ref : inventory.get().pruneCandidates(List.of())) {
      try {
        if (deleteIfOwned(ref, app)) {
          deleted++;
        }
      } catch (KubeApiException e) {
        return errors.outcome("delete " + ref.describe(), e);
      }
    }
    try {
      api.delete(CONFIG_MAPS.path(inventoryNamespace, INVENTORY_PREFIX + app), "");
    } catch (KubeApiException e) {
      return errors.outcome("delete inventory of app " + app, e);
    }
    return new ApplyOutcome.Applied(0, deleted);
  }

  // ---- health ----

  private AppHealth healthOf(String app) {
    Optional<Inventory> inventory = readInventory(app);
    if (inventory.isEmpty()) {
      return new AppHealth(State.MISSING, "app " + app + " has no objects in the cluster");
    }
    List<AppHealth> parts = new ArrayList<>();
    Set<String> namespaces = new LinkedHashSet<>();
    for (Inventory.Entry e : inventory.get().entries()) {
      ObjectRef ref = e.ref();
      Optional<ApiResource> resource = catalog.resolve(ref.apiVersion(), ref.kind());
      if (resource.isEmpty()) {
        parts.add(
            new AppHealth(
                State.MISSING, ref.describe() + ": the cluster no longer serves " + ref.kind()));
        continue;
      }
      Optional<ObjectNode> live = api.get(resource.get().path(ref.namespace(), ref.name()));
      if (live.isEmpty()) {
        parts.add(new AppHealth(State.MISSING, ref.describe() + " is missing"));
      } else if (!Ownership.ownedBy(live.get(), app)) {
        parts.add(
            new AppHealth(State.MISSING, ref.describe() + " is no longer labelled for app " + app));
      } else {
        parts.add(Readiness.of(live.get()));
        if (!ref.clusterScoped()) {
          namespaces.add(ref.namespace());
        }
      }
    }
    for (String namespace : namespaces) {
      for (ObjectNode pod : api.list(PODS.collectionPath(namespace), Ownership.APP + "=" + app)) {
        Readiness.podFailure(pod).ifPresent(why -> parts.add(new AppHealth(State.FAILED, why)));
      }
    }
    return Readiness.combine(parts);
  }

  // ---- cluster access ----

  private Optional<Inventory> readInventory(String app) {
    return api.get(CONFIG_MAPS.path(inventoryNamespace, INVENTORY_PREFIX + app))
        .map(KubernetesRuntime::inventoryOf);
  }

  private static Inventory inventoryOf(JsonNode cm) {
    Map<String, String> data = new HashMap<>();
    cm.path("data").properties().forEach(f -> data.put(f.getKey(), f.getValue().asText()));
    return Inventory.fromData(data);
  }

  /** Whether the inventory names another device than this one as its writer. */
  private boolean writtenByAnother(JsonNode cm) {
    String me = writer.get();
    return me != null
        && !me.equals(cm.path("metadata").path("labels").path(WRITER_LABEL).asText(""));
  }

  private void writeInventory(String app, Inventory inventory) {
    ObjectNode cm = KubeApi.JSON.objectNode();
    cm.put("apiVersion", "v1").put("kind", "ConfigMap");
    ObjectNode meta = cm.putObject("metadata");
    meta.put("name", INVENTORY_PREFIX + app).put("namespace", inventoryNamespace);
    ObjectNode labels =
        meta.putObject("labels")
            .put(Ownership.MANAGED_BY, Ownership.MANAGER)
            .put(Ownership.APP, app)
            .put(INVENTORY_LABEL, "true");
    String me = writer.get();
    if (me != null) {
      labels.put(WRITER_LABEL, me);
    }
    ObjectNode data = cm.putObject("data");
    inventory.toData().forEach(data::put);
    String path = CONFIG_MAPS.path(inventoryNamespace, INVENTORY_PREFIX + app);
    switch (writeMode) {
      case SERVER_SIDE_APPLY -> api.apply(path, cm, FIELD_MANAGER);
      case CREATE_OR_REPLACE ->
          createOrReplace(CONFIG_MAPS.collectionPath(inventoryNamespace), path, cm);
    }
  }

  /** Creates the namespace if it does not exist; never deletes or relabels an existing one. */
  private void ensureNamespace(String name) {
    if (api.get(NAMESPACES.path("", name)).isPresent()) {
      return;
    }
    ObjectNode ns = KubeApi.JSON.objectNode();
    ns.put("apiVersion", "v1").put("kind", "Namespace");
    ns.putObject("metadata")
        .put("name", name)
        .putObject("labels")
        .put(Ownership.MANAGED_BY, Ownership.MANAGER);
    try {
      api.create(NAMESPACES.collectionPath(""), ns);
    } catch (KubeApiException e) {
      if (e.status() != 409) { // created meanwhile by someone else: fine
        throw e;
      }
    }
  }

  private static boolean isNamespace(ObjectRef ref) {
    return ref.group().isEmpty() && "Namespace".equals(ref.kind());
  }

  // ---- plumbing ----

  private <T> T locked(String app, Supplier<T> work) {
    ReentrantLock lock = locks.computeIfAbsent(app, a -> new ReentrantLock());
    lock.lock();
    try {
      return work.get();
    } finally {
      lock.unlock();
    }
  }

  private void ensureOpen() {
    if (closed.get()) {
      throw new IllegalStateException("runtime closed");
    }
  }

  static Optional<String> invalidApp(String app) {
    Objects.requireNonNull(app, "app");
    if (APP_NAME.matcher(app).matches()) {
      return Optional.empty();
    }
    return Optional.of(
        "invalid app name '"
            + app
            + "': use lower-case letters, digits and '-', at most 63 characters");
  }
}
