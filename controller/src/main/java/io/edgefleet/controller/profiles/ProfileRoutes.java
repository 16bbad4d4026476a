package io.edgefleet.controller.profiles;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import java.util.Optional;

/** The profiles' endpoints under {@value #PROFILES}, as {@code openapi.yaml} describes them. */
public record ProfileRoutes(Profiles profiles) implements Routes {
  /** The profiles' route prefix. */
  public static final String PROFILES = "/api/v1/profiles";

  @Override
  public void register(Router r) {
    r.post(
        PROFILES,
        ADMIN,
        c -> Reply.created(profiles.create(c.strictBody(Profiles.CreateRequest.class), c.actor())));
    r.get(PROFILES, ADMIN, c -> Reply.ok(new Items<>(profiles.list())));
    r.get(PROFILES + "/{name}", ADMIN, c -> Reply.ok(profiles.get(c.path("name"))));
    r.post(
        PROFILES + "/{name}/versions",
        ADMIN,
        c ->
            Reply.created(
                profiles.publish(
                    c.path("name"), c.strictBody(Profiles.PublishRequest.class), c.actor())));
    r.get(
        PROFILES + "/{name}/versions/{version}",
        ADMIN,
        c -> Reply.ok(profiles.version(c.path("name"), number("version", c.path("version")))));
    r.get(
        PROFILES + "/{name}/diff",
        ADMIN,
        c ->
            Reply.ok(
                profiles.diff(
                    c.path("name"),
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
