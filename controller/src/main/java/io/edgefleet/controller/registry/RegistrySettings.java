package io.edgefleet.controller.registry;

import java.nio.file.Path;
import java.util.Optional;

/**
 * How the controller talks to one registry.
 *
 * @param host the registry's {@code host[:port]}, lowercase, as image references name it
 * @param insecure plain HTTP instead of HTTPS; only for registries an operator listed so
 * @param caFile PEM certificates to trust for this registry instead of the system's trust store
 * @param username the user of basic credentials (also sent to a token service)
 * @param passwordFile the file holding that user's password, read at each mirror
 */
public record RegistrySettings(
    String host,
    boolean insecure,
    Optional<Path> caFile,
    Optional<String> username,
    Optional<Path> passwordFile) {

  /** HTTPS with the system's trust store and no credentials. */
  public static RegistrySettings defaults(String host) {
    return new RegistrySettings(host, false, Optional.empty(), Optional.empty(), Optional.empty());
  }

  public RegistrySettings {
    if (username.isPresent() != passwordFile.isPresent()) {
      throw new IllegalArgumentException("username and passwordFile go together");
    }
  }
}
