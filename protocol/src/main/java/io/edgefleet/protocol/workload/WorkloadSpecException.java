package io.edgefleet.protocol.workload;

/**
 * A workload document that is not valid: {@link #path()} names the field ({@code
 * spec.ports[1].host}) and the message says what is wrong and what is expected.
 */
public final class WorkloadSpecException extends IllegalArgumentException {
  private final String path;
  private final String detail;

  public WorkloadSpecException(String path, String detail) {
    super(path + ": " + detail);
    this.path = path;
    this.detail = detail;
  }

  /** What is wrong, without the path. */
  public String detail() {
    return detail;
  }

  /** The offending field, as a dotted path from the document's root. */
  public String path() {
    return path;
  }
}
