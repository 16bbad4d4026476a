package io.edgefleet.protocol;

import java.util.regex.Pattern;

/**
 * The rules for device names, shared by the agent's {@code --name}, the controller and the CLI: 1
 * to 63 characters of {@code [A-Za-z0-9._-]}, starting and ending with a letter or digit (a host
 * name's first label fits).
 */
public final class DeviceNames {
  /** The longest device name. */
  public static final int MAX_LENGTH = 63;

  private static final Pattern NAME =
      Pattern.compile("[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?");

  private DeviceNames() {}

  /**
   * Returns {@code name} if it is a valid device name.
   *
   * @throws IllegalArgumentException saying what is wrong and what is allowed
   */
  public static String validate(String name) {
    if (name == null || name.isEmpty()) {
      throw new IllegalArgumentException("the device name is empty");
    }
    if (name.length() > MAX_LENGTH) {
      throw new IllegalArgumentException(
          "the device name '"
              + name.substring(0, 20)
              + "…' has "
              + name.length()
              + " characters; at most "
              + MAX_LENGTH
              + " are allowed");
    }
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "the device name '"
              + name
              + "' is invalid: use letters, digits, '.', '_' and '-', starting and ending with a"
              + " letter or digit");
    }
    return name;
  }

  /** Whether {@code name} is a valid device name. */
  public static boolean valid(String name) {
    return name != null && NAME.matcher(name).matches();
  }

  /**
   * The closest valid device name to a reported host name: characters outside the allowed set
   * become {@code -}, leading and trailing punctuation is dropped and the result is cut to {@link
   * #MAX_LENGTH}; null when nothing usable is left.
   */
  public static String fromHostname(String hostname) {
    if (hostname == null) {
      return null;
    }
    String s = hostname.strip().replaceAll("[^A-Za-z0-9._-]", "-");
    if (s.length() > MAX_LENGTH) {
      s = s.substring(0, MAX_LENGTH);
    }
    s = s.replaceAll("^[._-]+", "").replaceAll("[._-]+$", "");
    return s.isEmpty() ? null : s;
  }

  /**
   * The {@code n}-th name for devices that ask for {@code base} ({@code n >= 2}): {@code base-n},
   * with {@code base} shortened so the result stays within {@link #MAX_LENGTH}.
   */
  public static String numbered(String base, int n) {
    String suffix = "-" + n;
    String stem =
        base.length() + suffix.length() > MAX_LENGTH
            ? base.substring(0, MAX_LENGTH - suffix.length())
            : base;
    stem = stem.replaceAll("[._-]+$", "");
    return (stem.isEmpty() ? "device" : stem) + suffix;
  }
}
