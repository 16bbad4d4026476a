package io.edgefleet.controller.events;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;

/** The event log: what happened in the fleet, by device, selector and time. */
public record EventRoutes(EventLog events) implements Routes {

  @Override
  public void register(Router r) {
    r.get(
        "/api/v1/events",
        ADMIN,
        c ->
            Reply.ok(
                events.list(
                    new EventLog.Request(
                        c.query("device"),
                        c.query("selector"),
                        c.query("since"),
                        c.query("after"),
                        c.limit()))));
  }
}
