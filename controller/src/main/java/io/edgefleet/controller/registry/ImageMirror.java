package io.edgefleet.controller.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.edgefleet.controller.artifacts.Artifacts;
import io.edgefleet.controller.artifacts.Artifacts.Artifact;
import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Mirrors container images from OCI distribution registries into the controller's {@link
 * Artifacts}: resolves a reference to a manifest (picking {@code linux/<arch>} from an index),
 * fetches its config and layers while checking every digest, writes the image as an oci-archive and
 * stores it as an artifact of kind {@value Artifacts#IMAGE}, named by the repository and versioned
 * by the manifest digest. Mirroring an image already stored answers the stored artifact without
 * fetching its blobs again.
 *
 * <p>Thread-safe. At most {@value #CONCURRENT} mirrors run at once; each uses one connection at a
 * time and one thread that ends a transfer stalled for longer than its stall timeout. The blobs of
 * a mirror live in a temporary directory under {@code work} and are deleted when it ends, whatever
 * the outcome.
 */
public final class ImageMirror {
  /** Mirrors that may run at once; more are refused, to retry. */
  public static final int CONCURRENT = 2;

  /** The architecture asked for when a request names none. */
  public static final String DEFAULT_ARCH = "amd64";

  private static final Logger log = LoggerFactory.getLogger(ImageMirror.class);
  private static final Pattern ARCH = Pattern.compile("[a-z0-9_]{1,20}");
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Artifacts artifacts;
  private final RegistryConfig config;
  private final Path work;
  private final Jdbi jdbi;
  private final AuditLog audit;
  private final RegistryClient.Timeouts timeouts;
  private final Semaphore running = new Semaphore(CONCURRENT);

  /**
   * What a mirror stored or found stored.
   *
   * @param artifact the stored oci-archive
   * @param reference the reference as asked
   * @param manifestDigest the digest of the image manifest (for a tag: what it resolved to)
   * @param platform {@code linux/<arch>} of the image
   * @param fetched whether blobs were fetched; false when the image was stored already
   */
  public record Mirrored(
      Artifact artifact,
      String reference,
      String manifestDigest,
      String platform,
      boolean fetched) {}

  public ImageMirror(
      Artifacts artifacts, RegistryConfig config, Path work, Jdbi jdbi, AuditLog audit) {
    this(artifacts, config, work, jdbi, audit, RegistryClient.Timeouts.defaults());
  }

  ImageMirror(
      Artifacts artifacts,
      RegistryConfig config,
      Path work,
      Jdbi jdbi,
      AuditLog audit,
      RegistryClient.Timeouts timeouts) {
    this.artifacts = artifacts;
    this.config = config;
    this.work = work;
    this.jdbi = jdbi;
    this.audit = audit;
    this.timeouts = timeouts;
    clearLeftovers();
  }

  /**
   * Mirrors the image {@code reference} names for {@code linux/<arch>}. Idempotent: the same image
   * is stored once.
   *
   * @param arch the CPU architecture, such as {@code amd64} or {@code arm64}; blank for {@value
   *     #DEFAULT_ARCH}
   * @throws ControllerException {@code VALIDATION_FAILED} (reference, architecture, registries
   *     file), {@code REGISTRY_UNREACHABLE}, {@code REGISTRY_NOT_FOUND}, {@code
   *     REGISTRY_UNAUTHORIZED}, {@code REGISTRY_DIGEST_MISMATCH}, {@code
   *     REGISTRY_RESPONSE_INVALID}, {@code IMAGE_MEDIA_TYPE_UNSUPPORTED}, {@code
   *     ARTIFACT_TOO_LARGE}, {@code RATE_LIMITED} while {@value #CONCURRENT} mirrors run
   */
  public Mirrored mirror(String reference, String arch, String actor) {
    ImageReference ref = ImageReference.parse(reference);
    String platformArch = arch == null || arch.isBlank() ? DEFAULT_ARCH : arch.strip();
    if (!ARCH.matcher(platformArch).matches()) {
      throw ControllerException.invalid(
          "arch '" + platformArch + "' is not valid: a CPU architecture such as amd64 or arm64");
    }
    RegistrySettings settings = config.settingsFor(ref.registry());
    if (!running.tryAcquire()) {
      throw new ControllerException(
          ErrorCode.RATE_LIMITED,
          CONCURRENT + " images are being mirrored already; try again when one has finished");
    }
    try (ScheduledExecutorService timer =
            Executors.newSingleThreadScheduledExecutor(
                r -> Thread.ofPlatform().daemon().name("registry-stall-watch").unstarted(r));
        RegistryClient client = new RegistryClient(settings, ref.repository(), timeouts, timer)) {
      Mirrored m = mirror(client, ref, platformArch, actor);
      jdbi.useTransaction(
          h ->
              audit.record(
                  h,
                  actor,
                  "artifact.mirror",
                  m.artifact().digest(),
                  Map.of(
                      "reference",
                      ref.toString(),
                      "manifestDigest",
                      m.manifestDigest(),
                      "arch",
                      platformArch,
                      "fetched",
                      m.fetched())));
      return m;
    } finally {
      running.release();
    }
  }

  private Mirrored mirror(RegistryClient client, ImageReference ref, String arch, String actor) {
    String platform = "linux/" + arch;
    RegistryClient.Fetched top = client.manifest(ref.manifestReference());
    checkDigest(top, ref.digest().orElse(top.claimedDigest().orElse(top.digest())), ref.toString());
    String mediaType = Manifests.mediaType(top.body(), top.contentType(), ref.toString());
    RegistryClient.Fetched chosen = top;
    if (Manifests.INDEXES.contains(mediaType)) {
      List<Manifests.Descriptor> entries = Manifests.index(top.body(), ref.toString());
      Manifests.Descriptor entry =
          Manifests.pick(entries, arch)
              .orElseThrow(
                  () ->
                      new ControllerException(
                          ErrorCode.REGISTRY_NOT_FOUND,
                          ref
                              + " has no image for "
                              + platform
                              + "; it has "
                              + String.join(
                                  ", ",
                                  entries.stream().map(Manifests.Descriptor::platform).toList())
                              + ". Ask for one of those with --arch"));
      chosen = client.manifest(entry.digest());
      checkDigest(chosen, entry.digest(), ref.name() + "@" + entry.digest());
      if (chosen.body().length != entry.size()) {
        throw new ControllerException(
            ErrorCode.REGISTRY_DIGEST_MISMATCH,
            "the manifest of " + platform + " in " + ref + " is not the size its index states");
      }
      mediaType = Manifests.mediaType(chosen.body(), chosen.contentType(), entry.digest());
    }
    if (!Manifests.MANIFESTS.contains(mediaType)) {
      throw new ControllerException(
          ErrorCode.IMAGE_MEDIA_TYPE_UNSUPPORTED,
          ref
              + " is a "
              + mediaType
              + ", not an OCI or Docker v2 image manifest; this controller mirrors container"
              + " images only");
    }
    String manifestDigest = chosen.digest();
    Manifests.ImageManifest manifest =
        Manifests.manifest(chosen.body(), mediaType, ref.name() + "@" + manifestDigest);
    var stored = artifacts.find(Artifacts.IMAGE, ref.name(), manifestDigest, arch);
    if (stored.isPresent()) {
      return new Mirrored(stored.get(), ref.toString(), manifestDigest, platform, false);
    }
    long total = chosen.body().length;
    for (Manifests.Descriptor d : manifest.blobs()) {
      total += d.size();
    }
    if (total > artifacts.maxBytes()) {
      throw new ControllerException(
          ErrorCode.ARTIFACT_TOO_LARGE,
          ref
              + " for "
              + platform
              + " is "
              + total
              + " bytes, more than "
              + artifacts.maxBytes()
              + ", the largest artifact this controller keeps; raise --max-artifact-bytes or"
              + " mirror a smaller image");
    }
    Path dir = null;
    try {
      dir = Files.createTempDirectory(work, "mirror-");
      Map<String, Path> blobs = new LinkedHashMap<>();
      long[] received = {0};
      long expected = total;
      long[] nextLog = {0};
      for (Manifests.Descriptor d : manifest.blobs()) {
        Path file = dir.resolve(d.digest().substring("sha256:".length()));
        client.blob(
            d.digest(),
            d.size(),
            file,
            n -> {
              received[0] += n;
              if (received[0] >= nextLog[0]) {
                log.info("mirroring {} ({}): {} of {} bytes", ref, platform, received[0], expected);
                nextLog[0] = received[0] + Math.max(expected / 10, 1);
              }
            });
        blobs.put(d.digest(), file);
        if (d == manifest.config()) {
          checkPlatform(file, ref, arch);
        }
      }
      Path archive = dir.resolve("image.tar");
      OciArchive.write(
          archive, chosen.body(), mediaType, manifestDigest, refName(ref, manifestDigest), blobs);
      for (Path blob : blobs.values()) {
        Files.deleteIfExists(blob);
      }
      Artifact artifact;
      try (InputStream in = Files.newInputStream(archive)) {
        artifact =
            artifacts.push(
                new Artifacts.Push(Artifacts.IMAGE, manifestDigest, arch, ref.name(), null),
                in,
                actor);
      }
      log.info("mirrored {} ({}) as artifact {}", ref, platform, artifact.digest());
      return new Mirrored(artifact, ref.toString(), manifestDigest, platform, true);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the mirrored image to " + work, e);
    } finally {
      if (dir != null) {
        delete(dir);
      }
    }
  }

  /**
   * The name podman gives the image when it loads the archive: the repository with the tag asked
   * for, or with the manifest digest when a digest was asked for.
   */
  private static String refName(ImageReference ref, String manifestDigest) {
    return ref.tag().map(t -> ref.name() + ":" + t).orElse(ref.name() + "@" + manifestDigest);
  }

  private static void checkDigest(RegistryClient.Fetched f, String expected, String what) {
    if (!f.digest().equals(expected)) {
      throw new ControllerException(
          ErrorCode.REGISTRY_DIGEST_MISMATCH,
          "the registry sent a manifest for "
              + what
              + " whose digest is "
              + f.digest()
              + ", not "
              + expected
              + ". Nothing was stored; the registry's storage may be damaged, or something"
              + " between it and the controller changes what it sends");
    }
    if (f.claimedDigest().isPresent() && !f.claimedDigest().get().equals(f.digest())) {
      throw new ControllerException(
          ErrorCode.REGISTRY_DIGEST_MISMATCH,
          "the registry says the manifest of "
              + what
              + " has digest "
              + f.claimedDigest().get()
              + ", but its bytes have digest "
              + f.digest()
              + ". Nothing was stored");
    }
  }

  /** A single-platform image must be for the architecture asked for. */
  private static void checkPlatform(Path config, ImageReference ref, String arch)
      throws IOException {
    JsonNode c;
    try {
      c = JSON.readTree(config.toFile());
    } catch (IOException e) {
      throw new ControllerException(
          ErrorCode.REGISTRY_RESPONSE_INVALID, "the config of " + ref + " is not valid JSON");
    }
    String os = c.path("os").asText("linux");
    String architecture = c.path("architecture").asText(arch);
    if (!os.equals("linux") || !architecture.equals(arch)) {
      throw new ControllerException(
          ErrorCode.REGISTRY_NOT_FOUND,
          ref
              + " is an image for "
              + os
              + "/"
              + architecture
              + " only, not linux/"
              + arch
              + "; ask for --arch "
              + architecture
              + " or name a multi-platform image");
    }
  }

  private void clearLeftovers() {
    try (Stream<Path> old = Files.list(work)) {
      old.filter(p -> p.getFileName().toString().startsWith("mirror-")).forEach(this::delete);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the mirror work directory " + work, e);
    }
  }

  private void delete(Path dir) {
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      log.warn("cannot delete {}: {}", dir, e.toString());
    }
  }
}
