package io.edgefleet.controller.health;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.selector.ProjectScope;
import java.util.Optional;

/** The fleet summary: devices counted by health, grouped by a tag. */
public record FleetRoutes(FleetSummaries fleet) implements Routes {

  @Override
  public void register(Router r) {
    r.get(
        "/api/v1/fleet/summary",
        ADMIN,
        c -> {
          ProjectScope scope = ProjectScope.of(c);
          return Reply.ok(
              fleet.summary(
                  c.query("selector"),
                  c.query("by"),
                  scope.confined() || scope.requested().isPresent()
                      ? Optional.of(scope.devices())
                      : Optional.empty()));
        });
  }
}
