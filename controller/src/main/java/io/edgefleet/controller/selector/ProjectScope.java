package io.edgefleet.controller.selector;

import io.edgefleet.controller.api.Call;
import io.edgefleet.controller.api.Principal;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * What one caller sees of projects (decision 0036): the devices its projects' selectors pick, the
 * objects created in its projects, and the project a new object of it belongs to.
 *
 * <p>A principal whose roles are all held within projects is <em>confined</em>: it sees only the
 * devices one of its projects picks and the objects created in one of them; anything else is
 * answered exactly as something that does not exist (404). A principal whose roles cover the whole
 * fleet sees everything. Either may narrow a listing to one project with {@code ?project=}.
 */
public final class ProjectScope {
  private final Optional<Principal> principal;
  private final Optional<String> requested;

  private ProjectScope(Optional<Principal> principal, Optional<String> requested) {
    this.principal = principal;
    this.requested = requested.map(String::strip).filter(s -> !s.isEmpty());
  }

  /** The scope of an API call: its principal, and the project its {@code ?project=} names. */
  public static ProjectScope of(Call c) {
    return new ProjectScope(c.principal(), c.query("project"));
  }

  /** The scope of a principal, with no project asked for. */
  public static ProjectScope of(Principal p) {
    return new ProjectScope(Optional.of(p), Optional.empty());
  }

  /**
   * The principal's roles that count on a device with these tags: those held over the whole fleet,
   * and those held within a project whose selector picks the device.
   */
  public static java.util.Set<String> rolesOn(Principal p, Map<String, String> tags) {
    java.util.Set<String> roles = new java.util.TreeSet<>(p.roles());
    p.projectRoles()
        .forEach(
            (project, held) -> {
              String selector = p.projects().get(project);
              if (selector != null && Selector.parse("project selector", selector).matches(tags)) {
                roles.addAll(held);
              }
            });
    return roles;
  }

  /** A new object's project and the devices it may reach. */
  public record Project(String name, Selector selector) {}

  /** Whether the caller sees only its projects' devices and objects. */
  public boolean confined() {
    return principal.map(Principal::confined).orElse(false);
  }

  /** The project {@code ?project=} names, if any. */
  public Optional<String> requested() {
    return requested;
  }

  /**
   * The devices (by tags) the caller sees: those one of its projects picks when it is confined,
   * every device otherwise; narrowed to the project {@code ?project=} names, if any.
   */
  public Predicate<Map<String, String>> devices() {
    Predicate<Map<String, String>> own =
        principal
            .flatMap(Principal::deviceSelectors)
            .<Predicate<Map<String, String>>>map(
                texts -> {
                  List<Selector> selectors =
                      texts.stream().map(t -> Selector.parse("project selector", t)).toList();
                  return tags -> selectors.stream().anyMatch(s -> s.matches(tags));
                })
            .orElse(tags -> true);
    if (requested.isEmpty()) {
      return own;
    }
    Optional<Selector> one = selectorOf(requested.get());
    if (one.isEmpty()) {
      return tags -> false;
    }
    return own.and(one.get()::matches);
  }

  /**
   * Whether the caller may see an object created in {@code project} (null or empty for an object of
   * no project, which only principals over the whole fleet see).
   */
  public boolean sees(String project) {
    if (!confined()) {
      return true;
    }
    return project != null && principal.orElseThrow().projects().containsKey(project);
  }

  /**
   * Whether an object of {@code project} belongs in a listing: it is seen, and of the asked
   * project.
   */
  public boolean lists(String project) {
    return sees(project) && requested.map(r -> r.equals(project)).orElse(true);
  }

  /** The items of a listing the caller sees, each of the project {@code project} says. */
  public <T> List<T> filter(List<T> items, Function<T, String> project) {
    if (!confined() && requested.isEmpty()) {
      return items;
    }
    return items.stream().filter(i -> lists(project.apply(i))).toList();
  }

  /**
   * The object, if the caller sees it; otherwise {@code hidden}, the error of an object that does
   * not exist, so that nothing tells another project's object from a missing one.
   */
  public <T> T check(T item, String project, ControllerException hidden) {
    if (!sees(project)) {
      throw hidden;
    }
    return item;
  }

  /** The selector of a project the caller may act in, by name. */
  public Optional<Selector> selectorOf(String project) {
    return principal
        .map(p -> p.projects().get(project))
        .map(text -> Selector.parse("project selector", text));
  }

  /**
   * The project a new object belongs to: the one {@code ?project=} names, which must be one the
   * caller may act in; otherwise, for a confined caller, its only project; for a caller over the
   * whole fleet, none.
   *
   * @param what the kind of object, for messages, e.g. {@code deployment}
   * @throws ControllerException {@code NOT_FOUND} for a project the caller may not act in, {@code
   *     PROJECT_REQUIRED} for a confined caller of several projects that named none
   */
  public Optional<Project> createIn(String what) {
    Map<String, String> mine = principal.map(Principal::projects).orElse(Map.of());
    if (requested.isPresent()) {
      String name = requested.get();
      String selector = mine.get(name);
      if (selector == null) {
        throw new ControllerException(
            ErrorCode.NOT_FOUND,
            "project '"
                + name
                + "' does not exist"
                + (confined()
                    ? " among your projects (" + String.join(", ", mine.keySet()) + ")"
                    : "; `projects list` shows the projects"));
      }
      return Optional.of(new Project(name, Selector.parse("project selector", selector)));
    }
    if (!confined()) {
      return Optional.empty();
    }
    if (mine.size() == 1) {
      var only = mine.entrySet().iterator().next();
      return Optional.of(
          new Project(only.getKey(), Selector.parse("project selector", only.getValue())));
    }
    throw new ControllerException(
        ErrorCode.PROJECT_REQUIRED,
        "you hold roles in the projects "
            + String.join(", ", mine.keySet())
            + ": say which one the new "
            + what
            + " belongs to with ?project=NAME (CLI: --project NAME)");
  }
}
