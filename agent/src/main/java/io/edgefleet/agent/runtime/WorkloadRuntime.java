package io.edgefleet.agent.runtime;

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
   * repaired.
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

  /** Releases connections; afterwards every method throws {@link IllegalStateException}. */
  @Override
  void close();
}
