package io.edgefleet.controller.events;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.selector.ProjectScope;
import java.util.Optional;

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
                        c.limit(),
                        visible(ProjectScope.of(c))))));
  }

  /** For a caller confined to projects or asking for one, the devices whose events it sees. */
  static Optional<java.util.function.Predicate<java.util.Map<String, String>>> visible(
      ProjectScope scope) {
    return scope.confined() || scope.requested().isPresent()
        ? Optional.of(scope.devices())
        : Optional.empty();
  }
}
