package io.edgefleet.controller.alerts;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;

/** The REST routes of alerts, alert rules and receivers. */
public record AlertRoutes(Services alerts) implements Routes {
  /** The services behind the routes. */
  public record Services(AlertRules rules, AlertReceivers receivers, AlertEngine engine) {}

  @Override
  public void register(Router r) {
    r.get(
        "/api/v1/alerts",
        ADMIN,
        c -> Reply.ok(new Items<>(alerts.engine().list(c.query("state"), c.limit()))));

    r.get("/api/v1/alerts/rules", ADMIN, c -> Reply.ok(new Items<>(alerts.rules().list())));
    r.post(
        "/api/v1/alerts/rules",
        ADMIN,
        c -> Reply.created(alerts.rules().create(c.body(JsonNode.class), c.actor())));
    r.get("/api/v1/alerts/rules/{id}", ADMIN, c -> Reply.ok(alerts.rules().get(c.path("id"))));
    r.delete(
        "/api/v1/alerts/rules/{id}",
        ADMIN,
        c -> {
          alerts.rules().delete(c.path("id"), c.actor());
          return Reply.noContent();
        });

    r.get("/api/v1/alerts/receivers", ADMIN, c -> Reply.ok(new Items<>(alerts.receivers().list())));
    r.post(
        "/api/v1/alerts/receivers",
        ADMIN,
        c -> Reply.created(alerts.receivers().create(c.body(JsonNode.class), c.actor())));
    r.get(
        "/api/v1/alerts/receivers/{id}",
        ADMIN,
        c -> Reply.ok(alerts.receivers().get(c.path("id"))));
    r.delete(
        "/api/v1/alerts/receivers/{id}",
        ADMIN,
        c -> {
          alerts.receivers().delete(c.path("id"), c.actor());
          return Reply.noContent();
        });
  }
}
