package io.edgefleet.controller.agentreleases;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.devices.DeviceRecord;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.rollouts.BatchPlanner;
import io.edgefleet.controller.rollouts.RolloutEngine;
import io.edgefleet.controller.rollouts.RolloutPolicy;
import io.edgefleet.controller.rollouts.RolloutPolicyException;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.ErrorCode;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.jdbi.v3.core.Jdbi;

/**
 * Rolls a stored agent release out to the devices a selector matches, through the rollout engine
 * (canary, waves, maintenance windows, thresholds, automatic rollback to the version each device
 * ran before). A preflight names the devices whose architecture has no release of the version; they
 * refuse the rollout unless it is forced, and then fail their step with that reason. Thread-safe.
 */
public final class AgentRollouts {
  /** At most this many device names are shown per problem. */
  static final int EXAMPLES = 10;

  /** Body of {@code POST /api/v1/agent-releases/{version}/rollout}. */
  public record Request(String target, String rollout, Boolean dryRun, Boolean force) {}

  /** A problem the preflight found, with the devices it concerns. */
  public record Problem(String code, String message, int devices, List<String> examples) {}

  /** A batch as planned. */
  public record Batch(String name, int devices) {}

  /**
   * What a rollout does (or did): the devices, by architecture, the batches and the problems.
   *
   * @param rolloutId the rollout started; null for a dry run
   */
  public record Plan(
      String version,
      String target,
      int devices,
      Map<String, Integer> byArch,
      List<Batch> batches,
      String policy,
      List<Problem> problems,
      boolean dryRun,
      String rolloutId) {}

  private final Jdbi jdbi;
  private final Clock clock;
  private final AuditLog audit;
  private final AgentReleases releases;
  private final AgentTargets targets;
  private final RolloutEngine engine;
  private final Runnable changed;
  private final DeviceStore devices = new DeviceStore();

