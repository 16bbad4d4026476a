package io.edgefleet.controller.artifacts;

import static io.edgefleet.controller.api.Router.Access.ADMIN;
import static io.edgefleet.controller.api.Router.Access.DEVICE;

import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Ranges;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.ErrorCode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongConsumer;

/**
 * The artifacts' endpoints: operators push (the body streamed to disk), list and delete artifacts;
 * an enrolled device downloads one by digest, resuming a cut download with {@code Range}, and asks
 * for its chunk digests ({@link ChunkIndex}) to verify each chunk as it arrives.
 */
public record ArtifactRoutes(Artifacts artifacts, ChunkIndex chunks) implements Routes {
  /** The header a push may carry to have the received bytes checked. */
  public static final String DIGEST_HEADER = "x-edgefleet-digest";

  private static final int CHUNK = 64 * 1024;

  /** How much larger than the limit a refused body may be and still be read for a clean answer. */
  private static final long DRAIN_FACTOR = 2;

  /** Routes whose chunks are {@link ChunkIndex#DEFAULT_CHUNK_BYTES} long. */
  public ArtifactRoutes(Artifacts artifacts) {
    this(artifacts, new ChunkIndex(ChunkIndex.DEFAULT_CHUNK_BYTES));
  }

  @Override
  public void register(Router r) {
    r.get("/api/v1/artifacts", ADMIN, c -> Reply.ok(new Items<>(artifacts.list())));
    r.upload(
        "/api/v1/artifacts",
        ADMIN,
        (c, body) -> {
          long declared = declaredLength(c.headers());
          if (declared > artifacts.maxBytes()) {
            drain(body, declared);
            throw new ControllerException(
                ErrorCode.ARTIFACT_TOO_LARGE,
                "the artifact is "
                    + declared
                    + " bytes, more than "
                    + artifacts.maxBytes()
                    + ", the most this controller takes (--max-artifact-bytes)");
          }
          var push =
              new Artifacts.Push(
                  c.query("kind").orElse(null),
                  c.query("version").orElse(null),
                  c.query("arch").orElse(null),
                  c.query("name").orElse(null),
                  Optional.ofNullable(c.headers().get(DIGEST_HEADER))
                      .map(String::trim)
                      .orElse(null));
          try {
            return Reply.created(artifacts.push(push, body, c.actor()));
          } catch (ControllerException e) {
            if (e.code() == ErrorCode.ARTIFACT_TOO_LARGE) {
              drain(body, Long.MAX_VALUE);
            }
            throw e;
          }
        });
    r.get(
        "/api/v1/artifacts/{digest}",
        ADMIN,
        c ->
            Reply.ok(
                artifacts
                    .get(c.path("digest"))
                    .orElseThrow(
                        () -> ControllerException.notFound("artifact", c.path("digest")))));
    r.delete(
        "/api/v1/artifacts/{digest}",
        ADMIN,
        c -> {
          artifacts.delete(c.path("digest"), c.actor());
          return Reply.noContent();
        });
    r.get(DeviceApi.ARTIFACTS + "{digest}", DEVICE, c -> download(c.path("digest"), c.headers()));
    r.get(
        DeviceApi.ARTIFACTS + "{digest}" + DeviceApi.CHUNKS_SUFFIX,
        DEVICE,
        c -> chunks(c.path("digest")));
  }

  private Reply chunks(String digest) {
    checkDigest(digest);
    try {
      return Reply.ok(artifacts.chunks(chunks, digest));
    } catch (IOException e) {
      throw new ControllerException(
          ErrorCode.UNAVAILABLE,
          "the bytes of artifact " + digest + " cannot be read (" + e.getMessage() + ")",
          e);
    }
  }

  private static void checkDigest(String digest) {
    if (!BlobStore.wellFormed(digest)) {
      throw ControllerException.invalid(
          "an artifact is named by its digest, sha256:<64 lowercase hex digits>; got " + digest);
    }
  }

  private Reply download(String digest, Map<String, String> headers) {
    checkDigest(digest);
    long length = artifacts.stored(digest);
    String etag = "\"" + digest + "\"";
    Map<String, String> out = new LinkedHashMap<>();
    out.put("ETag", etag);
    out.put("Accept-Ranges", "bytes");
    Optional<long[]> range = Ranges.requested(headers, etag);
    long first = 0;
    long last = length - 1;
    int status = 200;
    if (range.isPresent()) {
      first = range.get()[0];
      if (first >= length) {
        out.put("Content-Range", "bytes */" + length);
        out.put("Content-Length", "0");
        return new Reply(416, new Reply.Raw("application/octet-stream", "", new byte[0], out));
      }
      last = Math.min(range.get()[1], length - 1);
      status = 206;
      out.put("Content-Range", "bytes " + first + "-" + last + "/" + length);
    }
    long from = first;
    long count = last - first + 1;
    out.put("Content-Length", Long.toString(count));
    return new Reply(
        status,
        new Reply.Stream(
            "application/octet-stream",
            o -> copy(artifacts.open(digest, from, count), o, artifacts::served),
            out));
  }

  private static void copy(InputStream source, OutputStream out, LongConsumer sent)
      throws IOException {
    try (InputStream in = source) {
      byte[] buffer = new byte[CHUNK];
      int n;
      while ((n = in.read(buffer)) > 0) {
        out.write(buffer, 0, n);
        sent.accept(n);
      }
    }
  }

  /**
   * Reads and drops what is left of a refused body when it is not much larger than the limit, so
   * the client, still sending, reads the answer instead of a reset connection.
   */
  private void drain(InputStream body, long declared) throws IOException {
    long bound = DRAIN_FACTOR * artifacts.maxBytes();
    if (declared > bound) {
      return;
    }
    byte[] buffer = new byte[CHUNK];
    long read = 0;
    int n;
    while (read < bound && (n = body.read(buffer)) > 0) {
      read += n;
    }
  }

  private static long declaredLength(Map<String, String> headers) {
    String value = headers.get("content-length");
    if (value == null) {
      return -1;
    }
    try {
      return Long.parseLong(value.trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }
}
