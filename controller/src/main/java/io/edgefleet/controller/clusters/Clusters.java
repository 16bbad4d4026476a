package io.edgefleet.controller.clusters;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.clusters.ClusterModel.State;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.secrets.SecretDelivery;
import io.edgefleet.controller.secrets.SecretDeliveryPolicy;
import io.edgefleet.controller.selector.ProjectScope;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.DeviceSecret;
import io.edgefleet.protocol.ErrorCode;
import java.security.PublicKey;
import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdbi.v3.core.Jdbi;

/**
 * The operators' clusters: create, change, deactivate, delete, rotate the join token; and the
 * token's delivery to members. Every change is planned at once by the {@link ClusterEngine}.
 * Thread-safe.
 */
public final class Clusters {
  /** The K3s version of a cluster created without one. */
  public static final String DEFAULT_KUBERNETES_VERSION = "v1.20.2+k3s1";

  /** Most clusters a controller keeps. */
  public static final int MAX_CLUSTERS = 20_000;

  private final Jdbi jdbi;
  private final Clock clock;
  private final AuditLog audit;
  private final ClusterStore store;
  private final ClusterTokens tokens;
  private final ClusterEngine engine;
  private final ClusterViews views;
  private final SecretDeliveryPolicy policy;

  /** A range of counts. */
  public record Range(Integer min, Integer max) {}

  /** What an operator sends to create (every field) or change (the fields given) a cluster. */
  public record Request(
      String name,
      String selector,
      Range servers,
      Range agents,
      String kubernetesVersion,
      String profile,
      Map<String, String> labels,
      Map<String, Object> config,
      Long graceSeconds,
      String importManifestUrl,
      Boolean deactivated) {}

