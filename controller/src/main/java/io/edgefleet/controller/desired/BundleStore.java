package io.edgefleet.controller.desired;

import com.fasterxml.jackson.core.type.TypeReference;
import io.edgefleet.controller.common.Lru;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.Gzip;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Fingerprints;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * Immutable, content-addressed bundles. Storing the same content twice is a no-op. Bundles are
 * served gzip-compressed to devices that accept it; the compressed bytes of recently served bundles
 * are kept (up to {@value #ENCODED_CACHE_BYTES} bytes) so that devices resuming a cut download, and
 * a fleet fetching the same bundle, do not compress it again. Thread-safe.
 */
public final class BundleStore {
  static final long ENCODED_CACHE_BYTES = 64L * 1024 * 1024;

  private final Jdbi jdbi;
  private final Clock clock;
  private final Lru<String, Encoded> encoded =
      new Lru<>(ENCODED_CACHE_BYTES, e -> e.bytes().length);

  /**
   * A bundle as served: its bytes, their encoding ("gzip" or "") and the entity tag of exactly
   * these bytes, for ranges.
   */
  public record Encoded(byte[] bytes, String encoding, String etag) {}

  public BundleStore(Jdbi jdbi, Clock clock) {
    this.jdbi = jdbi;
    this.clock = clock;
  }

  /** The bundle as served, gzip-compressed if {@code gzip}. */
  public Optional<Encoded> encoded(String digest, boolean gzip) {
    String key = digest + (gzip ? "+gzip" : "");
    Optional<Encoded> cached = encoded.get(key);
    if (cached.isPresent()) {
      return cached;
    }
    return get(digest)
        .map(
            yaml -> {
              byte[] raw = yaml.getBytes(StandardCharsets.UTF_8);
              byte[] bytes = gzip ? Gzip.deflate(raw) : raw;
              String tag =
                  "\""
                      + Fingerprints.sha256(bytes).substring("sha256:".length(), 7 + 24)
                      + (gzip ? "-gz" : "")
                      + "\"";
              Encoded e = new Encoded(bytes, gzip ? "gzip" : "", tag);
              encoded.put(key, e);
              return e;
            });
  }

  public void put(Handle h, String digest, String content) {
    put(h, digest, content, null, List.of());
  }

  /**
   * Stores a bundle with its workload: the runtime it needs (null for Kubernetes objects) and the
   * blobs it uses, kept so that a device returning to this bundle later is told them again.
   */
  public void put(
      Handle h, String digest, String content, String runtime, List<ArtifactRef> artifacts) {
    h.createUpdate(
            "INSERT INTO bundles (digest, content, size, created_at, runtime, artifacts) VALUES"
                + " (:d, :c, :s, :now, :runtime, :artifacts) ON CONFLICT (digest) DO NOTHING")
        .bind("d", digest)
        .bind("c", content)
        .bind("s", (long) content.getBytes(StandardCharsets.UTF_8).length)
        .bind("now", clock.millis())
        .bind("runtime", runtime)
        .bind("artifacts", artifacts.isEmpty() ? null : Json.write(artifacts))
        .execute();
  }

  /** The runtime and blobs of a bundle (null runtime: Kubernetes objects). */
  public record Workload(String runtime, List<ArtifactRef> artifacts) {
    public Workload {
      artifacts = List.copyOf(artifacts);
    }
  }

  /** The workload stored with a bundle; empty for an unknown bundle or Kubernetes objects. */
  Optional<Workload> workload(Handle h, String digest) {
    return h.createQuery(
            "SELECT runtime, artifacts FROM bundles WHERE digest = :d AND runtime IS NOT NULL")
        .bind("d", digest)
        .map((rs, ctx) -> new Workload(rs.getString(1), artifacts(rs.getString(2))))
        .findOne();
  }

  private static List<ArtifactRef> artifacts(String json) {
    if (json == null) {
      return List.of();
    }
    try {
      return Json.mapper().readValue(json, new TypeReference<List<ArtifactRef>>() {});
    } catch (IOException e) {
      throw new UncheckedIOException("the stored artifacts of a bundle are unreadable", e);
    }
  }

  public Optional<String> get(String digest) {
    return jdbi.withHandle(
        h ->
            h.createQuery("SELECT content FROM bundles WHERE digest = :d")
                .bind("d", digest)
                .mapTo(String.class)
                .findOne());
  }
}
