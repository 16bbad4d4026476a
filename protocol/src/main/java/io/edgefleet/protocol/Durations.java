package io.edgefleet.protocol;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses and prints the short durations operators type: {@code 90s}, {@code 15m}, {@code 7d}. */
public final class Durations {
  private static final Pattern SHORT = Pattern.compile("(\\d{1,9})(ms|s|m|h|d)");

  private Durations() {}

  public static Duration parse(String text) {
    Matcher m = SHORT.matcher(text == null ? "" : text.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "'"
              + text
              + "' is not a duration: use a number and a unit (ms, s, m, h, d), e.g. 30s or 7d");
    }
    long n = Long.parseLong(m.group(1));
    return switch (m.group(2)) {
      case "ms" -> Duration.ofMillis(n);
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      default -> Duration.ofDays(n);
    };
  }

  /** A compact human form: {@code 45s}, {@code 3m12s}, {@code 2h5m}, {@code 4d3h}. */
  public static String human(Duration d) {
    long s = Math.max(0, d.toSeconds());
    if (s < 60) {
      return s + "s";
    }
    if (s < 3600) {
      return (s / 60) + "m" + (s % 60 == 0 ? "" : (s % 60) + "s");
    }
    if (s < 86400) {
      long m = (s % 3600) / 60;
      return (s / 3600) + "h" + (m == 0 ? "" : m + "m");
    }
    long h = (s % 86400) / 3600;
    return (s / 86400) + "d" + (h == 0 ? "" : h + "h");
  }
}
