package io.edgefleet.agent.runtime;

import java.util.List;
import java.util.Map;

/**
 * Where this node keeps the secrets the agent was given: Kubernetes Secrets owned by the agent.
 * Values pass through in memory only. Thread-safe; calls block while they talk to the runtime.
 */
public interface SecretStore {

  /** A secret the agent owns in the runtime, at the version it was written from. */
  record Held(String namespace, String name, long version) {}

  /**
   * Creates or replaces the secret {@code name} in {@code namespace} (created if missing) with
   * exactly these keys and values, marked as the agent's at {@code version}.
   *
   * @throws IllegalStateException if an object of that name exists that the agent does not own (it
   *     is left alone)
   * @throws RuntimeUnavailableException when the runtime cannot be asked (retryable)
   */
  void put(String namespace, String name, long version, Map<String, byte[]> data);

  /**
   * Deletes a secret the agent owns; answers false if it was gone already.
   *
   * @throws RuntimeUnavailableException when the runtime cannot be asked (retryable)
   */
  boolean delete(String namespace, String name);

  /**
   * Every secret the agent owns, in every namespace.
   *
   * @throws RuntimeUnavailableException when the runtime cannot be asked (retryable)
   */
  List<Held> held();
}
