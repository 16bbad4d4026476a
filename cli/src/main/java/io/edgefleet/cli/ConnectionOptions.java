package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/**
 * The options every controller-calling command shares (a picocli mixin), and their resolution:
 * flags first, then environment variables, then the config file named by {@code --config} or {@code
 * EDGEFLEET_CONFIG}, then {@value #DEFAULT_CONFIG} under the user's home. Each setting is resolved
 * on its own, so a flag can override one value of a config file.
 *
 * <p>The API token option is declared by the command ({@link ApiCommand#tokenOption()}) because
 * {@code onboarding bootstrap} uses {@code --token} for the onboarding token.
 */
final class ConnectionOptions {
  static final String DEFAULT_CONFIG = ".edgefleet/controller/cli-config.json";
  static final String NO_CONTROLLER =
      "no controller configured: pass --server and --token, set"
          + " EDGEFLEET_CONFIG=<data dir>/cli-config.json, or start `edgefleet controller` which"
          + " writes ~/"
          + DEFAULT_CONFIG;

  /** How results are printed. */
  enum Output {
    TABLE,
    WIDE,
    JSON
  }

  @Option(
      names = "--server",
      paramLabel = "URL",
      description = "Controller URL, e.g. https://127.0.0.1:7443 (env EDGEFLEET_SERVER).")
  String server;

  @Option(
      names = "--ca-fingerprint",
      paramLabel = "sha256:HEX",
      description = "Fingerprint of the controller's CA to pin (env EDGEFLEET_CA_FINGERPRINT).")
  String caFingerprint;

  @Option(
      names = "--config",
      paramLabel = "FILE",
      description =
          "CLI config file written by the controller (env EDGEFLEET_CONFIG; default ~/"
              + DEFAULT_CONFIG
              + ").")
  Path config;

  @Option(
      names = {"-o", "--output"},
      paramLabel = "table|wide|json",
      defaultValue = "table",
      converter = OutputConverter.class,
      description =
          "Output format: table (default; fits the terminal), wide (a table that shows every"
              + " character) or json (the API's JSON).")
  Output output = Output.TABLE;

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean help;

  /**
   * Resolves the connection.
   *
   * @param tokenFlag the API token given on the command line, if any
   * @param env the environment ({@link System#getenv()} outside tests)
   * @param home the user's home directory
   * @throws CliException with exit code 2 when something is missing or malformed
   */
  Connection resolve(Optional<String> tokenFlag, Map<String, String> env, Path home) {
    Setting url = new Setting(server, "--server").or(env, "EDGEFLEET_SERVER");
    Setting token = new Setting(tokenFlag.orElse(null), "--token").or(env, "EDGEFLEET_TOKEN");
    Setting fingerprint =
        new Setting(caFingerprint, "--ca-fingerprint").or(env, "EDGEFLEET_CA_FINGERPRINT");
    if (url.isEmpty() || token.isEmpty() || fingerprint.isEmpty()) {
      Optional<ConfigFile> file = configFile(env, home);
      if (file.isPresent()) {
        url = url.or(file.get(), "server");
        token = token.or(file.get(), "token");
        fingerprint = fingerprint.or(file.get(), "caFingerprint");
      }
    }
    if (url.isEmpty()) {
      throw CliException.usage(NO_CONTROLLER);
    }
    URI uri = serverUri(url);
    if (token.isEmpty()) {
      throw CliException.usage(
          "no API token for "
              + uri
              + ": pass --token, set EDGEFLEET_TOKEN, or point EDGEFLEET_CONFIG at the"
              + " cli-config.json in the controller's data directory");
    }
    if (fingerprint.isEmpty()) {
      throw CliException.usage(
          "no CA fingerprint for "
              + uri
              + ": pass --ca-fingerprint sha256:<hex> or set EDGEFLEET_CA_FINGERPRINT (the"
              + " controller prints it at start and writes it to cli-config.json); the CLI has no"
              + " insecure mode");
    }
    return new Connection(uri, token.value(), normalizeFingerprint(fingerprint), url.origin());
  }

