package io.edgefleet.cli;

/**
 * A failure the user can act on: its message is printed after {@code error: } and the command exits
 * with {@link #exitCode()} ({@value #USAGE} for missing or bad configuration, {@value #FAILED} for
 * a failed call). The root of this module's errors.
 */
final class CliException extends RuntimeException {
  static final int FAILED = 1;
  static final int USAGE = 2;

  private final int exitCode;

  CliException(int exitCode, String message) {
    super(message);
    this.exitCode = exitCode;
  }

  static CliException usage(String message) {
    return new CliException(USAGE, message);
  }

  static CliException failed(String message) {
    return new CliException(FAILED, message);
  }

  int exitCode() {
    return exitCode;
  }
}
