package io.edgefleet.controller.api;

import io.edgefleet.protocol.Gzip;

/** What a route handler answers: a status and a body serialised as JSON (none for 204). */
public record Reply(int status, Object body) {
  public static Reply ok(Object body) {
    return new Reply(200, body);
  }

  public static Reply created(Object body) {
    return new Reply(201, body);
  }

  public static Reply noContent() {
    return new Reply(204, null);
  }

  /**
   * A body that is sent as it is, not as JSON; {@code contentEncoding} is empty or "gzip"; {@code
   * headers} are further response headers (such as {@code Content-Range}).
   */
  public record Raw(
      String contentType,
      String contentEncoding,
      byte[] bytes,
      java.util.Map<String, String> headers) {
    public Raw(String contentType, String contentEncoding, byte[] bytes) {
      this(contentType, contentEncoding, bytes, java.util.Map.of());
    }
  }

  public static Reply raw(String contentType, byte[] bytes) {
    return new Reply(200, new Raw(contentType, "", bytes));
  }

  /**
   * A body written while it is produced, for long-lived answers such as a followed log: the status
   * and headers go out first, then {@code producer} writes to the response on a thread of its own;
   * each {@code flush()} sends what was written so far. The answer ends when the producer returns;
   * a write fails with an {@link java.io.IOException} once the client went away.
   */
  public record Stream(
      String contentType, Producer producer, java.util.Map<String, String> headers) {
    public Stream(String contentType, Producer producer) {
      this(contentType, producer, java.util.Map.of());
    }
  }

  /** Writes a {@link Stream} body. */
  @FunctionalInterface
  public interface Producer {
    void write(java.io.OutputStream out) throws java.io.IOException;
  }

  public static Reply stream(String contentType, Producer producer) {
    return new Reply(200, new Stream(contentType, producer));
  }

  /** A {@link Stream} with further response headers. */
  public static Reply stream(
      String contentType, java.util.Map<String, String> headers, Producer producer) {
    return new Reply(200, new Stream(contentType, producer, headers));
  }

  /**
   * An answer that turns the request into a WebSocket served by {@code handler} (Jetty's core
   * WebSocket API). A request that is not a WebSocket upgrade is refused with 400 and {@code
   * refused} runs, so that what was opened for the socket is let go.
   */
  public record Socket(org.eclipse.jetty.websocket.core.FrameHandler handler, Runnable refused) {}

  public static Reply socket(
      org.eclipse.jetty.websocket.core.FrameHandler handler, Runnable refused) {
    return new Reply(101, new Socket(handler, refused));
  }

  /** The bytes gzip-compressed when the client accepts it (bundles are repetitive YAML). */
  public static Reply raw(String contentType, byte[] bytes, boolean gzip) {
    return gzip
        ? new Reply(200, new Raw(contentType, "gzip", Gzip.deflate(bytes)))
        : raw(contentType, bytes);
  }
}
