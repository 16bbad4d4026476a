package io.edgefleet.agent.runtime;

import java.nio.file.Path;
import java.util.Optional;

/**
 * The content-addressed artifacts (container images as OCI archives, VM disks, kernels) this device
 * holds, for the runtimes that use them. A runtime asks for the digests its workloads name; a blob
 * that is not here yet is being downloaded, and the runtime answers {@link ApplyOutcome.RetryAfter}
 * until it is. Implementations are thread-safe.
 */
public interface Blobs {
  /** No blobs at all: for nodes and tests without artifacts. */
  Blobs NONE = digest -> Optional.empty();

  /**
   * The local file holding the blob {@code digest} ({@code sha256:<64 hex>}), whose content was
   * verified against the digest when it was stored; empty when the device does not hold it. The
   * file is read-only to its users and stays in place while a desired app names it.
   */
  Optional<Path> find(String digest);
}
