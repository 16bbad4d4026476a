package io.edgefleet.controller.secrets;

import java.util.Set;

/** A feature besides secrets that seals values under the master keys of a {@link MasterKeyRing}. */
@FunctionalInterface
public interface MasterKeyUsers {
  /**
   * Called at a master key rotation: re-seals what it can under {@code next} and answers the ids of
   * the keys it still needs.
   */
  Set<String> keyIdsInUse(SecretBox next);
}