  /**
   * @param policy refuses the token to a device that may hold no secret now (quarantine)
   */
  public Clusters(
      Jdbi jdbi,
      Clock clock,
      AuditLog audit,
      ClusterStore store,
      ClusterTokens tokens,
      ClusterEngine engine,
      ClusterImports imports,
      SecretDeliveryPolicy policy) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.audit = audit;
    this.store = store;
    this.tokens = tokens;
    this.engine = engine;
    this.policy = policy;
    this.views = new ClusterViews(engine, imports, clock);
  }

  public List<ClusterViews.Summary> list() {
    return jdbi.withHandle(store::all).stream().map(views::summary).toList();
  }

  public ClusterViews.View get(String name) {
    return views.view(row(name));
  }

  /** How many clusters are in each state. */
  public Map<String, Integer> countByState() {
    Map<String, Integer> out = new java.util.TreeMap<>();
    for (ClusterStore.Row r : jdbi.withHandle(store::all)) {
      out.merge(r.state().name(), 1, Integer::sum);
    }
    return out;
  }

  public ClusterViews.View create(Request r, String actor) {
    return create(r, actor, Optional.empty());
  }

  /**
   * Creates a cluster, in a project when one is given: its members are then picked among the
   * project's devices only (the project's selector ANDed with the cluster's).
   */
  public ClusterViews.View create(Request r, String actor, Optional<ProjectScope.Project> project) {
    if (r == null) {
      throw ControllerException.invalid("a cluster needs a body: name, selector, servers, agents");
    }
    String name = ClusterInput.name(r.name());
    Selector given = ClusterInput.selector(r.selector());
    String selector = project.map(p -> given.and(p.selector())).orElse(given).toString();
    Range servers = r.servers() == null ? new Range(1, 1) : r.servers();
    Range agents = r.agents() == null ? new Range(0, 0) : r.agents();
    int smin = orElse(servers.min(), 1);
    int smax = orElse(servers.max(), smin);
    int amin = orElse(agents.min(), 0);
    int amax = orElse(agents.max(), amin);
    ClusterInput.servers(smin, smax);
    ClusterInput.agents(amin, amax);
    String version =
        ClusterInput.version(
            r.kubernetesVersion() == null ? DEFAULT_KUBERNETES_VERSION : r.kubernetesVersion());
    Instant now = clock.instant();
    ClusterTokens.Sealed token = tokens.fresh(name, 1);
    ClusterStore.Row row =
        new ClusterStore.Row(
            name,
            selector,
            smin,
            smax,
            amin,
            amax,
            version,
            ClusterInput.profile(r.profile()),
            ClusterInput.labels(r.labels()),
            ClusterInput.config(r.config()),
            ClusterInput.grace(r.graceSeconds()),
            ClusterInput.importUrl(r.importManifestUrl()),
            State.PENDING,
            List.of(),
            null,
            Boolean.TRUE.equals(r.deactivated()),
            token.keyId(),
            token.sealed(),
            1,
            actor,
            now,
            now,
            project.map(ProjectScope.Project::name).orElse(null));
    jdbi.useTransaction(
        h -> {
          if (store.byName(h, name).isPresent()) {
            throw new ControllerException(
                ErrorCode.CLUSTER_EXISTS,
                "cluster " + name + " exists; change it with PATCH or choose another name");
          }
          if (store.all(h).size() >= MAX_CLUSTERS) {
            throw new ControllerException(
                ErrorCode.CONFLICT,
                "this controller keeps at most " + MAX_CLUSTERS + " clusters; delete one first");
          }
          store.insert(h, row);
          Map<String, Object> detail = new LinkedHashMap<>();
          detail.put("selector", selector);
          detail.put("servers", smin + ".." + smax);
          detail.put("agents", amin + ".." + amax);
          detail.put("kubernetesVersion", version);
          project.ifPresent(p -> detail.put("project", p.name()));
          audit.record(h, actor, "cluster.create", name, detail);
        });
    engine.planNow(name);
    return get(name);
  }

  public ClusterViews.View update(String name, Request r, String actor) {
    return update(name, r, actor, Optional.empty());
  }

  /**
   * Changes a cluster.
   *
   * @param within the selector of the cluster's project: a new selector is ANDed with it
   */
  public ClusterViews.View update(String name, Request r, String actor, Optional<Selector> within) {
    if (r == null) {
      throw ControllerException.invalid("nothing to change: give the fields to change");
    }
    if (r.name() != null && !r.name().equals(name)) {
      throw ControllerException.invalid("a cluster cannot be renamed; create another one");
    }
    jdbi.useTransaction(
        h -> {
          ClusterStore.Row old =
              store
                  .byName(h, name)
                  .orElseThrow(() -> ControllerException.notFound("cluster", name));
          int smin =
              r.servers() == null ? old.serversMin() : orElse(r.servers().min(), old.serversMin());
          int smax =
              r.servers() == null ? old.serversMax() : orElse(r.servers().max(), old.serversMax());
          int amin =
              r.agents() == null ? old.agentsMin() : orElse(r.agents().min(), old.agentsMin());
          int amax =
              r.agents() == null ? old.agentsMax() : orElse(r.agents().max(), old.agentsMax());
          ClusterInput.servers(smin, smax);
          ClusterInput.agents(amin, amax);
          ClusterStore.Row next =
              new ClusterStore.Row(
                  name,
                  r.selector() == null
                      ? old.selector()
                      : within
                          .map(w -> ClusterInput.selector(r.selector()).and(w))
                          .orElse(ClusterInput.selector(r.selector()))
                          .toString(),
                  smin,
                  smax,
                  amin,
                  amax,
                  r.kubernetesVersion() == null
                      ? old.kubernetesVersion()
                      : ClusterInput.version(r.kubernetesVersion()),
                  r.profile() == null ? old.profile() : ClusterInput.profile(r.profile()),
                  r.labels() == null ? old.labels() : ClusterInput.labels(r.labels()),
                  r.config() == null ? old.config() : ClusterInput.config(r.config()),
                  r.graceSeconds() == null
                      ? old.graceSeconds()
                      : ClusterInput.grace(r.graceSeconds()),
                  r.importManifestUrl() == null
                      ? old.importManifestUrl()
                      : ClusterInput.importUrl(r.importManifestUrl()),
                  old.state(),
                  old.reasons(),
                  old.applier(),
                  r.deactivated() == null ? old.deactivated() : r.deactivated(),
                  old.tokenKeyId(),
                  old.tokenSealed(),
                  old.tokenVersion(),
                  old.createdBy(),
                  old.createdAt(),
                  clock.instant(),
                  // written by updateDefinition, which keeps the project
                  old.project());
          store.updateDefinition(h, next);
          audit.record(h, actor, "cluster.update", name, Map.of("request", r));
        });
    engine.planNow(name);
    return get(name);
  }

  public ClusterViews.View deactivate(String name, String actor) {
    return update(
        name, new Request(null, null, null, null, null, null, null, null, null, null, true), actor);
  }

  public void delete(String name, String actor) {
    jdbi.useTransaction(
        h -> {
          store.byName(h, name).orElseThrow(() -> ControllerException.notFound("cluster", name));
          store.delete(h, name);
          audit.record(h, actor, "cluster.delete", name, Map.of());
        });
    engine.forget(name);
  }

  /** A new join token; members fetch it by its new version, announced in their documents. */
  public ClusterViews.View rotateToken(String name, String actor) {
    jdbi.useTransaction(
        h -> {
          ClusterStore.Row old =
              store
                  .byName(h, name)
                  .orElseThrow(() -> ControllerException.notFound("cluster", name));
          long version = old.tokenVersion() + 1;
          ClusterTokens.Sealed token = tokens.fresh(name, version);
          store.setToken(h, name, token.keyId(), token.sealed(), version, clock.millis());
          audit.record(h, actor, "cluster.rotate-token", name, Map.of("version", version));
        });
    engine.planNow(name);
    return get(name);
  }

  /**
   * The join token sealed to a member's key.
   *
   * @throws ControllerException {@code CLUSTER_NOT_MEMBER} to a device that is no member
   */
  public DeviceSecret token(String deviceId, PublicKey key, String name, long version) {
    Optional<String> refusal = policy.refusal(deviceId);
    if (refusal.isPresent()) {
      throw new ControllerException(
          ErrorCode.SECRET_DELIVERY_REFUSED,
          "the join token of cluster " + name + " is not delivered now: " + refusal.get());
    }
    boolean member = engine.plan(name).map(p -> p.sections().containsKey(deviceId)).orElse(false);
    if (!member) {
      throw new ControllerException(
          ErrorCode.CLUSTER_NOT_MEMBER,
          "device " + deviceId + " is no member of cluster " + name + "; it gets no join token");
    }
    ClusterStore.Row row = row(name);
    if (row.tokenVersion() != version) {
      throw new ControllerException(
          ErrorCode.SECRET_VERSION_GONE,
          "the join token of cluster "
              + name
              + " is at version "
              + row.tokenVersion()
              + ", not "
              + version
              + "; the next desired state references the current version");
    }
    String token =
        tokens.open(name, version, new ClusterTokens.Sealed(row.tokenKeyId(), row.tokenSealed()));
    return SecretDelivery.sealTo(
        key, deviceId, name, version, "kube-system", ClusterTokens.asSecretData(token));
  }

  private ClusterStore.Row row(String name) {
    return jdbi.withHandle(h -> store.byName(h, name))
        .orElseThrow(() -> ControllerException.notFound("cluster", name));
  }

  private static int orElse(Integer v, int d) {
    return v == null ? d : v;
  }
}
