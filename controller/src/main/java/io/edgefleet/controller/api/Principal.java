package io.edgefleet.controller.api;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Who an operator's bearer token belongs to and what it may do.
 *
 * @param name the user or service account, recorded as the actor of what it changes
 * @param roles the names of its roles, for messages
 * @param permissions what the token may do: its holder's permissions, narrowed by its scopes
 * @param scoped whether the token's scopes narrowed its holder's permissions
 * @param expiresAt when the token stops working, if ever
 */
public record Principal(
    String name,
    List<String> roles,
    Set<String> permissions,
    boolean scoped,
    Optional<Instant> expiresAt) {

  public Principal {
    roles = List.copyOf(roles);
    permissions = Set.copyOf(permissions);
  }

  /** A principal holding every permission, such as the bootstrap administrator. */
  public static Principal administrator(String name) {
    return new Principal(name, List.of("admin"), Permissions.KNOWN, false, Optional.empty());
  }

  public boolean allows(String permission) {
    return permissions.contains(permission) || Permissions.IMPLIED.contains(permission);
  }
}
