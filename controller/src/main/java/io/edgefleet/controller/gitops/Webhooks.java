package io.edgefleet.controller.gitops;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/** Verification and reading of GitHub-, Gitea- and GitLab-style push webhooks. Stateless. */
final class Webhooks {
  static final String GITHUB_SIGNATURE = "x-hub-signature-256";
  static final String GITLAB_TOKEN = "x-gitlab-token";

  private Webhooks() {}

  /** What a verified call asks for: a ping, or a push (to {@code ref}, if the body names it). */
  record Event(boolean ping, Optional<String> ref) {}

  /**
   * Checks the shared secret in constant time.
   *
   * @throws ControllerException {@code UNAUTHENTICATED} if no supported header is present or the
   *     secret does not match
   */
  static void verify(String secret, Map<String, String> headers, byte[] body) {
    String signature = headers.get(GITHUB_SIGNATURE);
    String token = headers.get(GITLAB_TOKEN);
    if (signature != null) {
      String expected = "sha256=" + hmacSha256Hex(secret, body);
      String given = signature.trim().toLowerCase(Locale.ROOT);
      if (!MessageDigest.isEqual(
          expected.getBytes(StandardCharsets.US_ASCII), given.getBytes(StandardCharsets.UTF_8))) {
        throw unauthenticated(
            "the X-Hub-Signature-256 of this request does not match the source's webhook secret;"
                + " set the webhook's secret to the one shown by `edgefleet git get`");
      }
    } else if (token != null) {
      if (!MessageDigest.isEqual(
          secret.getBytes(StandardCharsets.UTF_8), token.trim().getBytes(StandardCharsets.UTF_8))) {
        throw unauthenticated(
            "the X-Gitlab-Token of this request is not the source's webhook secret; set the"
                + " webhook's secret token to the one shown by `edgefleet git get`");
      }
    } else {
      throw unauthenticated(
          "webhook calls must carry X-Hub-Signature-256 (GitHub, Gitea: HMAC-SHA256 of the body"
              + " with the source's webhook secret) or X-Gitlab-Token (GitLab: the secret)");
    }
  }

  /** The event of a verified call; unknown or unreadable bodies count as a push to any ref. */
  static Event event(Map<String, String> headers, byte[] body) {
    String kind =
        firstNonNull(
            headers.get("x-github-event"),
            headers.get("x-gitea-event"),
            headers.get("x-gitlab-event"));
    if (kind != null && kind.trim().equalsIgnoreCase("ping")) {
      return new Event(true, Optional.empty());
    }
    try {
      JsonNode n = Json.mapper().readTree(body);
      if (n != null && n.path("zen").isTextual() && n.path("hook_id").isNumber()) {
        return new Event(true, Optional.empty());
      }
      JsonNode ref = n == null ? null : n.get("ref");
      if (ref != null && ref.isTextual() && ref.asText().startsWith("refs/")) {
        return new Event(false, Optional.of(ref.asText()));
      }
    } catch (IOException | RuntimeException e) {
      // Not JSON: still a valid trigger, the poll decides whether anything changed.
    }
    return new Event(false, Optional.empty());
  }

  static String hmacSha256Hex(String secret, byte[] body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      return HexFormat.of().formatHex(mac.doFinal(body));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available in this JDK", e);
    }
  }

  private static String firstNonNull(String... values) {
    for (String v : values) {
      if (v != null) {
        return v;
      }
    }
    return null;
  }

  private static ControllerException unauthenticated(String message) {
    return new ControllerException(ErrorCode.UNAUTHENTICATED, message);
  }
}
