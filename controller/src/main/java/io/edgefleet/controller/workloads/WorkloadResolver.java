package io.edgefleet.controller.workloads;

import io.edgefleet.controller.artifacts.Artifacts;
import io.edgefleet.controller.common.Lru;
import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.controller.render.RenderException;
import io.edgefleet.controller.render.RenderedApp;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.workload.WorkloadSpecException;
import io.edgefleet.protocol.workload.Workloads;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;

/**
 * Reads a rendered app as workloads and makes it what a device runs: an app of Kubernetes objects
 * is left as it is; an app of {@code edgefleet.io/v1 Container}s or {@code VirtualMachine}s gets
 * its runtime, every registry image reference ({@code host/repo@sha256:<manifest>}) rewritten to
 * the blob digest of the image mirrored for the device's architecture, and the list of blobs it
 * uses with their sizes. Every blob must be in the artifact store. Results are remembered per
 * (rendered digest, architecture) until the store changes. Thread-safe.
 */
public final class WorkloadResolver {
  /** The architecture assumed for a device that reports none, as the image mirror assumes. */
  static final String DEFAULT_ARCH = "amd64";

  /** A registry reference by tag: {@code host[:port]/repo[:tag]}, no digest. */
  private static final Pattern TAGGED =
      Pattern.compile("[a-z0-9.-]+(:[0-9]{1,5})?(/[a-z0-9._-]+)+(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?");

  private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");

  private final ArtifactLookup artifacts;

  /** Resolutions by rendered digest and architecture, with the store version they hold for. */
  private final Lru<String, Outcome> remembered = Lru.ofEntries(4096);

  private record Outcome(Object version, AppCatalog.Rendered rendered, RenderException error) {}

  /** The store's version last seen by {@link #storeChanged}. */
  private final AtomicReference<Object> seen;

  /** Resolves against the controller's artifact store. */
  public WorkloadResolver(Artifacts artifacts) {
    this(ArtifactLookup.of(artifacts));
  }

  WorkloadResolver(ArtifactLookup artifacts) {
    this.artifacts = artifacts;
    this.seen = new AtomicReference<>(artifacts.version());
  }

  /**
   * Whether the artifact store changed since this was last asked (or since construction): apps that
   * name its blobs may render differently now (an image just mirrored resolves). Cheap: one
   * reference comparison.
   */
  public boolean storeChanged() {
    Object now = artifacts.version();
    Object before = seen.getAndSet(now);
    return before != now;
  }

  /**
   * The rendered app as a device of architecture {@code arch} gets it.
   *
   * @param arch the device's CPU architecture ({@code amd64}, {@code arm64}, or as Java names it,
   *     {@code x86_64}, {@code aarch64}); null for {@value #DEFAULT_ARCH}
   * @throws RenderException {@code WORKLOAD_INVALID} when the documents mix kinds of workload, a
   *     workload document is invalid, or an image is named by tag; {@code
   *     WORKLOAD_ARTIFACT_MISSING} when a blob is not in the artifact store or an image is not
   *     mirrored for the architecture. The message names the documents and says what to do.
   */
  public AppCatalog.Rendered resolve(AppCatalog.Rendered rendered, String arch) {
    // Kubernetes objects never name the workload API: most apps need no parsing at all.
    if (!rendered.yaml().contains(Workloads.API_VERSION)) {
      return rendered;
    }
    String platform = platform(arch);
    String key = rendered.digest() + "\n" + platform;
    Object version = artifacts.version();
    Optional<Outcome> known = remembered.get(key).filter(o -> o.version() == version);
    Outcome outcome;
    if (known.isPresent()) {
      outcome = known.get();
    } else {
      try {
        outcome = new Outcome(version, compute(rendered, platform), null);
      } catch (RenderException e) {
        outcome = new Outcome(version, null, e);
      }
      remembered.put(key, outcome);
    }
    if (outcome.error() != null) {
      throw new RenderException(outcome.error().code(), outcome.error().getMessage());
    }
    return outcome.rendered();
  }

  /** The architecture as registries name it. */
  static String platform(String arch) {
    if (arch == null || arch.isBlank()) {
      return DEFAULT_ARCH;
    }
    return switch (arch.strip()) {
      case "x86_64" -> "amd64";
      case "aarch64" -> "arm64";
      default -> arch.strip();
    };
  }

