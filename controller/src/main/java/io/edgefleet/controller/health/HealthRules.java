package io.edgefleet.controller.health;

import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.Durations;
import io.edgefleet.protocol.Telemetry;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Decides whether a reachable device is {@code ERROR} (it cannot apply its desired state) or {@code
 * DEGRADED} (something on it is unhealthy), with a reason a person can act on and since when. A
 * pure function of its inputs; only devices that are {@code ONLINE} by presence are judged, so an
 * offline device is never {@code ERROR}.
 */
final class HealthRules {
  /** How many problems a reason names before it only counts the rest. */
  static final int NAMED_PROBLEMS = 3;

  private HealthRules() {}

  /** A refined status: DEGRADED or ERROR. */
  record Assessment(DeviceStatus status, String reason, Instant since) {}

  private record Problem(String text, Instant since) {}

  /**
   * @param reachableSince since when the device has been reachable without a break (an app that has
   *     not converged is judged late only after it had its chance while reachable)
   * @return empty when nothing is wrong: the device stays {@code ONLINE}
   */
  static Optional<Assessment> assess(
      Signals s,
      Optional<Telemetry.Metrics> metrics,
      DeviceFacts facts,
      Instant reachableSince,
      Instant now,
      HealthPolicy policy) {
    Optional<Assessment> error = cannotApply(s, now);
    if (error.isPresent()) {
      return error;
    }
    List<Problem> problems = new ArrayList<>();
    for (Signals.App a : s.apps()) {
      Instant chance = later(a.desiredSince(), reachableSince);
      if (a.renderError() != null) {
        problems.add(
            new Problem(
                "app " + a.name() + " cannot be rendered for this device: " + a.renderError(),
                chance));
      } else if (a.failed()) {
        problems.add(
            new Problem(
                "app "
                    + a.name()
                    + " FAILED"
                    + (a.running() != null && !a.running().equals(a.desired())
                        ? " on revision " + a.running()
                        : "")
                    + (blank(a.reason()) ? "" : ": " + a.reason()),
                a.reportedAt() == null ? now : a.reportedAt()));
      } else if (!a.ready()
          && Duration.between(chance, now).compareTo(policy.notReadyAfter()) >= 0) {
        problems.add(new Problem(notReady(a, now), chance.plus(policy.notReadyAfter())));
      }
    }
    metrics
        .filter(m -> Duration.between(m.at(), now).compareTo(policy.metricsMaxAge()) <= 0)
        .ifPresent(m -> problems.addAll(resources(m, facts, policy)));
    if (problems.isEmpty()) {
      return Optional.empty();
    }
    StringBuilder reason = new StringBuilder();
    for (int i = 0; i < Math.min(NAMED_PROBLEMS, problems.size()); i++) {
      reason.append(i == 0 ? "" : "; ").append(problems.get(i).text());
    }
    if (problems.size() > NAMED_PROBLEMS) {
      int more = problems.size() - NAMED_PROBLEMS;
      reason.append("; and ").append(more).append(more == 1 ? " more problem" : " more problems");
    }
    Instant since =
        problems.stream().map(Problem::since).min(Comparator.naturalOrder()).orElse(now);
    return Optional.of(new Assessment(DeviceStatus.DEGRADED, reason.toString(), since));
  }

  /**
   * Whether the device is reachable and still updating: some app has not converged on its desired
   * revision yet, but is neither failed nor late.
   */
  static boolean updating(Signals s, Instant reachableSince, Instant now, HealthPolicy policy) {
    for (Signals.App a : s.apps()) {
      if (a.renderError() == null
          && !a.failed()
          && !a.ready()
          && Duration.between(later(a.desiredSince(), reachableSince), now)
                  .compareTo(policy.notReadyAfter())
              < 0) {
        return true;
      }
    }
    return false;
  }

  /** ERROR: the desired state was refused, no app can be rendered, or no app can run at all. */
  private static Optional<Assessment> cannotApply(Signals s, Instant now) {
    Signals.Refusal r = s.refusal();
    if (r != null) {
      return Optional.of(
          new Assessment(
              DeviceStatus.ERROR,
              "refused its desired state "
                  + Durations.human(Duration.between(r.recorded(), now))
                  + " ago ("
                  + r.kind()
                  + "): "
                  + r.message()
                  + advice(r.kind())
                  + "; it keeps running the last state it accepted",
              r.recorded()));
    }
    List<Signals.App> apps = s.apps();
    if (apps.isEmpty()) {
      return Optional.empty();
    }
    if (apps.stream().allMatch(a -> a.renderError() != null)) {
      Signals.App first = apps.getFirst();
      return Optional.of(
          new Assessment(
              DeviceStatus.ERROR,
              (apps.size() == 1
                      ? "its only app " + first.name() + " cannot be rendered for it: "
                      : "none of its "
                          + apps.size()
                          + " apps can be rendered for it ("
                          + first.name()
                          + ": ")
                  + first.renderError()
                  + (apps.size() == 1 ? "" : ")")
                  + "; fix the app's values or this device's tags",
              now));
    }
    if (apps.stream().allMatch(a -> a.failed() && cannotRun(a.reason()))) {
      Signals.App first = apps.getFirst();
      Instant since =
          apps.stream()
              .map(a -> a.reportedAt() == null ? now : a.reportedAt())
              .max(Comparator.naturalOrder())
              .orElse(now);
      boolean noRuntime = first.reason().startsWith(NO_RUNTIME);
      return Optional.of(
          new Assessment(
              DeviceStatus.ERROR,
              "cannot run "
                  + (apps.size() == 1
                      ? "its app " + first.name()
                      : "any of its " + apps.size() + " apps")
                  + ": "
                  + first.reason()
                  + (noRuntime
                      ? "; install a workload runtime (K3s) on the node or point the agent at"
                          + " one with --kubeconfig"
                      : ""),
              since));
    }
    return Optional.empty();
  }

