package io.edgefleet.controller.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The registries file, {@code <data dir>/registries.yaml}: which registries are plain HTTP, which
 * CA to trust for a registry and which credentials to use. A registry the file does not list is
 * reached over HTTPS with the system's trust store, anonymously. The file is read at each mirror,
 * so an edit applies without a restart.
 *
 * <pre>
 * registries:
 *   - host: registry.example.com:5000
 *     caFile: /etc/edgefleet/registry-ca.pem
 *     username: robot
 *     passwordFile: /etc/edgefleet/registry.password
 *   - host: 10.0.0.5:5000
 *     insecure: true
 * </pre>
 */
public final class RegistryConfig {
  /** The file's name in the data directory. */
  public static final String FILE_NAME = "registries.yaml";

  private static final long MAX_FILE = 256 * 1024;
  private static final Set<String> FIELDS =
      Set.of("host", "insecure", "caFile", "username", "passwordFile");

  private final Path file;

  public RegistryConfig(Path file) {
    this.file = file;
  }

  /**
   * The settings for {@code host}: those the file lists, or the defaults.
   *
   * @throws ControllerException {@code VALIDATION_FAILED} when the file is malformed, naming it
   */
  public RegistrySettings settingsFor(String host) {
    return load().getOrDefault(host.toLowerCase(Locale.ROOT), RegistrySettings.defaults(host));
  }

  Map<String, RegistrySettings> load() {
    Map<String, RegistrySettings> out = new LinkedHashMap<>();
    if (!Files.isRegularFile(file)) {
      return out;
    }
    JsonNode root;
    try {
      if (Files.size(file) > MAX_FILE) {
        throw broken("it is larger than " + MAX_FILE + " bytes");
      }
      root = new ObjectMapper(new YAMLFactory()).readTree(file.toFile());
    } catch (IOException e) {
      throw broken("it cannot be read as YAML: " + e.getMessage());
    }
    if (root == null || root.isMissingNode() || root.isNull()) {
      return out;
    }
    JsonNode list = root.path("registries");
    if (!root.isObject() || !list.isArray()) {
      throw broken("it must hold a list 'registries' of entries with a 'host'");
    }
    int i = 0;
    for (JsonNode entry : list) {
      String where = "registries[" + i++ + "]";
      if (!entry.isObject()) {
        throw broken(where + " must be a mapping");
      }
      entry
          .fieldNames()
          .forEachRemaining(
              f -> {
                if (!FIELDS.contains(f)) {
                  throw broken(where + " has an unknown field '" + f + "'; known: " + FIELDS);
                }
              });
      String host = entry.path("host").asText("").strip().toLowerCase(Locale.ROOT);
      if (host.isEmpty() || host.contains("/")) {
        throw broken(
            where + ".host must be a registry's host[:port], such as registry.example.com");
      }
      Optional<String> username = text(entry, "username");
      Optional<Path> passwordFile = text(entry, "passwordFile").map(Path::of);
      if (username.isPresent() != passwordFile.isPresent()) {
        throw broken(where + " needs both username and passwordFile, or neither");
      }
      JsonNode insecure = entry.path("insecure");
      if (!insecure.isMissingNode() && !insecure.isBoolean()) {
        throw broken(where + ".insecure must be true or false");
      }
      out.put(
          host,
          new RegistrySettings(
              host,
              insecure.asBoolean(false),
              text(entry, "caFile").map(Path::of),
              username,
              passwordFile));
    }
    return out;
  }

  private static Optional<String> text(JsonNode entry, String field) {
    String v = entry.path(field).asText("").strip();
    return v.isEmpty() ? Optional.empty() : Optional.of(v);
  }

  private ControllerException broken(String why) {
    return new ControllerException(
        ErrorCode.VALIDATION_FAILED, "the registries file " + file + " is not valid: " + why);
  }
}
