package io.edgefleet.controller.gitops;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.common.Ids;
import io.edgefleet.controller.common.Lru;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Verification and reading of GitHub-, Gitea- and GitLab-style push webhooks, and the memory of
 * deliveries already received. Thread-safe.
 */
final class Webhooks {
  static final String GITHUB_SIGNATURE = "x-hub-signature-256";
  static final String GITLAB_TOKEN = "x-gitlab-token";

  /** How long a delivery is remembered, and the oldest push time a payload may state. */
  static final Duration REPLAY_WINDOW = Duration.ofHours(24);

  /** Deliveries remembered at most (a digest and a time each, ~100 bytes). */
  static final int REMEMBERED = 10_000;

  /** Stands in for the secret of a source that does not exist, so both cost the same. */
  private static final String NO_SECRET = Ids.secret("efw");

  private final Lru<String, Instant> seen = Lru.ofEntries(REMEMBERED);

  /** What a verified call asks for: a ping, or a push (to {@code ref}, if the body names it). */
  record Event(boolean ping, Optional<String> ref) {}

  /**
   * Checks the shared secret in constant time. A source that does not exist ({@code secret} empty)
   * fails exactly like a wrong secret, after the same work, so source names cannot be learned from
   * the answers.
   *
   * @throws ControllerException {@code UNAUTHENTICATED} if no supported header is present or the
   *     secret does not match
   */
  static void verify(
      String name, Optional<String> secret, Map<String, String> headers, byte[] body) {
    String signature = headers.get(GITHUB_SIGNATURE);
    String token = headers.get(GITLAB_TOKEN);
    String key = secret.orElse(NO_SECRET);
    String hint =
        "; set the webhook's secret to the one shown by `edgefleet repos get "
            + name
            + "` (and check the URL names an existing source)";
    if (signature != null) {
      String expected = "sha256=" + hmacSha256Hex(key, body);
      String given = signature.trim().toLowerCase(Locale.ROOT);
      if (!MessageDigest.isEqual(
              expected.getBytes(StandardCharsets.US_ASCII), given.getBytes(StandardCharsets.UTF_8))
          || secret.isEmpty()) {
        throw unauthenticated(
            "the X-Hub-Signature-256 of this request does not match this webhook URL's secret"
                + hint);
      }
    } else if (token != null) {
      if (!MessageDigest.isEqual(
              key.getBytes(StandardCharsets.UTF_8), token.trim().getBytes(StandardCharsets.UTF_8))
          || secret.isEmpty()) {
        throw unauthenticated(
            "the X-Gitlab-Token of this request is not this webhook URL's secret token" + hint);
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

  /**
   * Refuses a delivery this controller has already taken for this source (the same body, or the
   * same delivery id, within {@link #REPLAY_WINDOW}), or one whose payload says it was pushed
   * longer ago than that. Call only after {@link #verify}, so forged calls fill no memory.
   *
   * @throws ControllerException {@code CONFLICT} for a replay
   */
  void refuseReplay(String source, Map<String, String> headers, byte[] body, Instant now) {
    pushedAt(body)
        .filter(t -> t.isBefore(now.minus(REPLAY_WINDOW)))
        .ifPresent(
            t -> {
              throw replay(
                  "this delivery is of a push at "
                      + t
                      + ", older than "
                      + REPLAY_WINDOW.toHours()
                      + " h; run `edgefleet repos sync "
                      + source
                      + "` to fetch now");
            });
    String digest = source + "\n" + sha256Hex(body);
    String delivery =
        firstNonNull(
            headers.get("x-github-delivery"),
            headers.get("x-gitea-delivery"),
            headers.get("x-gitlab-event-uuid"));
    synchronized (seen) {
      for (String key :
          delivery == null ? List.of(digest) : List.of(digest, source + "\n" + delivery)) {
        Optional<Instant> at = seen.get(key);
        if (at.isPresent() && at.get().isAfter(now.minus(REPLAY_WINDOW))) {
          throw replay(
              "this delivery was already received at "
                  + at.get()
                  + "; a replayed webhook is refused (run `edgefleet repos sync "
                  + source
                  + "` to fetch now)");
        }
      }
      seen.put(digest, now);
      if (delivery != null) {
        seen.put(source + "\n" + delivery, now);
      }
    }
  }

  /** GitHub's and Gitea's {@code repository.pushed_at} (epoch seconds), if the body has it. */
  private static Optional<Instant> pushedAt(byte[] body) {
    try {
      JsonNode n = Json.mapper().readTree(body);
      JsonNode at = n == null ? null : n.path("repository").get("pushed_at");
      if (at != null && at.canConvertToLong() && at.asLong() > 0) {
        return Optional.of(Instant.ofEpochSecond(at.asLong()));
      }
    } catch (IOException | RuntimeException e) {
      // Not JSON, or no time: nothing to check.
    }
    return Optional.empty();
  }

  private static String sha256Hex(byte[] body) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("SHA-256 is not available in this JDK", e);
    }
  }

  private static ControllerException replay(String message) {
    return new ControllerException(ErrorCode.CONFLICT, message);
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
