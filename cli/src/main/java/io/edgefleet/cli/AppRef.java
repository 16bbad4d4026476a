package io.edgefleet.cli;

import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * A version of a catalog app as the CLI names it: {@code NAME@VERSION}, such as {@code pos@1.2.0}.
 * Validated by the rules the controller applies, so a bad reference fails before any call.
 *
 * @param name the app name: 1 to 63 lower-case letters, digits and '-'
 * @param version the version: 1 to 64 letters, digits, '.', '_' and '-'
 */
record AppRef(String name, String version) {
  static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  static final Pattern VERSION = Pattern.compile("[0-9A-Za-z][0-9A-Za-z._-]{0,63}");

  AppRef {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "'"
              + name
              + "' is not an app name: 1 to 63 lower-case letters, digits and '-', starting and"
              + " ending with a letter or digit");
    }
    if (version == null || !VERSION.matcher(version).matches()) {
      throw new IllegalArgumentException(
          "'"
              + version
              + "' is not a version: 1 to 64 letters, digits, '.', '_' and '-', starting with a"
              + " letter or digit (for example 1.2.0)");
    }
  }

  /**
   * Parses {@code NAME@VERSION}.
   *
   * @throws IllegalArgumentException saying what is wrong and giving an example
   */
  static AppRef parse(String text) {
    String t = text == null ? "" : text.strip();
    int at = t.indexOf('@');
    if (at < 0) {
      throw new IllegalArgumentException(
          "'"
              + t
              + "' is not NAME@VERSION: give the version after '@', for example "
              + (t.isEmpty() ? "pos" : t)
              + "@1.2.0 (`apps versions "
              + (t.isEmpty() ? "NAME" : t)
              + "` lists them)");
    }
    if (t.indexOf('@', at + 1) >= 0) {
      throw new IllegalArgumentException(
          "'" + t + "' is not NAME@VERSION: it has more than one '@'");
    }
    try {
      return new AppRef(t.substring(0, at), t.substring(at + 1));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("'" + t + "' is not NAME@VERSION: " + e.getMessage());
    }
  }

  /** The API path of this version: {@code /api/v1/catalog/apps/NAME/versions/VERSION}. */
  String path() {
    return AppsCommand.CATALOG
        + "/"
        + ControllerClient.segment(name)
        + "/versions/"
        + ControllerClient.segment(version);
  }

  @Override
  public String toString() {
    return name + "@" + version;
  }

  /** picocli converter for {@code NAME@VERSION} parameters. */
  static final class Converter implements ITypeConverter<AppRef> {
    @Override
    public AppRef convert(String value) {
      try {
        return parse(value);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }
}
