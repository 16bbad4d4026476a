package io.edgefleet.protocol;

import java.net.URI;
import java.util.regex.Pattern;

/**
 * The agent's bootstrap file: where the controller is, which CA to pin, and the onboarding token.
 * Validated on construction so a malformed file fails with a sentence that says what to fix.
 *
 * @param token onboarding token; may be absent when the device enrolls by pre-registered serial
 */
public record Bootstrap(int version, String controllerUrl, String caFingerprint, String token) {
  public static final int CURRENT_VERSION = 1;
  private static final Pattern FINGERPRINT = Pattern.compile("sha256:[0-9a-f]{64}");

  public Bootstrap {
    if (version != CURRENT_VERSION) {
      throw new IllegalArgumentException(
          "unsupported bootstrap version "
              + version
              + " (this agent reads version "
              + CURRENT_VERSION
              + ")");
    }
    if (controllerUrl == null || controllerUrl.isBlank()) {
      throw new IllegalArgumentException("controllerUrl is missing");
    }
    URI uri;
    try {
      uri = URI.create(controllerUrl);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("controllerUrl is not a URL: " + controllerUrl);
    }
    if (!"https".equals(uri.getScheme()) || uri.getHost() == null) {
      throw new IllegalArgumentException(
          "controllerUrl must be an https:// URL with a host, got: " + controllerUrl);
    }
    if (caFingerprint == null || !FINGERPRINT.matcher(caFingerprint).matches()) {
      throw new IllegalArgumentException(
          "caFingerprint must look like sha256:<64 lowercase hex digits>, got: " + caFingerprint);
    }
    if (token != null && token.isBlank()) {
      token = null;
    }
  }

  public static Bootstrap of(String controllerUrl, String caFingerprint, String token) {
    return new Bootstrap(CURRENT_VERSION, controllerUrl, caFingerprint, token);
  }

  /** The controller URL without a trailing slash. */
  public String baseUrl() {
    return controllerUrl.endsWith("/")
        ? controllerUrl.substring(0, controllerUrl.length() - 1)
        : controllerUrl;
  }
}
