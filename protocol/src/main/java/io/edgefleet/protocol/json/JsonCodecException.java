package io.edgefleet.protocol.json;

import com.fasterxml.jackson.core.JsonProcessingException;

/**
 * A JSON document that {@link JsonCodec} cannot read: not JSON, over a limit, or a value that does
 * not fit the type at {@link #path()}. The message names the path ({@code $.apps[2].size}) and the
 * problem. A {@link JsonProcessingException}, so callers that handle Jackson's read errors (or any
 * {@link java.io.IOException}) handle these too.
 */
public final class JsonCodecException extends JsonProcessingException {
  private static final long serialVersionUID = 1L;

  /** What went wrong, so that callers can word their own message. */
  public enum Kind {
    /** The text is not JSON (or it is truncated). */
    SYNTAX,
    /** The document exceeds a bound: nesting depth, string, name or document length. */
    LIMIT,
    /** A value does not fit the type it is read into (wrong JSON type, unknown enum or type id). */
    MISMATCH,
    /** The values were read, but the type refused them (its constructor threw). */
    REFUSED
  }

  private final Kind kind;
  private final String path;
  private final String problem;

  JsonCodecException(Kind kind, String path, String problem, Throwable cause) {
    super(path.isEmpty() ? problem : path + ": " + problem, null, cause);
    this.kind = kind;
    this.path = path;
    this.problem = problem;
  }

  public Kind kind() {
    return kind;
  }

  /** Where in the document: {@code $} for the root, {@code $.apps[2].size}; empty if unknown. */
  public String path() {
    return path;
  }

  /** The problem without the path. */
  public String problem() {
    return problem;
  }
}
