package io.edgefleet.agent.runtime.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.AppHealth.State;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Readiness of objects from their live status, the way {@code kubectl rollout status} judges it.
 * Pure functions over objects read from the API server; thread-safe.
 */
final class Readiness {
  private static final int MAX_REASONS = 3;

  private Readiness() {}

  /** The health of one live object. */
  static AppHealth of(JsonNode live) {
    String apiVersion = live.path("apiVersion").asText();
    int slash = apiVersion.indexOf('/');
    String group = slash < 0 ? "" : apiVersion.substring(0, slash);
    String kind = live.path("kind").asText();
    String name = kind.toLowerCase(Locale.ROOT) + " " + live.path("metadata").path("name").asText();
    JsonNode spec = live.path("spec");
    JsonNode status = live.path("status");
    long generation = live.path("metadata").path("generation").asLong(0);
    return switch (group + "/" + kind) {
      case "apps/Deployment" -> deployment(name, generation, spec, status);
      case "apps/StatefulSet" -> statefulSet(name, generation, spec, status);
      case "apps/DaemonSet" -> daemonSet(name, generation, status);
      case "batch/Job" -> job(name, spec, status);
      default -> new AppHealth(State.READY, name + ": exists");
    };
  }

  static AppHealth deployment(String name, long generation, JsonNode spec, JsonNode status) {
    for (JsonNode c : status.path("conditions")) {
      if ("Progressing".equals(c.path("type").asText())
          && "ProgressDeadlineExceeded".equals(c.path("reason").asText())) {
        return new AppHealth(State.FAILED, name + ": progress deadline exceeded" + message(c));
      }
    }
    if (status.path("observedGeneration").asLong(0) < generation) {
      return new AppHealth(State.PROGRESSING, name + ": waiting for the rollout to start");
    }
    long replicas = spec.path("replicas").asLong(1);
    long updated = status.path("updatedReplicas").asLong(0);
    long available = status.path("availableReplicas").asLong(0);
    long total = status.path("replicas").asLong(0);
    if (updated == replicas && available == replicas && total <= replicas) {
      return new AppHealth(State.READY, name + ": " + available + "/" + replicas + " available");
    }
    if (updated < replicas) {
      return new AppHealth(
          State.PROGRESSING,
          name + ": " + updated + "/" + replicas + " updated, " + available + " available");
    }
    if (total > updated) {
      return new AppHealth(
          State.PROGRESSING, name + ": " + (total - updated) + " old replicas terminating");
    }
    return new AppHealth(
        State.PROGRESSING, name + ": " + available + "/" + replicas + " available");
  }

  static AppHealth statefulSet(String name, long generation, JsonNode spec, JsonNode status) {
    if (status.path("observedGeneration").asLong(0) < generation) {
      return new AppHealth(State.PROGRESSING, name + ": waiting for the rollout to start");
    }
    long replicas = spec.path("replicas").asLong(1);
    long ready = status.path("readyReplicas").asLong(0);
    String current = status.path("currentRevision").asText("");
    String update = status.path("updateRevision").asText("");
    if (!current.equals(update)) {
      return new AppHealth(
          State.PROGRESSING,
          name
              + ": rolling out "
              + status.path("updatedReplicas").asLong(0)
              + "/"
              + replicas
              + " updated, "
              + ready
              + " ready");
    }
    State state = ready == replicas ? State.READY : State.PROGRESSING;
    return new AppHealth(state, name + ": " + ready + "/" + replicas + " ready");
  }

  static AppHealth daemonSet(String name, long generation, JsonNode status) {
    if (status.path("observedGeneration").asLong(0) < generation) {
      return new AppHealth(State.PROGRESSING, name + ": waiting for the rollout to start");
    }
    long desired = status.path("desiredNumberScheduled").asLong(0);
    long ready = status.path("numberReady").asLong(0);
    long updated = status.path("updatedNumberScheduled").asLong(0);
    if (ready == desired && updated == desired) {
      return new AppHealth(State.READY, name + ": " + ready + "/" + desired + " ready");
    }
    return new AppHealth(
        State.PROGRESSING,
        name + ": " + ready + "/" + desired + " ready, " + updated + "/" + desired + " updated");
  }

  static AppHealth job(String name, JsonNode spec, JsonNode status) {
    for (JsonNode c : status.path("conditions")) {
      if ("Failed".equals(c.path("type").asText()) && "True".equals(c.path("status").asText())) {
        String why = c.path("reason").isTextual() ? " (" + c.path("reason").asText() + ")" : "";
        return new AppHealth(State.FAILED, name + ": failed" + why + message(c));
      }
    }
    long completions = spec.path("completions").asLong(1);
    long succeeded = status.path("succeeded").asLong(0);
    State state = succeeded >= completions ? State.READY : State.PROGRESSING;
    return new AppHealth(state, name + ": " + succeeded + "/" + completions + " succeeded");
  }

  /** Why the pod is failing, if one of its containers is in a crash loop. */
  static Optional<String> podFailure(JsonNode pod) {
    for (String field : List.of("initContainerStatuses", "containerStatuses")) {
      for (JsonNode c : pod.path("status").path(field)) {
        if ("CrashLoopBackOff".equals(c.path("state").path("waiting").path("reason").asText())) {
          return Optional.of(
              "pod "
                  + pod.path("metadata").path("name").asText()
                  + ": container "
                  + c.path("name").asText()
                  + " in CrashLoopBackOff ("
                  + c.path("restartCount").asLong(0)
                  + " restarts)");
        }
      }
    }
    return Optional.empty();
  }

  /**
   * One health for many parts: the worst state wins (FAILED, then MISSING, then PROGRESSING, then
   * READY), with the reasons of the parts in that state.
   */
  static AppHealth combine(List<AppHealth> parts) {
    if (parts.isEmpty()) {
      return new AppHealth(State.READY, "no objects");
    }
    State worst =
        parts.stream()
            .map(AppHealth::state)
            .max(Comparator.comparingInt(Readiness::rank))
            .orElseThrow();
    if (worst == State.READY) {
      return new AppHealth(
          State.READY,
          parts.size() == 1 ? parts.get(0).reason() : "all " + parts.size() + " objects ready");
    }
    List<String> reasons = new ArrayList<>();
    for (AppHealth p : parts) {
      if (p.state() == worst) {
        reasons.add(p.reason());
      }
    }
    String reason = String.join("; ", reasons.subList(0, Math.min(MAX_REASONS, reasons.size())));
    if (reasons.size() > MAX_REASONS) {
      reason += " (+" + (reasons.size() - MAX_REASONS) + " more)";
    }
    return new AppHealth(worst, reason);
  }

  private static int rank(State s) {
    return switch (s) {
      case READY -> 0;
      case PROGRESSING -> 1;
      case MISSING -> 2;
      case FAILED -> 3;
    };
  }

  private static String message(JsonNode condition) {
    String m = condition.path("message").asText("");
    return m.isBlank() ? "" : ": " + m;
  }
}
