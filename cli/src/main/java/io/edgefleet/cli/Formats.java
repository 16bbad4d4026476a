package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** How API values read in a terminal: relative times, byte sizes, plain text of JSON fields. */
final class Formats {
  /** How many hex digits of revisions, commit SHAs and digests tables show. */
  static final int SHORT_HEX = 12;

  private static final Pattern HEX =
      Pattern.compile("([a-z0-9]+:)?([0-9a-f]{" + (SHORT_HEX + 1) + ",})");

  private Formats() {}

  /** The field's value as text; empty when it is absent or null. */
  static String text(JsonNode node, String field) {
    JsonNode value = node.path(field);
    if (value.isMissingNode() || value.isNull()) {
      return "";
    }
    return value.isValueNode() ? value.asText() : value.toString();
  }

  /** {@code 12s ago}, {@code 5m ago}, {@code in 7d}: in the largest unit that fits, rounded. */
  static String relative(Instant when, Instant now) {
    Duration d = Duration.between(when, now);
    return d.isNegative() ? "in " + span(d.negated()) : span(d) + " ago";
  }

  /** An ISO-8601 instant field; empty when absent or not an instant. */
  static Optional<Instant> instant(JsonNode node, String field) {
    try {
      String text = text(node, field);
      return text.isEmpty() ? Optional.empty() : Optional.of(Instant.parse(text));
    } catch (DateTimeParseException e) {
      return Optional.empty();
    }
  }

  /** An ISO-8601 instant field as a relative time; text that is no instant is shown as is. */
  static String relative(JsonNode node, String field, Instant now) {
    return instant(node, field).map(t -> relative(t, now)).orElse(text(node, field));
  }

  /** An ISO-8601 instant field followed by its relative time, for detail views. */
  static String timestamp(JsonNode node, String field, Instant now) {
    return instant(node, field)
        .map(t -> text(node, field) + " (" + relative(t, now) + ")")
        .orElse(text(node, field));
  }

  /**
   * A revision, commit SHA or digest as tables show it: {@value #SHORT_HEX} hex digits, as {@code
   * 0123456789ab} or {@code sha256:0123456789ab}; anything else (a catalog version) as it is.
   * Details and JSON show the full value.
   */
  static String revision(String text) {
    Matcher m = HEX.matcher(text);
    if (!m.matches()) {
      return text;
    }
    return (m.group(1) == null ? "" : m.group(1)) + m.group(2).substring(0, SHORT_HEX);
  }

  /**
   * What went wrong reading or writing a file, for a message that already names the file: {@code no
   * such file}, {@code permission denied}, else the exception's own words (which for file system
   * errors are often just the path again).
   */
  static String problem(IOException e) {
    return switch (e) {
      case NoSuchFileException x -> "no such file";
      case AccessDeniedException x -> "permission denied";
      case FileSystemException x when x.getReason() != null -> x.getReason();
      case FileSystemException x -> x.getClass().getSimpleName();
      default -> e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    };
  }

  /** Binary units: {@code 512 B}, {@code 1.5 KiB}, {@code 7.6 GiB}. */
  static String bytes(long bytes) {
    if (bytes < 1024) {
      return bytes + " B";
    }
    String units = "KMGTPE";
    double value = bytes;
    int unit = -1;
    while (value >= 1024 && unit < units.length() - 1) {
      value /= 1024;
      unit++;
    }
    return String.format(Locale.ROOT, "%.1f %siB", value, units.charAt(unit));
  }

  // Rounded, not truncated: a token created with --expires 7d should read "in 7d", not "in 6d".
  private static String span(Duration d) {
    long seconds = Math.round(d.toMillis() / 1000.0);
    if (seconds < 60) {
      return seconds + "s";
    }
    long minutes = Math.round(seconds / 60.0);
    if (minutes < 60) {
      return minutes + "m";
    }
    long hours = Math.round(minutes / 60.0);
    if (hours < 48) {
      return hours + "h";
    }
    return Math.round(hours / 24.0) + "d";
  }
}
