package io.edgefleet.agent.runtime;

import java.util.Set;

/** A node without a workload runtime: every app is reported failed, with the reason. */
public final class NoRuntime implements WorkloadRuntime {
  private final String why;

  public NoRuntime(String why) {
    this.why = why;
  }

  @Override
  public ApplyOutcome apply(String app, String revision, String manifestsYaml) {
    return new ApplyOutcome.Failed("no workload runtime on this node: " + why);
  }

  @Override
  public ApplyOutcome remove(String app) {
    return new ApplyOutcome.InSync();
  }

  @Override
  public AppHealth health(String app) {
    return new AppHealth(AppHealth.State.FAILED, "no workload runtime on this node: " + why);
  }

  @Override
  public Set<String> ownedApps() {
    return Set.of();
  }

  @Override
  public void close() {}
}
