package io.edgefleet.controller.artifacts;

import io.edgefleet.protocol.ArtifactRef;
import java.util.Optional;

/** The K3s binaries pushed as artifacts, by version and architecture. */
public final class K3sBinaries {
  /** The artifact kind of a K3s binary. */
  public static final String KIND = "k3s";

  private final Artifacts artifacts;

  public K3sBinaries(Artifacts artifacts) {
    this.artifacts = artifacts;
  }

  /** The K3s binary of {@code version} (e.g. {@code v1.20.2+k3s1}) for {@code arch}, if pushed. */
  public Optional<ArtifactRef> k3s(String version, String arch) {
    return artifacts
        .find(KIND, version, arch == null || arch.isBlank() ? "amd64" : arch)
        .map(a -> new ArtifactRef(a.digest(), a.size()));
  }

  /** The command an operator runs to push the missing binary. */
  public static String pushHint(String version, String arch) {
    return "push the K3s "
        + version
        + " binary: edgefleet artifacts push ./k3s --kind k3s --version "
        + version
        + " --arch "
        + (arch == null || arch.isBlank() ? "amd64" : arch);
  }
}
