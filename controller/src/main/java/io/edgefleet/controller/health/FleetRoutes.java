package io.edgefleet.controller.health;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;

/** The fleet summary: devices counted by health, grouped by a tag. */
public record FleetRoutes(FleetSummaries fleet) implements Routes {

  @Override
  public void register(Router r) {
    r.get(
        "/api/v1/fleet/summary",
        ADMIN,
        c -> Reply.ok(fleet.summary(c.query("selector"), c.query("by"))));
  }
}