  private AppCatalog.Rendered compute(AppCatalog.Rendered rendered, String arch) {
    List<Map<String, Object>> documents =
        new RenderedApp(rendered.yaml(), rendered.digest()).documents();
    refuseTags(documents);
    Workloads workloads;
    try {
      workloads = Workloads.of(documents);
    } catch (WorkloadSpecException e) {
      throw new RenderException(
          ErrorCode.WORKLOAD_INVALID,
          "the app's workload documents are not valid: " + e.getMessage());
    }
    if (workloads.runtime().equals(DeviceFacts.RUNTIME_KUBERNETES)) {
      return rendered;
    }
    List<String> missing = new ArrayList<>();
    boolean rewritten = false;
    for (int i = 0; i < documents.size(); i++) {
      Map<String, Object> doc = documents.get(i);
      if (!Workloads.CONTAINER.equals(doc.get("kind"))) {
        continue;
      }
      @SuppressWarnings("unchecked")
      Map<String, Object> spec = (Map<String, Object>) doc.get("spec");
      String image = (String) spec.get("image");
      if (DIGEST.matcher(image).matches()) {
        continue; // checked with every other blob below
      }
      int at = image.indexOf('@');
      String name = image.substring(0, at);
      String manifest = image.substring(at + 1);
      Optional<ArtifactLookup.Blob> mirrored = artifacts.image(name, manifest, arch);
      if (mirrored.isEmpty()) {
        missing.add(
            "image "
                + image
                + " of "
                + describe(doc, i)
                + " is not mirrored for "
                + arch
                + "; run `edgefleet artifacts mirror "
                + image
                + " --arch "
                + arch
                + "`");
        continue;
      }
      spec.put("image", mirrored.get().digest());
      rewritten = true;
    }
    Map<String, ArtifactRef> used = new LinkedHashMap<>();
    if (missing.isEmpty()) {
      for (String blob : (rewritten ? Workloads.of(documents) : workloads).blobs()) {
        Optional<ArtifactLookup.Blob> stored = artifacts.blob(blob);
        if (stored.isEmpty()) {
          missing.add(
              "blob "
                  + blob
                  + " (used by "
                  + users(documents, blob)
                  + ") is not in the controller's artifact store; push it with `edgefleet"
                  + " artifacts push FILE --kind KIND --version VERSION`, or name a mirrored"
                  + " image by its registry reference");
        } else {
          used.put(blob, new ArtifactRef(blob, stored.get().size()));
        }
      }
    }
    if (!missing.isEmpty()) {
      throw new RenderException(
          ErrorCode.WORKLOAD_ARTIFACT_MISSING, "the app uses " + String.join("; ", missing));
    }
    RenderedApp out =
        rewritten ? RenderedApp.of(documents) : new RenderedApp(rendered.yaml(), rendered.digest());
    return new AppCatalog.Rendered(
        out.yaml(), out.digest(), workloads.runtime(), List.copyOf(used.values()));
  }

  /** Images named by tag are refused before anything else, with how to pin them. */
  private static void refuseTags(List<Map<String, Object>> documents) {
    for (int i = 0; i < documents.size(); i++) {
      Map<String, Object> doc = documents.get(i);
      if (Workloads.isWorkload(doc)
          && Workloads.CONTAINER.equals(doc.get("kind"))
          && doc.get("spec") instanceof Map<?, ?> spec
          && spec.get("image") instanceof String image
          && !image.contains("@")
          && !DIGEST.matcher(image).matches()
          && TAGGED.matcher(image).matches()) {
        throw new RenderException(
            ErrorCode.WORKLOAD_INVALID,
            describe(doc, i)
                + " names its image by tag ('"
                + image
                + "'): devices run images by digest only, so a tag cannot change what they run"
                + " behind your back. Run `edgefleet artifacts mirror "
                + image
                + "`, which stores the image and shows its manifest digest, then write the image"
                + " as "
                + (image.lastIndexOf(':') > image.indexOf('/')
                    ? image.substring(0, image.lastIndexOf(':'))
                    : image)
                + "@sha256:<manifest digest>");
      }
    }
  }

  /** {@code document 2 (Container web)}. */
  private static String describe(Map<String, Object> doc, int index) {
    Object name = doc.get("metadata") instanceof Map<?, ?> md ? md.get("name") : null;
    return "document " + (index + 1) + " (" + doc.get("kind") + " " + name + ")";
  }

  /** The documents naming {@code blob} anywhere in their spec. */
  private static String users(List<Map<String, Object>> documents, String blob) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < documents.size(); i++) {
      if (String.valueOf(documents.get(i).get("spec")).contains(blob)) {
        out.add(describe(documents.get(i), i));
      }
    }
    return String.join(", ", out);
  }
}
