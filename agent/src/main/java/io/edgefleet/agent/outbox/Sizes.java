package io.edgefleet.agent.outbox;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses the sizes operators type, such as {@code 64MB}, {@code 512KiB} or {@code 1g}. */
public final class Sizes {
  private static final Pattern SIZE = Pattern.compile("(\\d{1,12})\\s*(?:([kmg])i?)?b?");

  private Sizes() {}

  /** Bytes; K, M and G are powers of 1024 (64MB is 64 MiB). */
  public static long parse(String text) {
    Matcher m = SIZE.matcher(text == null ? "" : text.trim().toLowerCase(Locale.ROOT));
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "'"
              + text
              + "' is not a size: use a number and an optional unit (KB, MB, GB), e.g. 64MB");
    }
    long n = Long.parseLong(m.group(1));
    int shift =
        m.group(2) == null
            ? 0
            : switch (m.group(2)) {
              case "k" -> 10;
              case "m" -> 20;
              default -> 30;
            };
    if (n > (Long.MAX_VALUE >> shift)) {
      throw new IllegalArgumentException("'" + text + "' is too large");
    }
    return n << shift;
  }
}
