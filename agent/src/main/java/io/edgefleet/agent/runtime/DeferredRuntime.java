package io.edgefleet.agent.runtime;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * A runtime that does not exist yet: the Kubernetes runtime of a node whose kubeconfig appears
 * after the agent started (a K3s node the agent itself starts writes it once it runs). Every call
 * first tries to {@code open} the real runtime; once that succeeds, every call goes to it. Until
 * then it answers like {@link NoRuntime} (applies fail with the reason, nothing is owned) and its
 * secret store is unavailable (retried), so nothing is lost while the runtime comes up.
 *
 * <p>Thread-safe.
 */
public final class DeferredRuntime implements WorkloadRuntime {
  private static final Duration RETRY = Duration.ofSeconds(10);

  /** What opens the real runtime: empty, with the reason, while it cannot be opened yet. */
  @FunctionalInterface
  public interface Opener {
    /**
     * @return the runtime, or empty if it cannot be opened yet
     * @throws RuntimeException when opening failed; the message says why, and it is tried again
     */
    Optional<WorkloadRuntime> open();
  }

  private final Opener opener;
  private final Supplier<String> waiting;
  private WorkloadRuntime delegate;
  private String problem;
  private boolean closed;

  /**
   * @param opener opens the real runtime
   * @param waiting why there is no runtime yet, for a person (e.g. "no kubeconfig at ...")
   */
  public DeferredRuntime(Opener opener, Supplier<String> waiting) {
    this.opener = opener;
    this.waiting = waiting;
  }

  /** The real runtime if it could be opened now. */
  synchronized Optional<WorkloadRuntime> current() {
    if (closed) {
      throw new IllegalStateException("the workload runtime is closed");
    }
    if (delegate == null) {
      try {
        Optional<WorkloadRuntime> r = opener.open();
        if (r.isPresent()) {
          delegate = r.get();
          problem = null;
        } else {
          problem = waiting.get();
        }
      } catch (RuntimeException e) {
        problem = waiting.get() + ": " + e.getMessage();
      }
    }
    return Optional.ofNullable(delegate);
  }

  private synchronized String why() {
    return problem == null ? waiting.get() : problem;
  }

  /** Whether the real runtime is open. */
  public synchronized boolean opened() {
    return delegate != null;
  }

  @Override
  public ApplyOutcome apply(String app, String revision, String manifestsYaml) {
    return current()
        .map(r -> r.apply(app, revision, manifestsYaml))
        .orElseGet(() -> new ApplyOutcome.Failed("no workload runtime on this node: " + why()));
  }

  @Override
  public ApplyOutcome remove(String app) {
    return current().map(r -> r.remove(app)).orElseGet(ApplyOutcome.InSync::new);
  }

  @Override
  public AppHealth health(String app) {
    return current()
        .map(r -> r.health(app))
        .orElseGet(
            () ->
                new AppHealth(
                    AppHealth.State.FAILED, "no workload runtime on this node: " + why()));
  }

  @Override
  public Set<String> ownedApps() {
    return current().map(WorkloadRuntime::ownedApps).orElseGet(Set::of);
  }

  @Override
  public Optional<Cluster> cluster() {
    return current().flatMap(WorkloadRuntime::cluster);
  }

  /** Secrets go to the real runtime's store once it is open; until then they wait (retried). */
  @Override
  public Optional<SecretStore> secrets() {
    return Optional.of(
        new SecretStore() {
          private SecretStore store() {
            return current()
                .flatMap(WorkloadRuntime::secrets)
                .orElseThrow(
                    () ->
                        new RuntimeUnavailableException(
                            "no workload runtime on this node yet: " + why(), RETRY, null));
          }

          @Override
          public void put(String namespace, String name, long version, Map<String, byte[]> data) {
            store().put(namespace, name, version, data);
          }

          @Override
          public boolean delete(String namespace, String name) {
            return store().delete(namespace, name);
          }

          @Override
          public List<Held> held() {
            return store().held();
          }
        });
  }

  @Override
  public List<LogSource> logSources(String app) {
    return current()
        .orElseThrow(
            () ->
                new RuntimeUnavailableException(
                    "no workload runtime on this node yet: " + why(), RETRY, null))
        .logSources(app);
  }

  @Override
  public LogStream readLogs(LogSource source, LogQuery query, LogSink sink) {
    return current()
        .orElseThrow(
            () ->
                new RuntimeUnavailableException(
                    "no workload runtime on this node yet: " + why(), RETRY, null))
        .readLogs(source, query, sink);
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (delegate != null) {
      delegate.close();
    }
  }
}
