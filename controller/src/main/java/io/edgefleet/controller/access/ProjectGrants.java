package io.edgefleet.controller.access;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * What a user's role bindings make of projects (decision 0036): whether the user is confined to
 * projects, the device selectors that confine it, and the projects it may act in by name.
 */
final class ProjectGrants {
  private ProjectGrants() {}

  /**
   * The selectors of the projects a user holds roles in, when they hold none over the whole fleet;
   * empty when they see every device.
   */
  static Optional<List<String>> deviceSelectors(
      AccessControl.UserRow user, Map<String, AccessControl.ProjectRow> projects) {
    if (!confined(user)) {
      return Optional.empty();
    }
    List<String> selectors = new ArrayList<>();
    for (String project : user.projectRoles().keySet()) {
      AccessControl.ProjectRow p = projects.get(project);
      if (p != null) {
        selectors.add(p.selector());
      }
    }
    return Optional.of(selectors);
  }

  /**
   * The projects the user may create objects in and read them from, name to selector: those it
   * holds roles in when it is confined to projects, every project otherwise.
   */
  static Map<String, String> projects(
      AccessControl.UserRow user, Map<String, AccessControl.ProjectRow> projects) {
    boolean confined = confined(user);
    Map<String, String> out = new TreeMap<>();
    projects.forEach(
        (name, p) -> {
          if (!confined || user.projectRoles().containsKey(name)) {
            out.put(name, p.selector());
          }
        });
    return out;
  }

  private static boolean confined(AccessControl.UserRow user) {
    return user.roles().isEmpty() && !user.projectRoles().isEmpty();
  }
}
