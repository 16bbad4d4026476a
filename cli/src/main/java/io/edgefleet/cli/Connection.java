package io.edgefleet.cli;

import java.net.URI;

/**
 * Where and how to call the controller, after resolving flags, environment and config files.
 *
 * @param server https URL of the controller, without a trailing slash
 * @param token API bearer token
 * @param caFingerprint pinned controller CA, {@code sha256:<64 lowercase hex digits>}
 * @param origin where the server URL came from, for messages ("--server", a file name, ...)
 */
record Connection(URI server, String token, String caFingerprint, String origin) {
  @Override
  public String toString() {
    // The token is a credential: keep it out of logs and stack traces.
    return "Connection[server=" + server + ", caFingerprint=" + caFingerprint + "]";
  }
}
