package io.edgefleet.controller.artifacts;

import java.util.Optional;

/** Who still needs an artifact, so that it is not deleted from under them. */
@FunctionalInterface
public interface ArtifactUsers {
  /** Nothing uses artifacts. */
  ArtifactUsers NONE = digest -> Optional.empty();

  /** A sentence naming who uses the artifact of {@code digest}, or empty when nothing does. */
  Optional<String> userOf(String digest);
}
