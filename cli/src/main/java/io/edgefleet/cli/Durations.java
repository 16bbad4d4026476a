package io.edgefleet.cli;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Durations written as a positive whole number and one unit: {@code 90s}, {@code 30m}, etc. */
final class Durations {
  private static final Pattern FORMAT = Pattern.compile("(\\d{1,9})([smhd])");

  private Durations() {}

  /**
   * Parses {@code <n>s|m|h|d} with {@code n >= 1}.
   *
   * @throws IllegalArgumentException naming the text when it is not such a duration
   */
  static Duration parse(String text) {
    Matcher m = FORMAT.matcher(text);
    if (!m.matches() || Long.parseLong(m.group(1)) == 0) {
      throw new IllegalArgumentException(
          "'"
              + text
              + "' is not a positive duration: use a whole number and a unit s, m, h or d,"
              + " for example 90s, 30m, 12h or 7d");
    }
    long n = Long.parseLong(m.group(1));
    return switch (m.group(2)) {
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      default -> Duration.ofDays(n);
    };
  }
}