  // The agent's wording for failures of the node rather than of the app (agent runtime/NoRuntime
  // and reconcile/Reconciler): nothing can run there until the node itself is fixed.
  static final String NO_RUNTIME = "no workload runtime";

  private static boolean cannotRun(String reason) {
    return reason != null
        && (reason.startsWith(NO_RUNTIME)
            || (reason.startsWith("bundle ") && reason.endsWith("is missing on the device")));
  }

  private static String advice(String kind) {
    return switch (kind) {
      case "desired-state-bad-signature" ->
          "; the device does not trust this controller's signing key: was the controller's data"
              + " directory (pki/) replaced? restore it, or re-enroll the device";
      case "desired-state-unknown-key" ->
          "; the document was signed with a key the device was never told about: was the key it"
              + " depended on retired with --force, or the controller's pki/ directory replaced?"
              + " see edgefleet signing-key list; re-enroll the device if its key is gone";
      case "desired-state-replayed" ->
          "; the device already holds a newer generation than the controller issues: was the"
              + " controller's database restored from an older backup?";
      case "desired-state-wrong-device" ->
          "; the document names another device: do two devices share one agent state directory?";
      case "desired-state-malformed" ->
          "; the device cannot read the document or its bundles: compare the agent's version with"
              + " the controller's";
      default -> "";
    };
  }

  private static String notReady(Signals.App a, Instant now) {
    String late = Durations.human(Duration.between(a.desiredSince(), now));
    String detail = blank(a.reason()) ? "" : ": " + a.reason();
    if (a.running() == null) {
      return "app " + a.name() + " not reported " + late + " after it was desired" + detail;
    }
    if (!a.running().equals(a.desired())) {
      return "app "
          + a.name()
          + " still runs "
          + a.running()
          + " "
          + late
          + " after "
          + a.desired()
          + " was desired"
          + detail;
    }
    return "app "
        + a.name()
        + " is "
        + (a.phase() == null ? "not reported" : a.phase())
        + ", not READY "
        + late
        + " after it was desired"
        + detail;
  }

  private static List<Problem> resources(
      Telemetry.Metrics m, DeviceFacts facts, HealthPolicy policy) {
    List<Problem> out = new ArrayList<>();
    for (Map.Entry<String, Telemetry.Stat> e : m.metrics().entrySet()) {
      String name = e.getKey();
      if (name.startsWith("disk.") && name.endsWith(".used.percent") && e.getValue() != null) {
        double used = e.getValue().last();
        if (used >= policy.diskPercent()) {
          String mount = name.substring(5, name.length() - ".used.percent".length());
          out.add(new Problem("disk " + mount + " " + percent(used) + " full", m.at()));
        }
      }
    }
    memoryPercent(m, facts)
        .filter(p -> p >= policy.memoryPercent())
        .ifPresent(p -> out.add(new Problem("memory " + percent(p) + " used", m.at())));
    return out;
  }

  private static Optional<Double> memoryPercent(Telemetry.Metrics m, DeviceFacts facts) {
    Telemetry.Stat percent = m.metrics().get("mem.used.percent");
    if (percent != null) {
      return Optional.of(percent.mean());
    }
    Telemetry.Stat used = m.metrics().get("mem.used.bytes");
    if (used == null) {
      return Optional.empty();
    }
    Telemetry.Stat total = m.metrics().get("mem.total.bytes");
    double bytes = total != null ? total.last() : facts == null ? 0 : facts.memoryBytes();
    return bytes > 0 ? Optional.of(100 * used.mean() / bytes) : Optional.empty();
  }

  private static String percent(double p) {
    return String.format(Locale.ROOT, "%.0f%%", Math.floor(p));
  }

  private static Instant later(Instant a, Instant b) {
    return a.isAfter(b) ? a : b;
  }

  private static boolean blank(String s) {
    return s == null || s.isBlank();
  }
}
