package io.edgefleet.controller.common;

import io.edgefleet.protocol.tls.Fingerprints;
import java.nio.charset.StandardCharsets;

/** Secret tokens (admin and onboarding tokens) as they are stored: never in the clear. */
public final class Tokens {
  private Tokens() {}

  /** Stored form of a secret token. */
  public static String hash(String token) {
    return Fingerprints.sha256(token.getBytes(StandardCharsets.UTF_8));
  }
}
