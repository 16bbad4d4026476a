package io.edgefleet.protocol;

import java.util.Map;
import java.util.regex.Pattern;

/**
 * Validation of device tags with Kubernetes label rules: a key is an optional DNS-subdomain prefix
 * and {@code /} followed by a name of at most 63 characters; a value is at most 63 characters; both
 * use {@code [A-Za-z0-9._-]} and start and end alphanumeric.
 */
public final class Labels {
  private static final Pattern NAME =
      Pattern.compile("[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?");
  private static final Pattern PREFIX =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

  private Labels() {}

  /** Throws {@link IllegalArgumentException} naming the offending key or value. */
  public static void validate(String key, String value) {
    validateKey(key);
    if (value == null) {
      throw new IllegalArgumentException("tag '" + key + "' has no value");
    }
    if (!value.isEmpty() && !NAME.matcher(value).matches()) {
      throw new IllegalArgumentException(
          "tag value '"
              + value
              + "' of '"
              + key
              + "' is invalid: at most 63 characters of [A-Za-z0-9._-], starting and ending"
              + " with a letter or digit");
    }
  }

  public static void validateKey(String key) {
    if (key == null || key.isEmpty()) {
      throw new IllegalArgumentException("tag key is empty");
    }
    String name = key;
    int slash = key.indexOf('/');
    if (slash >= 0) {
      String prefix = key.substring(0, slash);
      name = key.substring(slash + 1);
      if (prefix.length() > 253 || !PREFIX.matcher(prefix).matches()) {
        throw new IllegalArgumentException(
            "tag key '" + key + "' has an invalid prefix: it must be a DNS subdomain");
      }
    }
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "tag key '"
              + key
              + "' is invalid: at most 63 characters of [A-Za-z0-9._-], starting and ending with"
              + " a letter or digit, optionally behind a DNS prefix and '/'");
    }
  }

  public static void validate(Map<String, String> tags) {
    tags.forEach(Labels::validate);
  }
}
