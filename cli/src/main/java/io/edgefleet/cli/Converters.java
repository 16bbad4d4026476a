package io.edgefleet.cli;

import io.edgefleet.protocol.Durations;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** picocli converters that validate arguments where they enter, naming the offending value. */
final class Converters {
  static final Set<String> DEVICE_STATUSES =
      Set.of(
          "PENDING",
          "NEVER_SEEN",
          "ONLINE",
          "DEGRADED",
          "ERROR",
          "OFFLINE",
          "REJECTED",
          "DECOMMISSIONED");

  /** The largest {@code --limit} the controller accepts. */
  static final int MAX_LIMIT = 1000;

  private static final Pattern SOURCE_NAME = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");
  private static final Pattern SHA = Pattern.compile("[0-9a-fA-F]{4,64}");

  private Converters() {}

  /** {@code key=value} by the Kubernetes label rules. */
  static final class Tag implements ITypeConverter<Tags.Tag> {
    @Override
    public Tags.Tag convert(String value) {
      try {
        return Tags.parse(value);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }

  /** A tag key by the Kubernetes label rules. */
  static final class TagKey implements ITypeConverter<String> {
    @Override
    public String convert(String value) {
      try {
        return Tags.key(value);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }

  /**
   * A duration such as {@code 7d}, passed on (stripped) once it is known to be valid. The syntax is
   * the protocol's, which the controller parses with; the CLI also refuses zero and {@code ms},
   * which make no sense for the lifetimes operators type here.
   */
  /** A positive duration, or {@code never}. */
  static final class ExpiryText implements ITypeConverter<String> {
    @Override
    public String convert(String value) {
      return value.strip().equals("never") ? "never" : new DurationText().convert(value);
    }
  }

  static final class DurationText implements ITypeConverter<String> {
    @Override
    public String convert(String value) {
      String text = value.strip();
      Duration duration;
      try {
        duration = Durations.parse(text);
      } catch (IllegalArgumentException e) {
        throw notPositive(value);
      }
      if (duration.isZero() || text.endsWith("ms")) {
        throw notPositive(value);
      }
      return text;
    }

    private static TypeConversionException notPositive(String value) {
      return new TypeConversionException(
          "'"
              + value
              + "' is not a positive duration: use a whole number and a unit s, m, h or d,"
              + " for example 90s, 30m, 12h or 7d");
    }
  }

  /** A whole number of at least 1. */
  static final class PositiveInt implements ITypeConverter<Integer> {
    @Override
    public Integer convert(String value) {
      try {
        int n = Integer.parseInt(value.strip());
        if (n >= 1) {
          return n;
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new TypeConversionException("'" + value + "' is not a whole number of at least 1");
    }
  }

  /** A device status, in any case; sent upper-case. */
  static final class DeviceStatus implements ITypeConverter<String> {
    @Override
    public String convert(String value) {
      String status = value.strip().toUpperCase(Locale.ROOT);
      if (!DEVICE_STATUSES.contains(status)) {
        throw new TypeConversionException(
            "'"
                + value
                + "' is not a device status: use one of "
                + String.join(", ", DEVICE_STATUSES.stream().sorted().toList()));
      }
      return status;
    }
  }

  /** A non-blank identifier: device id, enrollment code, token id or serial number. */
  static final class Id implements ITypeConverter<String> {
    @Override
    public String convert(String value) {
      String id = value.strip();
      if (id.isEmpty() || id.length() > 253 || !id.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
        throw new TypeConversionException(
            "'" + value + "' is not an id: 1 to 253 printable characters without spaces");
      }
      return id;
    }
  }

  /** A number of items to fetch: 1 to {@value #MAX_LIMIT}, as the controller accepts. */
  static final class Limit implements ITypeConverter<Integer> {
    @Override
    public Integer convert(String value) {
      try {
        int n = Integer.parseInt(value.strip());
        if (n >= 1 && n <= MAX_LIMIT) {
          return n;
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new TypeConversionException(
          "'" + value + "' is not a limit: use a whole number from 1 to " + MAX_LIMIT);
    }
  }

  /** A git source name: a DNS label, as the controller requires it. */
  static final class SourceName implements ITypeConverter<String> {
    @Override
    public String convert(String value) {
      if (!SOURCE_NAME.matcher(value).matches()) {
        throw new TypeConversionException(
            "'"
                + value
                + "' is not a repository name: 1 to 63 lower-case letters, digits and '-',"
                + " starting and ending with a letter or digit (for example shop-apps)");
      }
      return value;
    }
  }

  /** A commit SHA, full or abbreviated to at least 4 hex digits; sent in lower case. */
  static final class Sha implements ITypeConverter<String> {
    @Override
    public String convert(String value) {
      String sha = value.strip();
      if (!SHA.matcher(sha).matches()) {
        throw new TypeConversionException(
            "'" + value + "' is not a commit SHA: 4 to 64 hex digits, as `repos history` shows");
      }
      return sha.toLowerCase(Locale.ROOT);
    }
  }

  /** Text that must not be blank, such as a URL or branch; sent without surrounding blanks. */
  static final class NonBlank implements ITypeConverter<String> {
    @Override
    public String convert(String value) {
      String text = value.strip();
      if (text.isEmpty() || text.chars().anyMatch(Character::isISOControl)) {
        throw new TypeConversionException(
            "'" + value + "' must be non-empty text without control characters");
      }
      return text;
    }
  }
}
