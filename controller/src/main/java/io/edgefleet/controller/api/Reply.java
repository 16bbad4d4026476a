package io.edgefleet.controller.api;

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

  /** A body that is sent as it is, not as JSON; {@code contentEncoding} is empty or "gzip". */
  public record Raw(String contentType, String contentEncoding, byte[] bytes) {}

  public static Reply raw(String contentType, byte[] bytes) {
    return new Reply(200, new Raw(contentType, "", bytes));
  }

  /** The bytes gzip-compressed when the client accepts it (bundles are repetitive YAML). */
  public static Reply raw(String contentType, byte[] bytes, boolean gzip) {
    return gzip
        ? new Reply(200, new Raw(contentType, "gzip", io.edgefleet.protocol.Gzip.deflate(bytes)))
        : raw(contentType, bytes);
  }
}
