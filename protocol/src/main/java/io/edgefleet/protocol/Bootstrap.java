package io.edgefleet.protocol;

import java.net.URI;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The agent's bootstrap file: where the controller is, which CA to pin, and the onboarding token.
 * Validated on construction so a malformed file fails with a sentence that says what to fix.
 *
 * @param token onboarding token; may be absent when the device enrolls by pre-registered serial
 * @param controllerUrls other URLs of the same controller (replicas behind other addresses); the
 *     agent starts at a random one of all and moves on when one fails. Empty when there are none
 */
public record Bootstrap(
    int version,
    String controllerUrl,
    String caFingerprint,
    String token,
    List<String> controllerUrls) {
  public static final int CURRENT_VERSION = 1;

  /** The most alternative URLs a bootstrap file names. */
  public static final int MAX_URLS = 32;

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
    checkUrl("controllerUrl", controllerUrl);
    controllerUrls = controllerUrls == null ? List.of() : List.copyOf(controllerUrls);
    if (controllerUrls.size() > MAX_URLS) {
      throw new IllegalArgumentException(
          "controllerUrls names " + controllerUrls.size() + " URLs; at most " + MAX_URLS);
    }
    for (String u : controllerUrls) {
      checkUrl("controllerUrls", u);
    }
    if (caFingerprint == null || !FINGERPRINT.matcher(caFingerprint).matches()) {
      throw new IllegalArgumentException(
          "caFingerprint must look like sha256:<64 lowercase hex digits>, got: " + caFingerprint);
    }
    if (token != null && token.isBlank()) {
      token = null;
    }
  }

  /** A bootstrap file naming one controller URL. */
  public Bootstrap(int version, String controllerUrl, String caFingerprint, String token) {
    this(version, controllerUrl, caFingerprint, token, List.of());
  }

  public static Bootstrap of(String controllerUrl, String caFingerprint, String token) {
    return new Bootstrap(CURRENT_VERSION, controllerUrl, caFingerprint, token);
  }

  /** The same file naming {@code more} URLs of the same controller (its replicas) too. */
  public Bootstrap withMoreUrls(List<String> more) {
    return new Bootstrap(version, controllerUrl, caFingerprint, token, more);
  }

  /**
   * Every URL of the controller, without trailing slashes and repeats: {@link #controllerUrl}
   * first, then {@link #controllerUrls}. A device may use any; all present the same CA.
   */
  public List<String> urls() {
    LinkedHashSet<String> all = new LinkedHashSet<>();
    all.add(trimmed(controllerUrl));
    controllerUrls.forEach(u -> all.add(trimmed(u)));
    return List.copyOf(all);
  }

  /**
   * {@code first} then the URLs of {@code more} that are https URLs with a host and not already
   * named (a trailing slash does not make another URL), at most {@link #MAX_URLS} in all.
   */
  public static List<String> union(List<String> first, List<String> more) {
    LinkedHashSet<String> all = new LinkedHashSet<>();
    first.forEach(u -> all.add(trimmed(u)));
    for (String u : more) {
      if (all.size() >= MAX_URLS) {
        break;
      }
      try {
        checkUrl("controllerUrls", u);
        all.add(trimmed(u));
      } catch (IllegalArgumentException e) {
        // Not a URL a device can use: left out.
      }
    }
    return List.copyOf(all);
  }

  private static String trimmed(String url) {
    return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
  }

  private static void checkUrl(String field, String url) {
    URI uri;
    try {
      uri = URI.create(url);
    } catch (IllegalArgumentException | NullPointerException e) {
      throw new IllegalArgumentException(field + " holds something that is not a URL: " + url);
    }
    if (!"https".equals(uri.getScheme()) || uri.getHost() == null) {
      throw new IllegalArgumentException(
          field + " must hold https:// URLs with a host, got: " + url);
    }
  }

  /** The controller URL without a trailing slash. */
  public String baseUrl() {
    return trimmed(controllerUrl);
  }
}
