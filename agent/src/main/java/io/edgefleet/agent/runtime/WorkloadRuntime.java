package io.edgefleet.agent.runtime;

import java.time.Instant;
import java.util.List;
import java.util.Set;

/**
 * Where workloads run on this node: the reconciler hands it each desired app as manifests and asks
 * it how the app is doing.
 *
 * <p>Contract for every method: arguments are never null; {@code app} is a DNS label (lower-case
 * letters, digits and {@code -}, at most 63 characters), because it becomes a label value and part
 * of object names. Implementations are thread-safe: calls for the same app are serialized, calls
 * for different apps may run in parallel. Calls block while they talk to the runtime, bounded by
 * the implementation's request timeouts.
 */
public interface WorkloadRuntime extends AutoCloseable {

  /**
   * Applies one app's manifests (multi-document YAML) so the cluster matches them exactly: objects
   * that a previous revision created and these manifests no longer name are deleted. Idempotent:
   * applying the same revision and manifests again changes nothing and answers {@link
   * ApplyOutcome.InSync}, unless something drifted (an object deleted or edited by hand), which is
   * repaired and named in {@link ApplyOutcome.Applied#repaired()}. Only a re-apply of the revision
   * and manifests in effect reports repairs: the runtime's own changes are never drift.
   */
  ApplyOutcome apply(String app, String revision, String manifestsYaml);

  /**
   * Deletes every object this runtime created for the app, and its record of them. Idempotent: an
   * app without objects answers {@link ApplyOutcome.InSync}.
   */
  ApplyOutcome remove(String app);

  /**
   * Health of the app's workloads right now.
   *
   * @throws RuntimeUnavailableException when the runtime cannot be asked (retryable)
   */
  AppHealth health(String app);

  /**
   * Names of apps that currently own objects in the runtime, so that the reconciler can remove apps
   * that are no longer desired.
   *
   * @throws RuntimeUnavailableException when the runtime cannot be asked (retryable)
   */
  Set<String> ownedApps();

  /**
   * The kinds of workload this runtime runs, as {@code DeviceFacts.runtimes} names them ({@code
   * kubernetes}, {@code container}, {@code vm}); empty when it does not say, which the controller
   * takes as Kubernetes only. The agent reports them in its facts.
   */
  default List<String> workloadKinds() {
    return List.of();
  }

  /**
   * The Kubernetes cluster a runtime talks to.
   *
   * @param version the API server's {@code gitVersion} ({@code v1.30.6+k3s1})
   * @param apiVersions the group versions it serves ({@code v1}, {@code apps/v1}, ...), sorted
   */
  record Cluster(String version, List<String> apiVersions) {
    public Cluster {
      apiVersions = List.copyOf(apiVersions);
    }
  }

  /**
   * The cluster this runtime applies to, asked now; empty for a runtime that is not Kubernetes.
   *
   * @throws RuntimeUnavailableException when the runtime cannot be asked (retryable)
   */
  default java.util.Optional<Cluster> cluster() {
    return java.util.Optional.empty();
  }

  /** Where this runtime keeps secrets; empty for a runtime that keeps none. */
  default java.util.Optional<SecretStore> secrets() {
    return java.util.Optional.empty();
  }

  /** One container of one pod of an app: where log lines come from. */
  record LogSource(String namespace, String pod, String container) {}

  /**
   * What to read of a log: the last {@code tailLines} lines written at or after {@code since}
   * ({@link Instant#EPOCH} for all), then, with {@code follow}, new lines until the stream is
   * closed or the container goes away.
   */
  record LogQuery(int tailLines, boolean follow, Instant since) {
    public LogQuery {
      if (tailLines < 0) {
        throw new IllegalArgumentException("tailLines must be 0 or more");
      }
    }
  }

  /**
   * Receives the lines of one log stream, one call at a time, in order; then exactly one of {@link
   * #completed()} or {@link #failed(String)}. Called on the runtime's threads: must not block.
   */
  interface LogSink {
    /** A line (without its line break) and when the container wrote it. */
    void line(Instant at, String line);

    /** The log ended: all lines were read, or the followed container or pod is gone. */
    void completed();

    /** The log could not be read (further); {@code reason} says why. */
    void failed(String reason);
  }

  /** A log being read; {@link #close()} stops it (idempotent, the sink hears nothing more). */
  interface LogStream extends AutoCloseable {
    @Override
    void close();
  }

  /**
   * The containers of the app's running and finished pods, whose logs {@link #readLogs} reads.
   * Empty when the app has no pods.
   *
   * @throws RuntimeUnavailableException when the runtime cannot be asked (retryable)
   * @throws UnsupportedOperationException when this runtime keeps no workload logs
   */
  default List<LogSource> logSources(String app) {
    throw new UnsupportedOperationException("this node's workload runtime keeps no logs");
  }

  /**
   * Starts reading one container's log into {@code sink}; returns at once.
   *
   * @throws UnsupportedOperationException when this runtime keeps no workload logs
   */
  default LogStream readLogs(LogSource source, LogQuery query, LogSink sink) {
    throw new UnsupportedOperationException("this node's workload runtime keeps no logs");
  }

  /** Releases connections; afterwards every method throws {@link IllegalStateException}. */
  @Override
  void close();
}
