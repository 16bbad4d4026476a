package io.edgefleet.protocol;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses and prints the byte sizes operators type: {@code 200MiB}, {@code 1.5GiB}, {@code 500KB},
 * {@code 1048576}. Binary units (KiB, MiB, GiB, TiB) count in 1024s, decimal units (KB, MB, GB, TB)
 * in 1000s; a bare number is bytes.
 */
public final class ByteSizes {
  private static final Pattern SIZE =
      Pattern.compile("(\\d{1,15}(?:\\.\\d{1,6})?)\\s*([kmgt]i?b|b)?", Pattern.CASE_INSENSITIVE);

  private ByteSizes() {}

  /**
   * The number of bytes {@code text} names, rounded down to a whole byte.
   *
   * @throws IllegalArgumentException with a message for a person when it is not a size, or names
   *     more than {@link Long#MAX_VALUE} bytes
   */
  public static long parse(String text) {
    Matcher m = SIZE.matcher(text == null ? "" : text.strip());
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "'" + text + "' is not a size: use a number and a unit, e.g. 200MiB, 1.5GiB or 500MB");
    }
    String unit = m.group(2) == null ? "b" : m.group(2).toLowerCase(Locale.ROOT);
    long factor =
        switch (unit) {
          case "kib" -> 1L << 10;
          case "mib" -> 1L << 20;
          case "gib" -> 1L << 30;
          case "tib" -> 1L << 40;
          case "kb" -> 1_000L;
          case "mb" -> 1_000_000L;
          case "gb" -> 1_000_000_000L;
          case "tb" -> 1_000_000_000_000L;
          default -> 1L;
        };
    java.math.BigDecimal bytes =
        new java.math.BigDecimal(m.group(1)).multiply(java.math.BigDecimal.valueOf(factor));
    if (bytes.compareTo(java.math.BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
      throw new IllegalArgumentException("'" + text + "' is larger than any size this takes");
    }
    return bytes.longValue();
  }

  /**
   * Binary units, one decimal where it matters: {@code 512 B}, {@code 1.5 KiB}, {@code 200 MiB}.
   */
  public static String human(long bytes) {
    if (bytes < 1024) {
      return bytes + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = bytes;
    int i = -1;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    String n = String.format(Locale.ROOT, "%.1f", v);
    return (n.endsWith(".0") ? n.substring(0, n.length() - 2) : n) + " " + units[i];
  }
}
