package io.edgefleet.controller.registry;

import io.edgefleet.controller.common.ControllerException;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Where an image lives: {@code host[:port]/repository[:tag]} or {@code
 * host[:port]/repository@sha256:<hex>} (a tag before the digest is allowed and ignored). The
 * registry host is required: a bare {@code busybox:1.36} names no registry, and this controller has
 * no default one.
 *
 * @param registry the registry's host, lowercase, with its port if one was given
 * @param repository the repository path within the registry, such as {@code library/busybox}
 * @param tag the tag; {@code latest} when neither a tag nor a digest was given; empty when a digest
 *     names the manifest
 * @param digest the manifest digest {@code sha256:<64 hex>}, when the reference pins one
 */
public record ImageReference(
    String registry, String repository, Optional<String> tag, Optional<String> digest) {

  private static final int MAX_LENGTH = 512;
  private static final Pattern HOST =
      Pattern.compile(
          "(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
              + "|\\[[0-9a-f:.]+\\])(?::[0-9]{1,5})?");
  private static final Pattern COMPONENT = Pattern.compile("[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*");
  private static final Pattern TAG = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
  private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");

  public ImageReference {
    if (tag.isEmpty() == digest.isEmpty()) {
      throw new IllegalArgumentException("exactly one of tag and digest");
    }
  }

  /**
   * Parses a reference.
   *
   * @throws ControllerException {@code VALIDATION_FAILED} naming what is wrong and how a good
   *     reference looks
   */
  public static ImageReference parse(String text) {
    if (text == null || text.isBlank()) {
      throw invalid("", "an image reference is required, such as registry.example.com/app:1.0");
    }
    String ref = text.strip();
    if (ref.length() > MAX_LENGTH) {
      throw invalid(ref.substring(0, 40) + "…", "it is longer than " + MAX_LENGTH + " characters");
    }
    Optional<String> digest = Optional.empty();
    String rest = ref;
    int at = ref.indexOf('@');
    if (at >= 0) {
      String d = ref.substring(at + 1);
      if (!DIGEST.matcher(d).matches()) {
        throw invalid(
            ref, "after '@' must come a manifest digest, sha256:<64 lowercase hex digits>");
      }
      digest = Optional.of(d);
      rest = ref.substring(0, at);
    }
    int slash = rest.indexOf('/');
    if (slash < 0 || !namesRegistry(rest.substring(0, slash))) {
      throw invalid(
          ref,
          "it names no registry, and this controller has no default one: write the registry's"
              + " host first, such as registry.example.com/"
              + rest
              + " or docker.io/library/"
              + rest);
    }
    String host = rest.substring(0, slash).toLowerCase(Locale.ROOT);
    if (!HOST.matcher(host).matches() || !validPort(host)) {
      throw invalid(ref, "'" + host + "' is not a registry host[:port]");
    }
    String path = rest.substring(slash + 1);
    Optional<String> tag = Optional.empty();
    int colon = path.lastIndexOf(':');
    if (colon >= 0) {
      String t = path.substring(colon + 1);
      if (!TAG.matcher(t).matches()) {
        throw invalid(
            ref,
            "the tag '" + t + "' is not valid: letters, digits, '_', '.' and '-', at most 128");
      }
      tag = Optional.of(t);
      path = path.substring(0, colon);
    }
    if (path.isEmpty()) {
      throw invalid(ref, "the repository is missing after the registry host");
    }
    for (String component : path.split("/", -1)) {
      if (!COMPONENT.matcher(component).matches()) {
        throw invalid(
            ref,
            "the repository '"
                + path
                + "' is not valid: lowercase letters and digits, separated by '.', '_', '-' or '/'");
      }
    }
    if (digest.isPresent()) {
      return new ImageReference(host, path, Optional.empty(), digest);
    }
    return new ImageReference(host, path, Optional.of(tag.orElse("latest")), Optional.empty());
  }

  /** {@code host[:port]/repository}: the image's name without tag or digest. */
  public String name() {
    return registry + "/" + repository;
  }

  /** The tag or digest to ask the registry's manifest endpoint for. */
  public String manifestReference() {
    return digest.orElseGet(tag::orElseThrow);
  }

  @Override
  public String toString() {
    return name() + digest.map(d -> "@" + d).orElseGet(() -> ":" + tag.orElseThrow());
  }

  /** Like Docker: the first component is a registry if it has a '.' or a ':' or is localhost. */
  private static boolean namesRegistry(String first) {
    return first.contains(".")
        || first.contains(":")
        || first.equals("localhost")
        || first.startsWith("[");
  }

  private static boolean validPort(String host) {
    int colon = host.lastIndexOf(':');
    if (colon < 0 || host.endsWith("]")) {
      return true;
    }
    int port = Integer.parseInt(host.substring(colon + 1));
    return port >= 1 && port <= 65535;
  }

  private static ControllerException invalid(String ref, String why) {
    return ControllerException.invalid("image reference '" + ref + "' is not valid: " + why + ".");
  }
}
