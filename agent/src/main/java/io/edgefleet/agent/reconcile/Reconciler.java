package io.edgefleet.agent.reconcile;

import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.RuntimeUnavailableException;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.DesiredState;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * Makes the runtime match a desired state: applies every app (which also re-creates what was
 * deleted by hand), removes apps that are no longer desired, and returns what each app's state is.
 * What an apply repaired (objects deleted or changed behind the agent's back) goes to {@link
 * DriftEvents}, which reports it as rate-limited device events. It keeps no hidden state apart from
 * the last known phase per app, used when the runtime cannot be reached. Not thread-safe; one
 * reconcile runs at a time.
 */
public final class Reconciler {
  private final WorkloadRuntime runtime;
  private final DriftEvents drift;
  private final Map<String, AppState> last = new LinkedHashMap<>();

  public Reconciler(WorkloadRuntime runtime, DriftEvents drift) {
    this.runtime = runtime;
    this.drift = drift;
  }

  /**
   * One pass.
   *
   * @param bundles the manifests of a bundle digest, if stored
   */
  public List<AppState> reconcile(
      DesiredState desired, Function<String, Optional<String>> bundles) {
    List<AppState> states = new ArrayList<>();
    Set<String> names = new HashSet<>();
    for (DesiredState.DesiredApp app : desired.apps()) {
      names.add(app.name());
      states.add(reconcileApp(app, bundles.apply(app.bundle())));
    }
    try {
      for (String owned : runtime.ownedApps()) {
        if (!names.contains(owned)) {
          runtime.remove(owned);
        }
      }
    } catch (RuntimeUnavailableException e) {
      // Pruning waits for the next pass; nothing is removed on a guess.
    }
    last.keySet().retainAll(names);
    states.forEach(s -> last.put(s.name(), s));
    drift.tick();
    return states;
  }

  private AppState reconcileApp(DesiredState.DesiredApp app, Optional<String> manifests) {
    if (manifests.isEmpty()) {
      return new AppState(
          app.name(),
          app.revision(),
          AppState.Phase.FAILED,
          "bundle " + app.bundle() + " is missing on the device");
    }
    ApplyOutcome outcome = runtime.apply(app.name(), app.revision(), manifests.get());
    return switch (outcome) {
      case ApplyOutcome.Failed f ->
          new AppState(app.name(), app.revision(), AppState.Phase.FAILED, f.reason());
      case ApplyOutcome.RetryAfter r -> {
        // Report what actually runs: the update has not reached the runtime yet.
        AppState previous = last.get(app.name());
        yield previous != null
            ? new AppState(
                app.name(),
                previous.revision(),
                previous.phase(),
                app.revision().equals(previous.revision())
                    ? previous.reason()
                    : "update to " + app.revision() + " waits for the runtime: " + r.reason())
            : new AppState(
                app.name(),
                app.revision(),
                AppState.Phase.PROGRESSING,
                "waiting for the runtime: " + r.reason());
      }
      case ApplyOutcome.Applied a -> {
        drift.repaired(app.name(), a.repaired());
        yield health(app);
      }
      case ApplyOutcome.InSync s -> health(app);
    };
  }

  private AppState health(DesiredState.DesiredApp app) {
    AppHealth h;
    try {
      h = runtime.health(app.name());
    } catch (RuntimeUnavailableException e) {
      AppState previous = last.get(app.name());
      return previous != null && app.revision().equals(previous.revision())
          ? previous
          : new AppState(
              app.name(),
              app.revision(),
              AppState.Phase.APPLIED,
              "applied; health unknown: " + e.getMessage());
    }
    AppState.Phase phase =
        switch (h.state()) {
          case READY -> AppState.Phase.READY;
          case FAILED -> AppState.Phase.FAILED;
          case PROGRESSING, MISSING -> AppState.Phase.PROGRESSING;
        };
    return new AppState(app.name(), app.revision(), phase, h.reason());
  }
}
