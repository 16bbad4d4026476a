package io.edgefleet.controller.rollouts;

import io.edgefleet.controller.catalog.Catalog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.controller.desired.DeviceAppReads;
import io.edgefleet.controller.desired.Placement;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.render.RenderException;
import io.edgefleet.controller.render.RenderedApp;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.ErrorCode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.jdbi.v3.core.Jdbi;

/**
 * What deploying or upgrading a catalog app would do, worked out before anything changes: the
 * devices the target matches now, what each runs of the app and what it would get, the batches of
 * the rollout, and every problem the controller can see ahead (a target matching no device, a
 * device missing a tag the values use, a chart failing with a device's values or refusing its
 * cluster's Kubernetes version). Devices with equal effective values and Kubernetes version share
 * one render; at most {@value #MAX_RENDERS} distinct configurations are rendered (the largest
 * groups first), the rest when the rollout releases them. Thread-safe.
 */
public final class Preflight {
  /** Distinct device configurations rendered ahead at most. */
  static final int MAX_RENDERS = 8;

  /** Devices listed in a plan at most; the counts cover every device. */
  static final int MAX_DEVICES_LISTED = 1000;

  /** Example device names given with a problem. */
  private static final int EXAMPLES = 5;

  /** Names as people sort them: {@code vm-2} before {@code vm-10}. */
  private static final Comparator<String> NAMES =
      Comparator.comparingInt(String::length).thenComparing(Comparator.naturalOrder());

  /** What a targeted device would do. */
  public enum Action {
    /** Does not run the app yet: gets it. */
    INSTALL,
    /** Runs another revision: changes to this one. */
    UPDATE,
    /** Runs this revision already. */
    UNCHANGED,
    /** Cannot run it: see the problems. */
    FAILS,
    /**
     * Cannot run this kind of workload (a container app on a node without a container engine): does
     * not get it, is skipped by the rollout, and is not a problem; its line says why.
     */
    NOT_PLACED
  }

  /**
   * Makes a rendered app what a device of an architecture runs (its workloads read, their blobs
   * resolved); see {@code WorkloadResolver}.
   */
  @FunctionalInterface
  public interface Resolution {
    /** Leaves renders as they are: Kubernetes objects only. */
    Resolution NONE = (rendered, arch) -> rendered;

    /**
     * @throws RenderException when the workloads are invalid or name blobs the controller lacks
     */
    AppCatalog.Rendered resolve(AppCatalog.Rendered rendered, String arch);
  }

  /** One device of a plan. */
  public record DeviceChange(
      String device, String name, String batch, String running, Action action, String problem) {}

  /** One batch of a plan. */
  public record Batch(String name, int devices) {}

  /** A problem found ahead, with how many targeted devices it concerns and a few of them. */
  public record Problem(String code, String message, int devices, List<String> examples) {}

  /**
   * What a deploy or upgrade would do.
   *
   * @param startsRollout whether a rollout would start (an upgrade to what the deployment already
   *     names starts none)
   * @param changes targeted devices per {@link Action}
   * @param configurations distinct device configurations (effective values) among the targeted
   *     devices
   * @param rendered how many of them were rendered ahead
   * @param devicesNotListed targeted devices beyond the {@value #MAX_DEVICES_LISTED} listed
   */
  public record Plan(
      String deployment,
      String app,
      String fromVersion,
      String version,
      String fromRevision,
      String revision,
      String target,
      String policy,
      boolean startsRollout,
      int activeDevices,
      int targeted,
      Map<Action, Integer> changes,
      List<Batch> batches,
      int configurations,
      int rendered,
      List<Problem> problems,
      List<DeviceChange> devices,
      int devicesNotListed) {

    public boolean ok() {
      return problems.isEmpty();
    }
  }

  /**
   * What is asked for: the deployment as it would be after the change.
   *
   * @param retargeted whether the target selects devices anew (always for a new deployment)
   */
  record Change(
      String deployment,
      String app,
      String fromVersion,
      String version,
      String fromRevision,
      String revision,
      Map<String, Object> values,
      Selector target,
      RolloutPolicy policy,
      boolean startsRollout,
      boolean retargeted) {

    /**
     * Whether devices would get something new: a rollout starts, or the target selects devices anew
     * (a new deployment, a changed target). Only such a change is checked before it is made.
     */
    boolean reachesDevices() {
      return startsRollout || retargeted;
    }
  }

