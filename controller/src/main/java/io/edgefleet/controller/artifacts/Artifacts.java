package io.edgefleet.controller.artifacts;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ArtifactChunks;
import io.edgefleet.protocol.ErrorCode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.regex.Pattern;
import org.jdbi.v3.core.Jdbi;

/**
 * The artifacts devices fetch from the controller: bytes in a {@link BlobStore}, catalogued in the
 * {@code artifacts} table. Pushes are streamed to a local file, bounded and digest-checked, before
 * the store keeps them; a delete is refused while an {@link ArtifactUsers} still needs the
 * artifact. The catalogue is small (a few binaries per version and architecture) and kept in memory
 * for the readers on hot paths. Thread-safe.
 */
public final class Artifacts {
  /** The default largest artifact: 512 MiB. */
  public static final long DEFAULT_MAX_BYTES = 512L * 1024 * 1024;

  /** Most artifacts a controller keeps. */
  public static final int MAX_ARTIFACTS = 500;

  private static final Pattern KIND = Pattern.compile("[a-z][a-z0-9-]{0,39}");
  private static final Pattern VERSION = Pattern.compile("[A-Za-z0-9][A-Za-z0-9.+_-]{0,99}");
  private static final Pattern ARCH = Pattern.compile("[a-z0-9_]{1,20}");
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._+-]{0,199}");

  /**
   * The kind of container images mirrored from a registry: named by their repository ({@code
   * host[:port]/repo}), versioned by their manifest digest; the same manifest may be stored for
   * several repositories.
   */
  public static final String IMAGE = "image";

  private static final Pattern IMAGE_NAME =
      Pattern.compile("[a-z0-9\\[][a-z0-9.:\\[\\]-]*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+");

  private final Jdbi jdbi;
  private final Clock clock;
  private final AuditLog audit;
  private final BlobStore blobs;
  private final long maxBytes;
  private final ArtifactUsers users;
  private final java.util.concurrent.atomic.LongAdder served =
      new java.util.concurrent.atomic.LongAdder();
  private volatile List<Artifact> catalogue;

  /** One artifact as the API shows it. */
  public record Artifact(
      String digest,
      long size,
      String kind,
      String name,
      String version,
      String arch,
      String createdBy,
      Instant createdAt) {}

  /**
   * A check of received bytes before they are kept (e.g. that an archive is well formed); it throws
   * a {@link ControllerException} to refuse them.
   */
  @FunctionalInterface
  public interface Inspection {
    /** No check beyond the digest. */
    Inspection NONE = (file, digest, size) -> {};

    void check(Path file, String digest, long size) throws IOException;
  }

  /** What a push says about the bytes it sends. */
  public record Push(String kind, String version, String arch, String name, String digest) {}

  public Artifacts(
      Jdbi jdbi, Clock clock, AuditLog audit, BlobStore blobs, long maxBytes, ArtifactUsers users) {
    if (maxBytes < 1) {
      throw new IllegalArgumentException("maxBytes must be positive");
    }
    this.jdbi = jdbi;
    this.clock = clock;
    this.audit = audit;
    this.blobs = blobs;
    this.maxBytes = maxBytes;
    this.users = users;
    this.catalogue = load();
  }

  /** Counts {@code bytes} of artifact content sent to devices. */
  void served(long bytes) {
    served.add(bytes);
  }

  /** Bytes of artifact content sent to devices by the device download route since start. */
  public long bytesServed() {
    return served.sum();
  }

  public long maxBytes() {
    return maxBytes;
  }

  /**
   * Stores the bytes of {@code body} as an artifact. Pushing the same bytes again with the same
   * description answers the stored artifact.
   *
   * @throws ControllerException {@code VALIDATION_FAILED}, {@code ARTIFACT_TOO_LARGE}, {@code
   *     ARTIFACT_DIGEST_MISMATCH} or {@code CONFLICT} (same bytes described differently)
   */
  public Artifact push(Push p, InputStream body, String actor) throws IOException {
    return push(p, body, actor, Inspection.NONE);
  }

  /**
   * Stores the bytes of {@code body} as an artifact once {@code inspection} accepted them (it runs
   * on the received file before it is kept; a refusal discards it).
   */
  public Artifact push(Push p, InputStream body, String actor, Inspection inspection)
      throws IOException {
    String kind = check("kind", p.kind(), KIND, "a lowercase word such as k3s");
    boolean image = kind.equals(IMAGE);
    String version =
        image
            ? check(
                "version", p.version(), BlobStore.DIGEST, "an image's manifest digest sha256:<hex>")
            : check("version", p.version(), VERSION, "such as v1.20.2+k3s1");
    String arch =
        p.arch() == null || p.arch().isBlank()
            ? "amd64"
            : check("arch", p.arch(), ARCH, "such as amd64 or arm64");
    String name =
        image
            ? check("name", p.name(), IMAGE_NAME, "an image's registry/repository")
            : p.name() == null || p.name().isBlank()
                ? kind
                : check("name", p.name(), NAME, "a file name without directories");
    if (name.length() > 200) {
      throw ControllerException.invalid("name is longer than 200 characters");
    }
    if (p.digest() != null && !BlobStore.wellFormed(p.digest())) {
      throw ControllerException.invalid(
          "the digest must be sha256:<64 lowercase hex digits>, got '" + p.digest() + "'");
    }
    if (catalogue.size() >= MAX_ARTIFACTS) {
      throw new ControllerException(
          ErrorCode.VALIDATION_FAILED,
          "this controller holds "
              + MAX_ARTIFACTS
              + " artifacts, the most it keeps; delete ones no cluster uses");
    }
    BlobStore.Written written = blobs.write(body, maxBytes);
    if (p.digest() != null && !p.digest().equals(written.digest())) {
      blobs.discard(written);
      throw new ControllerException(
          ErrorCode.ARTIFACT_DIGEST_MISMATCH,
          "the bytes received have digest "
              + written.digest()
              + ", not "
              + p.digest()
              + " as the request said; the upload was damaged or the wrong file was sent");
    }
    boolean accepted = false;
    try {
      inspection.check(written.temp(), written.digest(), written.size());
      accepted = true;
    } finally {
      if (!accepted) {
        blobs.discard(written);
      }
    }
    Optional<Artifact> existing = get(written.digest());
    if (existing.isPresent()) {
      blobs.discard(written);
      Artifact a = existing.get();
      if (a.kind().equals(kind)
          && a.version().equals(version)
          && a.arch().equals(arch)
          && (!image || a.name().equals(name))) {
        return a;
      }
      throw new ControllerException(
          ErrorCode.CONFLICT,
          "these bytes are already stored as "
              + a.kind()
              + " "
              + a.version()
              + " for "
              + a.arch()
              + "; delete that artifact first to describe them differently");
    }
    Optional<Artifact> same = image ? find(kind, name, version, arch) : find(kind, version, arch);
    if (same.isPresent()) {
      blobs.discard(written);
      throw new ControllerException(
          ErrorCode.CONFLICT,
          kind
              + " "
              + version
              + " for "
              + arch
              + " is already stored with digest "
              + same.get().digest()
              + "; delete it first to replace it");
    }
    try {
      blobs.commit(written);
    } catch (IOException e) {
      blobs.discard(written);
      throw new ControllerException(
          ErrorCode.UNAVAILABLE,
          "the artifact could not be kept in the artifact store at "
              + blobs.location()
              + " ("
              + e.getMessage()
              + "); nothing was stored, push it again once the store answers",
          e);
    }
    long now = clock.millis();
    jdbi.useTransaction(
        h -> {
          h.createUpdate(
                  "INSERT INTO artifacts (digest, size, kind, name, version, arch, created_by,"
                      + " created_at) VALUES (:d, :size, :kind, :name, :version, :arch, :actor,"
                      + " :now)")
              .bind("d", written.digest())
              .bind("size", written.size())
              .bind("kind", kind)
              .bind("name", name)
              .bind("version", version)
              .bind("arch", arch)
              .bind("actor", actor)
              .bind("now", now)
              .execute();
          audit.record(
              h,
              actor,
              "artifact.push",
              written.digest(),
              Map.of("kind", kind, "version", version, "arch", arch, "size", written.size()));
        });
    catalogue = load();
    return get(written.digest()).orElseThrow();
  }

  public List<Artifact> list() {
    return catalogue;
  }

  public Optional<Artifact> get(String digest) {
    return catalogue.stream().filter(a -> a.digest().equals(digest)).findFirst();
  }

  /** The artifact of this kind, version and architecture. */
  public Optional<Artifact> find(String kind, String version, String arch) {
    return catalogue.stream()
        .filter(a -> a.kind().equals(kind) && a.version().equals(version) && a.arch().equals(arch))
        .findFirst();
  }

  /**
   * The artifact of this kind, name, version and architecture (for images: repository, manifest
   * digest and platform architecture).
   */
  public Optional<Artifact> find(String kind, String name, String version, String arch) {
    return catalogue.stream()
        .filter(
            a ->
                a.kind().equals(kind)
                    && a.name().equals(name)
                    && a.version().equals(version)
                    && a.arch().equals(arch))
        .findFirst();
  }

  /**
   * The size of the artifact's bytes, checked to be in the store.
   *
   * @throws ControllerException {@code NOT_FOUND} for an unknown digest or bytes missing from the
   *     store
   */
  public long stored(String digest) {
    Artifact a = get(digest).orElseThrow(() -> ControllerException.notFound("artifact", digest));
    OptionalLong size;
    try {
      size = blobs.size(a.digest());
    } catch (IOException e) {
      throw new ControllerException(
          ErrorCode.UNAVAILABLE,
          "the artifact store at "
              + blobs.location()
              + " cannot be read ("
              + e.getMessage()
              + "); try again, and check the store if this persists",
          e);
    }
    if (size.isEmpty()) {
      throw new ControllerException(
          ErrorCode.NOT_FOUND,
          "the bytes of artifact "
              + digest
              + " are missing from the artifact store at "
              + blobs.location()
              + "; push the file again");
    }
    return size.getAsLong();
  }

  /**
   * Reads {@code count} bytes of the artifact from offset {@code from}; the caller closes the
   * stream.
   *
   * @throws ControllerException {@code NOT_FOUND} for an unknown digest or bytes missing from the
   *     store
   */
  public InputStream open(String digest, long from, long count) throws IOException {
    // Callers asked stored() for the size already: the store is not asked twice per request.
    get(digest).orElseThrow(() -> ControllerException.notFound("artifact", digest));
    try {
      return blobs.open(digest, from, count);
    } catch (java.nio.file.NoSuchFileException e) {
      throw ControllerException.notFound("artifact", digest);
    }
  }

  /** The artifact's whole bytes (see {@link #open}). */
  public InputStream open(String digest) throws IOException {
    return open(digest, 0, stored(digest));
  }

  /** The chunk digests of the artifact, from {@code index}. */
  public ArtifactChunks chunks(ChunkIndex index, String digest) throws IOException {
    return index.chunks(blobs, digest, stored(digest));
  }

  /**
   * Deletes an artifact.
   *
   * @throws ControllerException {@code NOT_FOUND}, or {@code CONFLICT} while it is in use
   */
  public void delete(String digest, String actor) {
    Artifact a = get(digest).orElseThrow(() -> ControllerException.notFound("artifact", digest));
    Optional<String> user = users.userOf(digest);
    if (user.isPresent()) {
      throw new ControllerException(
          ErrorCode.CONFLICT,
          "artifact " + digest + " is in use: " + user.get() + "; change that first");
    }
    jdbi.useTransaction(
        h -> {
          h.createUpdate("DELETE FROM artifacts WHERE digest = :d").bind("d", digest).execute();
          audit.record(
              h,
              actor,
              "artifact.delete",
              digest,
              Map.of("kind", a.kind(), "version", a.version(), "arch", a.arch()));
        });
    catalogue = load();
    try {
      blobs.delete(digest);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete the bytes of artifact " + digest, e);
    }
  }

  private List<Artifact> load() {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT digest, size, kind, name, version, arch, created_by, created_at FROM"
                        + " artifacts ORDER BY kind, version, arch")
                .map(
                    (rs, ctx) ->
                        new Artifact(
                            rs.getString("digest"),
                            rs.getLong("size"),
                            rs.getString("kind"),
                            rs.getString("name"),
                            rs.getString("version"),
                            rs.getString("arch"),
                            rs.getString("created_by"),
                            Instant.ofEpochMilli(rs.getLong("created_at"))))
                .list());
  }

  private static String check(String field, String value, Pattern pattern, String example) {
    if (value == null || value.isBlank()) {
      throw ControllerException.invalid(field + " is required (" + example + ")");
    }
    if (!pattern.matcher(value).matches()) {
      throw ControllerException.invalid(field + " '" + value + "' is not valid: " + example);
    }
    return value;
  }
}
