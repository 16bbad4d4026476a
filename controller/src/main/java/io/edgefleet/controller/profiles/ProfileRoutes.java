package io.edgefleet.controller.profiles;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Call;
import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.selector.ProjectScope;
import io.edgefleet.protocol.ErrorCode;
import java.util.List;
import java.util.Optional;

/** The profiles' endpoints under {@value #PROFILES}, as {@code openapi.yaml} describes them. */
public record ProfileRoutes(Profiles profiles) implements Routes {
  /** The profiles' route prefix. */
  public static final String PROFILES = "/api/v1/profiles";

  /**
   * Profiles select clusters by their labels across the whole fleet (decision 0036): callers
   * confined to projects see none, and one they name does not exist for them.
   */
  private static String fleetWide(Call c) {
    if (ProjectScope.of(c).confined()) {
      throw Profiles.notFound(c.path("name"));
    }
    return c.path("name");
  }

  @Override
  public void register(Router r) {
    r.post(
        PROFILES,
        ADMIN,
        c -> {
          if (ProjectScope.of(c).confined()) {
            throw new ControllerException(
                ErrorCode.PERMISSION_DENIED,
                "profiles select clusters across the whole fleet and your roles are held within"
                    + " projects: ask an administrator to create the profile");
          }
          return Reply.created(
              profiles.create(c.strictBody(Profiles.CreateRequest.class), c.actor()));
        });
    r.get(
        PROFILES,
        ADMIN,
        c -> Reply.ok(new Items<>(ProjectScope.of(c).confined() ? List.of() : profiles.list())));
    r.get(PROFILES + "/{name}", ADMIN, c -> Reply.ok(profiles.get(fleetWide(c))));
    r.post(
        PROFILES + "/{name}/versions",
        ADMIN,
        c ->
            Reply.created(
                profiles.publish(
                    fleetWide(c), c.strictBody(Profiles.PublishRequest.class), c.actor())));
    r.get(
        PROFILES + "/{name}/versions/{version}",
        ADMIN,
        c -> Reply.ok(profiles.version(fleetWide(c), number("version", c.path("version")))));
    r.get(
        PROFILES + "/{name}/diff",
        ADMIN,
        c ->
            Reply.ok(
                profiles.diff(
                    fleetWide(c),
                    number("from", required(c.query("from"), "from")),
                    number("to", required(c.query("to"), "to")),
                    c.query("cluster").filter(s -> !s.isBlank()))));
  }

  private static String required(Optional<String> v, String name) {
    return v.orElseThrow(
        () ->
            ControllerException.invalid(
                "'" + name + "' is required: diff ?from=1&to=2 compares two versions"));
  }

  private static int number(String name, String text) {
    try {
      int n = Integer.parseInt(text.strip());
      if (n < 1) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw ControllerException.invalid(
          "'" + name + "' must be a profile version number (1, 2, ...); got '" + text + "'");
    }
  }
}