  private final Jdbi jdbi;
  private final Catalog catalog;
  private final DeviceStore devices = new DeviceStore();
  private final DeviceAppReads apps = new DeviceAppReads();
  private final Resolution resolution;

  Preflight(Jdbi jdbi, Catalog catalog) {
    this(jdbi, catalog, Resolution.NONE);
  }

  Preflight(Jdbi jdbi, Catalog catalog, Resolution resolution) {
    this.jdbi = jdbi;
    this.catalog = catalog;
    this.resolution = resolution;
  }

  /** Works out the plan; reads devices in one transaction, renders outside of it. */
  Plan plan(Change c) {
    record Fleet(
        List<BatchPlanner.Member> active,
        Map<String, String> names,
        Map<String, String> kubeVersions,
        Map<String, DeviceAppReads.Report> reports,
        Map<String, DeviceFacts> facts) {}
    Fleet fleet =
        jdbi.inTransaction(
            h -> {
              List<BatchPlanner.Member> active =
                  devices.activeTags(h).stream()
                      .map(e -> new BatchPlanner.Member(e.getKey(), e.getValue()))
                      .toList();
              List<String> ids =
                  active.stream()
                      .filter(m -> c.target().matches(m.tags()))
                      .map(BatchPlanner.Member::deviceId)
                      .toList();
              Map<String, DeviceFacts> facts = new HashMap<>();
              devices
                  .byIds(h, ids)
                  .forEach(
                      (id, d) -> {
                        if (d.facts() != null) {
                          facts.put(id, d.facts());
                        }
                      });
              return new Fleet(
                  active,
                  devices.names(h, ids),
                  devices.activeKubernetesVersions(h),
                  apps.reports(h, c.deployment()),
                  facts);
            });
    List<BatchPlanner.Member> targeted =
        fleet.active().stream().filter(m -> c.target().matches(m.tags())).toList();

    // Devices by configuration, or by the reason they cannot have one.
    Map<String, List<BatchPlanner.Member>> byConfiguration = new LinkedHashMap<>();
    Map<String, String> problemOf = new HashMap<>();
    Map<String, List<String>> byProblem = new LinkedHashMap<>();
    Map<String, String> codeOf = new HashMap<>();
    Map<String, String> notPlaced = new HashMap<>();
    for (BatchPlanner.Member m : targeted) {
      try {
        // Devices of another architecture may get other blobs of the same render.
        String key =
            catalog.configuration(
                    c.app(),
                    c.version(),
                    c.values(),
                    m.tags(),
                    fleet.kubeVersions().get(m.deviceId()))
                + "\n"
                + arch(fleet.facts().get(m.deviceId()));
        byConfiguration.computeIfAbsent(key, k -> new ArrayList<>()).add(m);
      } catch (RenderException e) {
        problemOf.put(m.deviceId(), e.getMessage());
        byProblem.computeIfAbsent(e.getMessage(), k -> new ArrayList<>()).add(m.deviceId());
      }
    }
    List<List<BatchPlanner.Member>> groups = new ArrayList<>(byConfiguration.values());
    groups.sort(Comparator.comparingInt((List<BatchPlanner.Member> g) -> g.size()).reversed());
    int rendered = 0;
    for (List<BatchPlanner.Member> group :
        groups.subList(0, Math.min(MAX_RENDERS, groups.size()))) {
      rendered++;
      try {
        BatchPlanner.Member first = group.get(0);
        RenderedApp out =
            catalog.render(
                c.app(),
                c.version(),
                c.values(),
                first.tags(),
                fleet.kubeVersions().get(first.deviceId()));
        AppCatalog.Rendered r =
            resolution.resolve(
                new AppCatalog.Rendered(out.yaml(), out.digest()),
                arch(fleet.facts().get(first.deviceId())));
        for (BatchPlanner.Member m : group) {
          Placement.refusal(fleet.facts().get(m.deviceId()), r.runtime())
              .ifPresent(why -> notPlaced.put(m.deviceId(), why));
        }
      } catch (RenderException e) {
        String why = e.getMessage();
        if (e.code() != ErrorCode.VALIDATION_FAILED) {
          codeOf.put(why, e.code().name());
        }
        for (BatchPlanner.Member m : group) {
          problemOf.put(m.deviceId(), why);
          byProblem.computeIfAbsent(why, k -> new ArrayList<>()).add(m.deviceId());
        }
      }
    }

    List<Problem> problems = new ArrayList<>();
    if (targeted.isEmpty()) {
      problems.add(
          new Problem(
              ErrorCode.TARGET_MATCHES_NOTHING.name(),
              "target '"
                  + c.target()
                  + "' matches none of the "
                  + fleet.active().size()
                  + " active device(s); check it with `devices list --selector '"
                  + c.target()
                  + "'`",
              0,
              List.of()));
    }
    byProblem.forEach(
        (message, ids) ->
            problems.add(
                new Problem(
                    codeOf.getOrDefault(message, ErrorCode.PREFLIGHT_FAILED.name()),
                    message,
                    ids.size(),
                    ids.stream()
                        .map(id -> label(id, fleet.names()))
                        .sorted(NAMES)
                        .limit(EXAMPLES)
                        .toList())));

    List<BatchPlanner.PlannedBatch> batches = BatchPlanner.plan(c.policy(), targeted);
    Map<Action, Integer> changes = new LinkedHashMap<>();
    for (Action a : Action.values()) {
      changes.put(a, 0);
    }
    List<DeviceChange> listed = new ArrayList<>();
    for (BatchPlanner.PlannedBatch b : batches) {
      for (String id : b.deviceIds()) {
        String running =
            Optional.ofNullable(fleet.reports().get(id))
                .map(DeviceAppReads.Report::running)
                .orElse(null);
        String problem = problemOf.getOrDefault(id, notPlaced.get(id));
        Action action =
            problemOf.containsKey(id)
                ? Action.FAILS
                : notPlaced.containsKey(id)
                    ? Action.NOT_PLACED
                    : running == null
                        ? Action.INSTALL
                        : running.equals(c.revision()) ? Action.UNCHANGED : Action.UPDATE;
        changes.merge(action, 1, Integer::sum);
        if (listed.size() < MAX_DEVICES_LISTED) {
          listed.add(
              new DeviceChange(id, fleet.names().get(id), b.name(), running, action, problem));
        }
      }
    }
    return new Plan(
        c.deployment(),
        c.app(),
        c.fromVersion(),
        c.version(),
        c.fromRevision(),
        c.revision(),
        c.target().toString(),
        c.policy().describe(),
        c.startsRollout(),
        fleet.active().size(),
        targeted.size(),
        changes,
        batches.stream().map(b -> new Batch(b.name(), b.deviceIds().size())).toList(),
        byConfiguration.size(),
        rendered,
        problems,
        listed,
        targeted.size() - listed.size());
  }