  /**
   * @param changed called after a rollout started, so that every device's document is recomputed
   */
  public AgentRollouts(
      Jdbi jdbi,
      Clock clock,
      AuditLog audit,
      AgentReleases releases,
      AgentTargets targets,
      RolloutEngine engine,
      Runnable changed) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.audit = audit;
    this.releases = releases;
    this.targets = targets;
    this.engine = engine;
    this.changed = changed;
  }

  /**
   * Plans and, unless it is a dry run, starts the rollout of {@code version}.
   *
   * @throws ControllerException {@code AGENT_RELEASE_NOT_FOUND}, {@code ROLLOUT_POLICY_INVALID},
   *     {@code VALIDATION_FAILED} (selector), {@code TARGET_MATCHES_NOTHING}, or {@code
   *     PREFLIGHT_FAILED} naming the devices without a release for their architecture
   */
  public Plan rollout(String version, Request req, String actor) {
    if (releases.version(version).isEmpty()) {
      throw new ControllerException(
          ErrorCode.AGENT_RELEASE_NOT_FOUND,
          "no agent release "
              + version
              + " is stored; push it first: edgefleet agent-releases push"
              + " edgefleet-agent-"
              + version
              + "-linux-<arch>.tar.gz");
    }
    if (req == null || req.target() == null) {
      throw ControllerException.invalid(
          "target is required: a selector such as 'site=lab' or '*' for every device");
    }
    Selector target = Selector.parse("target", req.target());
    RolloutPolicy policy;
    try {
      policy =
          req.rollout() == null || req.rollout().isBlank()
              ? RolloutPolicy.defaults()
              : RolloutPolicy.parse(req.rollout());
    } catch (RolloutPolicyException e) {
      throw new ControllerException(ErrorCode.ROLLOUT_POLICY_INVALID, e.getMessage());
    }
    boolean dryRun = Boolean.TRUE.equals(req.dryRun());
    boolean force = Boolean.TRUE.equals(req.force());
    List<DeviceRecord> matched =
        jdbi.withHandle(devices::forViews).stream()
            .filter(d -> d.lifecycle() == DeviceRecord.Lifecycle.ACTIVE)
            .filter(d -> target.matches(d.tags()))
            .toList();
    if (matched.isEmpty()) {
      throw new ControllerException(
          ErrorCode.TARGET_MATCHES_NOTHING,
          "target '"
              + target
              + "' matches no active device; check the tags with edgefleet devices list");
    }
    Map<String, Integer> byArch = new TreeMap<>();
    Map<String, List<String>> missing = new TreeMap<>();
    List<String> unknown = new ArrayList<>();
    for (DeviceRecord d : matched) {
      String arch = d.facts() == null ? null : d.facts().arch();
      if (arch == null || arch.isBlank()) {
        unknown.add(d.name() == null ? d.id() : d.name());
        continue;
      }
      byArch.merge(arch, 1, Integer::sum);
      if (releases.find(version, arch).isEmpty()) {
        missing
            .computeIfAbsent(arch, a -> new ArrayList<>())
            .add(d.name() == null ? d.id() : d.name());
      }
    }
    List<Problem> problems = new ArrayList<>();
    missing.forEach(
        (arch, names) ->
            problems.add(
                new Problem(
                    "NO_RELEASE_FOR_ARCH",
                    names.size()
                        + " device(s) run on "
                        + arch
                        + ", for which agent "
                        + version
                        + " has no release; push edgefleet-agent-"
                        + version
                        + "-linux-"
                        + arch
                        + ".tar.gz or narrow the target",
                    names.size(),
                    names.stream().limit(EXAMPLES).toList())));
    if (!unknown.isEmpty()) {
      problems.add(
          new Problem(
              "ARCH_UNKNOWN",
              unknown.size() + " device(s) never reported their architecture",
              unknown.size(),
              unknown.stream().limit(EXAMPLES).toList()));
    }
    List<Batch> batches =
        BatchPlanner.plan(
                policy,
                matched.stream().map(d -> new BatchPlanner.Member(d.id(), d.tags())).toList())
            .stream()
            .map(b -> new Batch(b.name(), b.deviceIds().size()))
            .toList();
    Plan plan =
        new Plan(
            version,
            target.toString(),
            matched.size(),
            byArch,
            batches,
            policy.describe(),
            problems,
            dryRun,
            null);
    if (dryRun) {
      return plan;
    }
    if (!problems.isEmpty() && !force) {
      Problem first = problems.getFirst();
      throw new ControllerException(
          ErrorCode.PREFLIGHT_FAILED,
          "the rollout of agent "
              + version
              + " was not started: "
              + first.message()
              + " ("
              + String.join(", ", first.examples())
              + (first.devices() > first.examples().size() ? ", ..." : "")
              + "); see --dry-run, or start it anyway with --force (those devices then fail"
              + " their step)");
    }
    Optional<String> from =
        targets.current().map(AgentTargets.Target::version).filter(v -> !v.equals(version));
    long now = clock.millis();
    String id;
    try {
      id =
          engine.transaction(
              h -> {
                String rollout =
                    engine.start(
                        h,
                        new RolloutEngine.Start(
                            AgentTargets.SUBJECT,
                            AgentTargets.APP,
                            AgentTargets.SOURCE,
                            from,
                            version,
                            policy,
                            target::matches,
                            actor));
                targets.record(h, version, target, rollout, actor, now);
                Map<String, Object> detail = new LinkedHashMap<>();
                detail.put("version", version);
                detail.put("target", target.toString());
                detail.put("rollout", rollout);
                detail.put("devices", matched.size());
                detail.put("force", force);
                audit.record(h, actor, "agent-release.rollout", version, detail);
                return rollout;
              });
    } catch (RuntimeException e) {
      targets.reload();
      throw e;
    }
    changed.run();
    return new Plan(
        version,
        target.toString(),
        matched.size(),
        byArch,
        batches,
        policy.describe(),
        problems,
        false,
        id);
  }
}
