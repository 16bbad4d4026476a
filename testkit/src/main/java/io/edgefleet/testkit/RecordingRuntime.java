package io.edgefleet.testkit;

import io.edgefleet.agent.runtime.AppHealth;
import io.edgefleet.agent.runtime.ApplyOutcome;
import io.edgefleet.agent.runtime.WorkloadRuntime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Wraps a real workload runtime and records, per app, every revision the agent applied that changed
 * what runs (an apply the runtime answers {@code InSync}, as reconciliation and a restart do, is
 * not a change), so tests can prove that a device was updated exactly once; and counts the applies
 * the agent began, so tests can wait for its next pass over an app. Otherwise it is the runtime it
 * wraps. Thread-safe.
 */
public final class RecordingRuntime implements WorkloadRuntime {
  private final WorkloadRuntime delegate;
  private final Map<String, List<String>> revisions = new ConcurrentHashMap<>();
  private final Map<String, AtomicLong> applies = new ConcurrentHashMap<>();

  public RecordingRuntime(WorkloadRuntime delegate) {
    this.delegate = delegate;
  }

  /** The revisions the app went through on this device, in order, without repeats. */
  public List<String> revisions(String app) {
    List<String> r = revisions.get(app);
    synchronized (this) {
      return r == null ? List.of() : List.copyOf(r);
    }
  }

  /** How many applies of the app the agent began, whatever they answered. */
  public long applies(String app) {
    AtomicLong n = applies.get(app);
    return n == null ? 0 : n.get();
  }

  @Override
  public ApplyOutcome apply(String app, String revision, String manifestsYaml) {
    applies.computeIfAbsent(app, k -> new AtomicLong()).incrementAndGet();
    ApplyOutcome outcome = delegate.apply(app, revision, manifestsYaml);
    if (!(outcome instanceof ApplyOutcome.Applied)) {
      return outcome;
    }
    synchronized (this) {
      List<String> r = revisions.computeIfAbsent(app, k -> new ArrayList<>());
      if (r.isEmpty() || !r.getLast().equals(revision)) {
        r.add(revision);
      }
    }
    return outcome;
  }

  @Override
  public ApplyOutcome remove(String app) {
    ApplyOutcome outcome = delegate.remove(app);
    synchronized (this) {
      List<String> r = revisions.computeIfAbsent(app, k -> new ArrayList<>());
      if (r.isEmpty() || !r.getLast().equals("(removed)")) {
        r.add("(removed)");
      }
    }
    return outcome;
  }

  @Override
  public AppHealth health(String app) {
    return delegate.health(app);
  }

  @Override
  public Set<String> ownedApps() {
    return delegate.ownedApps();
  }

  @Override
  public Optional<Cluster> cluster() {
    return delegate.cluster();
  }

  @Override
  public Optional<io.edgefleet.agent.runtime.SecretStore> secrets() {
    return delegate.secrets();
  }

  @Override
  public void close() {
    delegate.close();
  }
}
