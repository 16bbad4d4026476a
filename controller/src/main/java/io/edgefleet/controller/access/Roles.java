package io.edgefleet.controller.access;

import io.edgefleet.controller.api.Permissions;
import io.edgefleet.controller.common.ControllerException;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/** The built-in roles, and the checks every role and permission name goes through. */
final class Roles {
  private Roles() {}

  static final String VIEWER = "viewer";
  static final String OPERATOR = "operator";
  static final String ADMIN = "admin";

  /** Resources an operator may change beyond what a viewer reads. */
  private static final List<String> OPERATOR_WRITES =
      List.of(
          "devices",
          "apps",
          "deployments",
          "rollouts",
          "sources",
          "alerts",
          "clusters",
          "profiles",
          "artifacts");

  /** A role: its name, its permissions and whether it is built in. */
  record Role(String name, Set<String> permissions, String description, boolean builtIn) {
    Role {
      permissions = Set.copyOf(permissions);
    }
  }

  /** The built-in roles by name, viewer first. */
  static final Map<String, Role> BUILT_IN = builtIn();

  private static Map<String, Role> builtIn() {
    Set<String> viewer = new LinkedHashSet<>();
    for (String p : Permissions.KNOWN) {
      if (p.endsWith(":read") && !p.equals("audit:read")) {
        viewer.add(p);
      }
    }
    Set<String> operator = new LinkedHashSet<>(viewer);
    OPERATOR_WRITES.forEach(r -> operator.add(r + ":write"));
    operator.add("tunnels:kubectl");
    operator.add("tunnels:port-forward");
    operator.add("tunnels:files");
    Map<String, Role> roles = new LinkedHashMap<>();
    roles.put(
        VIEWER,
        new Role(
            VIEWER,
            viewer,
            "Reads everything but the audit log (secrets' values are never shown)",
            true));
    roles.put(
        OPERATOR,
        new Role(
            OPERATOR,
            operator,
            "A viewer who also changes devices, apps, deployments, rollouts, sources, alerts,"
                + " clusters, profiles and artifacts, runs kubectl and port-forwards through the"
                + " tunnel and copies files off devices",
            true));
    roles.put(
        ADMIN,
        new Role(
            ADMIN,
            Permissions.KNOWN,
            "Everything, including users, roles, secrets, keys, the audit log and shells",
            true));
    return Map.copyOf(roles);
  }

  private static final Pattern NAME = Pattern.compile("[a-z0-9]([a-z0-9._@-]{0,62}[a-z0-9])?");

  /**
   * Checks the name of a user, service account or role.
   *
   * @throws ControllerException {@code VALIDATION_FAILED} naming what a name may hold
   */
  static String name(String what, String name) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw ControllerException.invalid(
          what
              + " name '"
              + (name == null ? "" : name.length() > 80 ? name.substring(0, 80) + "…" : name)
              + "' is not valid: use 1 to 64 lowercase letters, digits, '.', '_', '@' or '-',"
              + " starting and ending with a letter or digit");
    }
    return name;
  }

  /**
   * Checks permissions against the fixed list.
   *
   * @throws ControllerException {@code VALIDATION_FAILED} naming the unknown and the known ones
   */
  static Set<String> permissions(Collection<String> permissions) {
    if (permissions == null || permissions.isEmpty()) {
      throw ControllerException.invalid(
          "permissions are required; known permissions: " + String.join(", ", Permissions.KNOWN));
    }
    Set<String> unknown = Permissions.unknown(permissions);
    if (!unknown.isEmpty()) {
      throw ControllerException.invalid(
          "unknown permission"
              + (unknown.size() == 1 ? " " : "s ")
              + String.join(", ", unknown)
              + "; known permissions: "
              + String.join(", ", Permissions.KNOWN));
    }
    return new TreeSet<>(permissions);
  }
}
