package io.edgefleet.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * {@code release.json} at the root of an agent release file: what the release is and how the slot
 * it is staged into is started. The controller checks it against the signed facts when a release is
 * pushed, and the device again before it stages the release.
 *
 * @param format {@link #FORMAT}
 * @param version the agent version the release carries
 * @param arch the CPU architecture it is for
 * @param mainClass the class the slot's JVM starts
 * @param javaOptions extra JVM options for this release (empty when none)
 */
public record AgentReleaseManifest(
    int format,
    String version,
    String arch,
    String mainClass,
    @JsonInclude(JsonInclude.Include.NON_EMPTY) List<String> javaOptions) {
  /** The layout this manifest describes. */
  public static final int FORMAT = 1;

  /** The manifest's name inside a release file and a slot. */
  public static final String FILE = "release.json";

  public AgentReleaseManifest {
    javaOptions = javaOptions == null ? List.of() : List.copyOf(javaOptions);
  }
}
