package io.edgefleet.controller.workloads;

import io.edgefleet.controller.artifacts.Artifacts;
import java.util.Optional;

/**
 * What the resolution of workload blobs reads of the artifact store: blobs by digest, mirrored
 * images by repository, manifest digest and architecture, and a token that changes whenever the
 * store does (so resolutions remembered before are not trusted after a push, mirror or delete).
 */
interface ArtifactLookup {
  /** A stored blob: its digest, size and the architecture it was stored for. */
  record Blob(String digest, long size, String kind, String arch) {}

  Optional<Blob> blob(String digest);

  /** The oci-archive mirrored for {@code name@manifestDigest} on {@code linux/arch}. */
  Optional<Blob> image(String name, String manifestDigest, String arch);

  /** Changes (by identity) whenever the store's catalogue does. */
  Object version();

  /** The controller's artifact store. */
  static ArtifactLookup of(Artifacts artifacts) {
    return new ArtifactLookup() {
      @Override
      public Optional<Blob> blob(String digest) {
        return artifacts.get(digest).map(ArtifactLookup::blob);
      }

      @Override
      public Optional<Blob> image(String name, String manifestDigest, String arch) {
        return artifacts
            .find(Artifacts.IMAGE, name, manifestDigest, arch)
            .map(ArtifactLookup::blob);
      }

      @Override
      public Object version() {
        // The catalogue is replaced, never changed in place.
        return artifacts.list();
      }
    };
  }

  private static Blob blob(Artifacts.Artifact a) {
    return new Blob(a.digest(), a.size(), a.kind(), a.arch());
  }
}
