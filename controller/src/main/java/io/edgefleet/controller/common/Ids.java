package io.edgefleet.controller.common;

import java.security.SecureRandom;

/** Random identifiers and secrets in a compact alphabet without look-alike characters. */
public final class Ids {
  private static final char[] ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz".toCharArray();
  private static final char[] CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ".toCharArray();
  private static final SecureRandom RANDOM = new SecureRandom();

  private Ids() {}

  /** A random id such as {@code dev-7k2m9x4qpt}. */
  public static String next(String prefix) {
    return prefix + "-" + random(ALPHABET, 10);
  }

  /** A secret token of 160 random bits such as {@code efa_…}. */
  public static String secret(String prefix) {
    return prefix + "_" + random(ALPHABET, 32);
  }

  /** A short code a person can read aloud, such as {@code K7PQ-4QXM}. */
  public static String humanCode() {
    return random(CODE_ALPHABET, 4) + "-" + random(CODE_ALPHABET, 4);
  }

  private static String random(char[] alphabet, int length) {
    StringBuilder sb = new StringBuilder(length);
    for (int i = 0; i < length; i++) {
      sb.append(alphabet[RANDOM.nextInt(alphabet.length)]);
    }
    return sb.toString();
  }
}