  /**
   * Accepts {@code sha256:<hex>} in any case and with or without {@code :} between byte pairs (as
   * openssl prints it), and returns the canonical {@code sha256:<64 lowercase hex digits>}.
   */
  static String normalizeFingerprint(String text) {
    String hex = text.strip();
    if (hex.regionMatches(true, 0, "sha256:", 0, 7)) {
      hex = hex.substring(7);
    }
    hex = hex.replace(":", "").toLowerCase(Locale.ROOT);
    if (hex.length() != 64 || !hex.chars().allMatch(HexFormat::isHexDigit)) {
      throw CliException.usage(
          "'" + text + "' is not a CA fingerprint: expected sha256: followed by 64 hex digits");
    }
    return "sha256:" + hex;
  }

  private static String normalizeFingerprint(Setting fingerprint) {
    try {
      return normalizeFingerprint(fingerprint.value());
    } catch (CliException e) {
      throw CliException.usage(e.getMessage() + " (from " + fingerprint.origin() + ")");
    }
  }

  private static URI serverUri(Setting url) {
    String text = url.value().strip();
    while (text.endsWith("/")) {
      text = text.substring(0, text.length() - 1);
    }
    URI uri;
    try {
      uri = URI.create(text);
    } catch (IllegalArgumentException e) {
      throw CliException.usage(
          "'" + url.value() + "' (from " + url.origin() + ") is not a URL: " + e.getMessage());
    }
    if (!"https".equalsIgnoreCase(uri.getScheme()) || uri.getHost() == null) {
      throw CliException.usage(
          "the controller URL must look like https://HOST:PORT, got '"
              + url.value()
              + "' (from "
              + url.origin()
              + "); the controller serves its API over HTTPS only");
    }
    return uri;
  }

  /** The explicit config file (which must exist), else the default one if it exists. */
  private Optional<ConfigFile> configFile(Map<String, String> env, Path home) {
    Setting explicit =
        new Setting(config == null ? null : config.toString(), "--config")
            .or(env, "EDGEFLEET_CONFIG");
    Path file = explicit.isEmpty() ? home.resolve(DEFAULT_CONFIG) : Path.of(explicit.value());
    if (!Files.exists(file)) {
      if (explicit.isEmpty()) {
        return Optional.empty();
      }
      throw CliException.usage(
          "config file " + file + " (from " + explicit.origin() + ") does not exist");
    }
    try {
      JsonNode json = Json.mapper().readTree(file.toFile());
      if (json == null || !json.isObject()) {
        throw CliException.usage("config file " + file + " does not hold a JSON object");
      }
      return Optional.of(new ConfigFile(file, json));
    } catch (IOException e) {
      throw CliException.usage("cannot read config file " + file + ": " + Formats.problem(e));
    }
  }

  /** One resolved setting and where it came from; empty while no source has supplied it. */
  private record Setting(String value, String origin) {
    boolean isEmpty() {
      return value == null || value.isBlank();
    }

    Setting or(Map<String, String> env, String name) {
      return isEmpty() ? new Setting(env.get(name), name) : this;
    }

    Setting or(ConfigFile file, String field) {
      return isEmpty()
          ? new Setting(Formats.text(file.json(), field), file.path().toString())
          : this;
    }
  }

  /** A parsed CLI config file: {@code {"server", "token", "caFingerprint"}}. */
  private record ConfigFile(Path path, JsonNode json) {}

  /** Accepts {@code table}, {@code wide} and {@code json} in any case. */
  static final class OutputConverter implements ITypeConverter<Output> {
    @Override
    public Output convert(String value) {
      try {
        return Output.valueOf(value.strip().toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(
            "'" + value + "' is not an output format: use table, wide or json");
      }
    }
  }
}
