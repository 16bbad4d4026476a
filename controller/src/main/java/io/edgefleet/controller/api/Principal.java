package io.edgefleet.controller.api;

import java.time.Instant;
import java.util.List;
import java.util.Map;
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
 * @param deviceSelectors the tag selectors of the projects the principal's roles hold in, when all
 *     its roles are held within projects: it sees only the devices one of them picks; empty for a
 *     principal whose roles cover the whole fleet
 * @param projects the projects the principal may create objects in and read them from, name to
 *     device selector: for a principal whose roles are all held within projects, those projects;
 *     for one whose roles cover the whole fleet, every project (it names one with {@code ?project=}
 *     or a {@code project} field)
 * @param projectRoles the roles the principal holds within projects, project name to role names
 *     (they count on the devices the project's selector picks)
 */
public record Principal(
    String name,
    List<String> roles,
    Set<String> permissions,
    boolean scoped,
    Optional<Instant> expiresAt,
    Optional<List<String>> deviceSelectors,
    Map<String, String> projects,
    Map<String, List<String>> projectRoles) {

  public Principal {
    roles = List.copyOf(roles);
    permissions = Set.copyOf(permissions);
    deviceSelectors = deviceSelectors.map(List::copyOf);
    projects = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(projects));
    java.util.Map<String, List<String>> held = new java.util.TreeMap<>();
    projectRoles.forEach((k, v) -> held.put(k, List.copyOf(v)));
    projectRoles = java.util.Collections.unmodifiableMap(held);
  }

  /** A principal with the projects it may act in and no roles held within them by name. */
  public Principal(
      String name,
      List<String> roles,
      Set<String> permissions,
      boolean scoped,
      Optional<Instant> expiresAt,
      Optional<List<String>> deviceSelectors,
      Map<String, String> projects) {
    this(name, roles, permissions, scoped, expiresAt, deviceSelectors, projects, Map.of());
  }

  /** A principal that knows no project by name. */
  public Principal(
      String name,
      List<String> roles,
      Set<String> permissions,
      boolean scoped,
      Optional<Instant> expiresAt,
      Optional<List<String>> deviceSelectors) {
    this(name, roles, permissions, scoped, expiresAt, deviceSelectors, Map.of());
  }

  /** Whether all the principal's roles are held within projects: it sees only their objects. */
  public boolean confined() {
    return deviceSelectors.isPresent();
  }

  /** A principal whose roles cover the whole fleet. */
  public Principal(
      String name,
      List<String> roles,
      Set<String> permissions,
      boolean scoped,
      Optional<Instant> expiresAt) {
    this(name, roles, permissions, scoped, expiresAt, Optional.empty());
  }

  /** A principal holding every permission, such as the bootstrap administrator. */
  public static Principal administrator(String name) {
    return new Principal(name, List.of("admin"), Permissions.KNOWN, false, Optional.empty());
  }

  public boolean allows(String permission) {
    return permissions.contains(permission) || Permissions.IMPLIED.contains(permission);
  }
}