  /**
   * Refuses a change the plan shows cannot work, unless forced.
   *
   * @throws ControllerException {@code TARGET_MATCHES_NOTHING} or {@code PREFLIGHT_FAILED} with
   *     every problem and what to do
   */
  static void require(Plan p) {
    if (p.ok()) {
      return;
    }
    String label = p.app() + "@" + p.version();
    if (p.targeted() == 0) {
      throw new ControllerException(
          ErrorCode.TARGET_MATCHES_NOTHING,
          p.problems().get(0).message()
              + "; or pass --force to deploy "
              + label
              + " anyway (devices that match later get it)");
    }
    int failing = p.changes().get(Action.FAILS);
    String each =
        p.problems().stream()
            .map(
                x ->
                    x.message()
                        + " ("
                        + String.join(", ", x.examples())
                        + (x.devices() > x.examples().size()
                            ? " and " + (x.devices() - x.examples().size()) + " more"
                            : "")
                        + ")")
            .collect(Collectors.joining("; "));
    throw new ControllerException(
        ErrorCode.PREFLIGHT_FAILED,
        failing
            + " of "
            + p.targeted()
            + " targeted device(s) cannot run "
            + label
            + ": "
            + each
            + ". Nothing was changed: fix this (see each device with --dry-run), or pass --force to"
            + " start anyway (those devices fail and the rollout's thresholds decide)");
  }

  private static String arch(DeviceFacts facts) {
    return facts == null ? null : facts.arch();
  }

  private static String label(String id, Map<String, String> names) {
    String name = names.get(id);
    return name == null ? id : name;
  }
}
