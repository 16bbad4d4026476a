package io.edgefleet.controller.rollouts;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.catalog.Catalog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.desired.AppScope;
import io.edgefleet.controller.selector.ProjectScope;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Fingerprints;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.jdbi.v3.core.Jdbi;

/**
 * Deployments: a catalog app version with values given at deploy time, sent to the devices a
 * selector matches through a phased rollout. Creating, upgrading and removing a deployment each
 * start (or end) its rollout in the same transaction. {@link DeploymentApps} is what the
 * desired-state engine and the rollouts read of them. Thread-safe.
 */
public final class Deployments {
  /** The source name deployments carry on devices and in app status. */
  public static final String SOURCE = "catalog";

  private static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");

  private final Jdbi jdbi;
  private final Clock clock;
  private final Catalog catalog;
  private final RolloutEngine engine;
  private final AuditLog audit;
  private final Runnable changed;
  private final Preflight preflight;

  /**
   * @param changed called after a deployment was created, changed or removed
   */
  public Deployments(
      Jdbi jdbi,
      Clock clock,
      Catalog catalog,
      RolloutEngine engine,
      AuditLog audit,
      Runnable changed) {
    this(jdbi, clock, catalog, engine, audit, changed, Preflight.Resolution.NONE);
  }

  /**
   * @param workloads how the preflight reads a rendered version's workloads for a device (their
   *     kind, whether every blob they name is held), as devices will get them
   */
  public Deployments(
      Jdbi jdbi,
      Clock clock,
      Catalog catalog,
      RolloutEngine engine,
      AuditLog audit,
      Runnable changed,
      Preflight.Resolution workloads) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.catalog = catalog;
    this.engine = engine;
    this.audit = audit;
    this.changed = changed;
    this.preflight = new Preflight(jdbi, catalog, workloads);
  }

  /**
   * Body of {@code POST /api/v1/deployments}.
   *
   * @param force start even though the preflight finds problems (see {@link Preflight})
   * @param keepInQuarantine the app keeps running on devices that are quarantined (their measured
   *     boot differs from their reference); by default it is stopped there
   * @param scope {@code device} (default: every device the target selects) or {@code cluster} (once
   *     per K3s cluster: only the member applying the cluster's apps); fixed once deployed
   */
  public record DeployRequest(
      String name,
      String app,
      String version,
      String target,
      Map<String, Object> values,
      String rollout,
      Boolean force,
      Boolean keepInQuarantine,
      String scope) {}

  /**
   * Body of {@code POST /api/v1/deployments/{name}/upgrade}; absent fields stay as they are.
   *
   * @param force start even though the preflight finds problems (see {@link Preflight})
   */
  public record UpgradeRequest(
      String version,
      Map<String, Object> values,
      Boolean resetValues,
      String target,
      String rollout,
      Boolean force,
      Boolean keepInQuarantine) {}

  /**
   * A deployment with its latest rollout.
   *
   * @param target the devices it runs on; for a deployment of a project, the project's selector is
   *     part of it (ANDed with the selector the deployment was given), so it reaches only the
   *     project's devices
   * @param project the project it was created in, or null
   */
  public record View(
      String name,
      String app,
      String version,
      String revision,
      String target,
      Map<String, Object> values,
      String rollout,
      String rolloutSummary,
      RolloutEngine.Summary latestRollout,
      String createdBy,
      Instant createdAt,
      Instant updatedAt,
      boolean keepInQuarantine,
      String scope,
      String project) {}

  // ------------------------------------------------------------------------------------------

  /**
   * What {@link #deploy} would do, changing nothing.
   *
   * @throws ControllerException as {@link #deploy} does for an invalid request or a taken name
   */
  public Preflight.Plan planDeploy(DeployRequest req) {
    return planDeploy(req, Optional.empty());
  }

  /** What {@link #deploy(DeployRequest, String, Optional)} would do, changing nothing. */
  public Preflight.Plan planDeploy(DeployRequest req, Optional<ProjectScope.Project> project) {
    Preflight.Change c = deployChange(req, project);
    if (jdbi.withHandle(h -> DeploymentApps.row(h, c.deployment())).isPresent()) {
      throw exists(c.deployment());
    }
    return preflight.plan(c);
  }

  public View deploy(DeployRequest req, String actor) {
    return deploy(req, actor, Optional.empty());
  }

  /**
   * Deploys, in a project when one is given: the deployment then targets only the project's devices
   * (the project's selector ANDed with its own target).
   */
  public View deploy(DeployRequest req, String actor, Optional<ProjectScope.Project> project) {
    Preflight.Change c = deployChange(req, project);
    if (!Boolean.TRUE.equals(req.force())) {
      Preflight.require(preflight.plan(c));
    }
    String name = c.deployment();
    Selector target = c.target();
    Map<String, Object> values = c.values();
    RolloutPolicy policy = c.policy();
    String revision = c.revision();
    String scope = AppScope.parse("scope", req.scope());
    long now = clock.millis();
    engine.transaction(
        h -> {
          if (DeploymentApps.row(h, name).isPresent()) {
            throw exists(name);
          }
          h.createUpdate(
                  "INSERT INTO deployments (name, app, version, revision, target, vals, policy,"
                      + " created_by, created_at, updated_at, keep_in_quarantine, scope, project)"
                      + " VALUES (:name, :app, :version, :rev, :target, :vals, :policy, :by, :now,"
                      + " :now, :keep, :scope, :project)")
              .bind("project", project.map(ProjectScope.Project::name).orElse(null))
              .bind("name", name)
              .bind("app", req.app())
              .bind("version", req.version())
              .bind("rev", revision)
              .bind("target", target.toString())
              .bind("vals", Json.write(values))
              .bind("policy", policy.source())
              .bind("by", actor)
              .bind("now", now)
              .bind("keep", Boolean.TRUE.equals(req.keepInQuarantine()))
              .bind("scope", scope)
              .execute();
          String rollout =
              engine.start(
                  h,
                  new RolloutEngine.Start(
                      subject(name),
                      name,
                      SOURCE,
                      Optional.empty(),
                      revision,
                      policy,
                      AppScope.target(target::matches, scope),
                      actor));
          audit.record(
              h, actor, "deployment.create", name, detail(req, target, rollout, scope, project));
          return rollout;
        });
    changed.run();
    return get(name);
  }

  private static Map<String, Object> detail(
      DeployRequest req,
      Selector target,
      String rollout,
      String scope,
      Optional<ProjectScope.Project> project) {
    Map<String, Object> detail = new LinkedHashMap<>();
    detail.put("app", req.app());
    detail.put("version", req.version());
    detail.put("target", target.toString());
    detail.put("rollout", rollout);
    detail.put("keepInQuarantine", Boolean.TRUE.equals(req.keepInQuarantine()));
    detail.put("scope", scope);
    project.ifPresent(p -> detail.put("project", p.name()));
    return detail;
  }

  /**
   * What {@link #upgrade} would do, changing nothing.
   *
   * @throws ControllerException as {@link #upgrade} does for an invalid request
   */
  public Preflight.Plan planUpgrade(String name, UpgradeRequest req) {
    return planUpgrade(name, req, Optional.empty());
  }

  /**
   * @param within the selector of the deployment's project, ANDed with a new target
   */
  public Preflight.Plan planUpgrade(String name, UpgradeRequest req, Optional<Selector> within) {
    return preflight.plan(upgradeChange(name, req, within));
  }

  public View upgrade(String name, UpgradeRequest req, String actor) {
    return upgrade(name, req, actor, Optional.empty());
  }

  /**
   * Upgrades the deployment.
   *
   * @param within the selector of the deployment's project: a new target is ANDed with it
   */
  public View upgrade(String name, UpgradeRequest req, String actor, Optional<Selector> within) {
    Preflight.Change c = upgradeChange(name, req, within);
    if (!Boolean.TRUE.equals(req.force()) && c.reachesDevices()) {
      Preflight.require(preflight.plan(c));
    }
    String version = c.version();
    Map<String, Object> values = c.values();
    Selector target = c.target();
    RolloutPolicy policy = c.policy();
    String revision = c.revision();
    long now = clock.millis();
    engine.transaction(
        h -> {
          DeploymentApps.Row again = DeploymentApps.row(h, name).orElseThrow(() -> notFound(name));
          RolloutStepper.Change change =
              RolloutStepper.change(again.revision(), revision, engine.latest(h, subject(name)));
          h.createUpdate(
                  "UPDATE deployments SET version = :version, revision = :rev, target = :target,"
                      + " vals = :vals, policy = :policy, updated_at = :now, keep_in_quarantine ="
                      + " COALESCE(:keep, keep_in_quarantine) WHERE name = :name")
              .bind("version", version)
              .bind("rev", revision)
              .bind("target", target.toString())
              .bind("vals", Json.write(values))
              .bind("policy", policy.source())
              .bind("now", now)
              .bind("keep", req.keepInQuarantine())
              .bind("name", name)
              .execute();
          Map<String, Object> detail = new LinkedHashMap<>();
          detail.put("version", version);
          detail.put("revision", revision);
          detail.put("target", target.toString());
          if (req.keepInQuarantine() != null) {
            detail.put("keepInQuarantine", req.keepInQuarantine());
          }
          if (change.start()) {
            String rollout =
                engine.start(
                    h,
                    new RolloutEngine.Start(
                        subject(name),
                        name,
                        SOURCE,
                        change.from(),
                        revision,
                        policy,
                        AppScope.target(target::matches, again.scope()),
                        actor));
            detail.put("rollout", rollout);
          }
          audit.record(h, actor, "deployment.upgrade", name, detail);
          return null;
        });
    engine.devicesChanged();
    changed.run();
    return get(name);
  }

  /** Removes the deployment: its rollout ends and the app leaves every device. */
  public void remove(String name, String actor) {
    engine.transaction(
        h -> {
          DeploymentApps.row(h, name).orElseThrow(() -> notFound(name));
          engine.abortSubject(h, subject(name), "deployment '" + name + "' was removed");
          h.createUpdate("DELETE FROM deployments WHERE name = :n").bind("n", name).execute();
          audit.record(h, actor, "deployment.remove", name, Map.of());
          return null;
        });
    changed.run();
  }

  public List<View> list() {
    return jdbi.withHandle(DeploymentApps::rows).stream().map(this::view).toList();
  }

  public View get(String name) {
    return view(
        jdbi.withHandle(h -> DeploymentApps.row(h, name)).orElseThrow(() -> notFound(name)));
  }

  private View view(DeploymentApps.Row r) {
    return new View(
        r.name(),
        r.app(),
        r.version(),
        r.revision(),
        r.target(),
        r.values(),
        r.policy(),
        RolloutPolicy.parse(r.policy()).describe(),
        engine.latest(subject(r.name())).orElse(null),
        r.createdBy(),
        Instant.ofEpochMilli(r.createdAt()),
        Instant.ofEpochMilli(r.updatedAt()),
        r.keepInQuarantine(),
        r.scope(),
        r.project());
  }

  private DeploymentApps.Row current(String name) {
    return jdbi.withHandle(h -> DeploymentApps.row(h, name)).orElseThrow(() -> notFound(name));
  }

  private Preflight.Change upgradeChange(
      String name, UpgradeRequest req, Optional<Selector> within) {
    DeploymentApps.Row current = current(name);
    String version =
        req.version() == null || req.version().isBlank() ? current.version() : req.version();
    Map<String, Object> values =
        Boolean.TRUE.equals(req.resetValues())
            ? (req.values() == null ? Map.of() : req.values())
            : merge(current.values(), req.values() == null ? Map.of() : req.values());
    // A stored target is canonical ("" selects every device); only a given one is checked.
    Selector target =
        req.target() == null
            ? Selector.parse(current.target())
            : within(current, target(req.target()), within);
    RolloutPolicy policy =
        req.rollout() == null ? RolloutPolicy.parse(current.policy()) : policy(req.rollout());
    catalog.version(current.app(), version);
    catalog.validateValues(current.app(), version, values);
    String revision = revision(version, values);
    RolloutStepper.Change change =
        RolloutStepper.change(
            current.revision(), revision, jdbi.withHandle(h -> engine.latest(h, subject(name))));
    return new Preflight.Change(
        name,
        current.app(),
        current.version(),
        version,
        change.from().orElse(null),
        revision,
        values,
        target,
        policy,
        change.start(),
        !target.toString().equals(Selector.parse(current.target()).toString()));
  }

  /** A new target of a deployment of a project, ANDed with the project's selector. */
  private static Selector within(
      DeploymentApps.Row current, Selector target, Optional<Selector> within) {
    if (current.project() == null) {
      return target;
    }
    return target.and(
        within.orElseThrow(
            () ->
                ControllerException.invalid(
                    "deployment '"
                        + current.name()
                        + "' belongs to project '"
                        + current.project()
                        + "', which no longer exists: its target cannot change")));
  }

  private Preflight.Change deployChange(DeployRequest req, Optional<ProjectScope.Project> project) {
    if (req.app() == null || req.app().isBlank()) {
      throw ControllerException.invalid("'app' is required: the catalog app to deploy");
    }
    if (req.version() == null || req.version().isBlank()) {
      throw ControllerException.invalid(
          "'version' is required: deploy NAME@VERSION (see `apps versions " + req.app() + "`)");
    }
    String name = req.name() == null || req.name().isBlank() ? req.app() : req.name();
    if (!NAME.matcher(name).matches()) {
      throw ControllerException.invalid(
          "deployment name '"
              + name
              + "' must be a DNS label (lower-case letters, digits and '-', at most 63)");
    }
    Selector given = target(req.target());
    Selector target = project.map(p -> given.and(p.selector())).orElse(given);
    AppScope.parse("scope", req.scope());
    Map<String, Object> values = req.values() == null ? Map.of() : req.values();
    RolloutPolicy policy = policy(req.rollout());
    catalog.version(req.app(), req.version());
    catalog.validateValues(req.app(), req.version(), values);
    return new Preflight.Change(
        name,
        req.app(),
        null,
        req.version(),
        null,
        revision(req.version(), values),
        values,
        target,
        policy,
        true,
        true);
  }

  private static ControllerException exists(String name) {
    return new ControllerException(
        ErrorCode.CONFLICT,
        "deployment '"
            + name
            + "' exists; change it with `deployments upgrade "
            + name
            + "`, or deploy under another name with --name");
  }

  // ------------------------------------------------------------------------------------------

  static String subject(String name) {
    return SOURCE + "/" + name;
  }

  /**
   * What devices report running: the version, plus a short digest of the values when there are any,
   * so that a change of values alone is a new revision too.
   */
  static String revision(String version, Map<String, Object> values) {
    if (values.isEmpty()) {
      return version;
    }
    String digest =
        Fingerprints.sha256(Json.write(canonical(values)).getBytes(StandardCharsets.UTF_8));
    return version + "+" + digest.substring("sha256:".length(), "sha256:".length() + 8);
  }

  @SuppressWarnings("unchecked")
  private static Object canonical(Object v) {
    if (v instanceof Map<?, ?> m) {
      Map<String, Object> out = new TreeMap<>();
      m.forEach((k, x) -> out.put(String.valueOf(k), canonical(x)));
      return out;
    }
    if (v instanceof List<?> l) {
      return l.stream().map(Deployments::canonical).toList();
    }
    return v;
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> merge(Map<String, Object> base, Map<String, Object> overlay) {
    Map<String, Object> out = new LinkedHashMap<>(base);
    overlay.forEach(
        (k, v) -> {
          Object old = out.get(k);
          if (old instanceof Map<?, ?> om && v instanceof Map<?, ?> nm) {
            out.put(k, merge((Map<String, Object>) om, (Map<String, Object>) nm));
          } else {
            out.put(k, v);
          }
        });
    return out;
  }

  private static Selector target(String text) {
    if (text == null) {
      throw ControllerException.invalid(
          "'target' is required: a tag selector such as 'site=berlin' or 'region in (eu, us)',"
              + " or '*' (or '') for every device");
    }
    return Selector.parse("target", text);
  }

  private static RolloutPolicy policy(String text) {
    try {
      return text == null ? RolloutPolicy.defaults() : RolloutPolicy.parse(text);
    } catch (RolloutPolicyException e) {
      throw new ControllerException(ErrorCode.ROLLOUT_POLICY_INVALID, e.getMessage());
    }
  }

  private static ControllerException notFound(String name) {
    return new ControllerException(
        ErrorCode.NOT_FOUND,
        "deployment '" + name + "' does not exist; `deployments list` shows the deployments");
  }
}
