package io.edgefleet.controller.audit;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;

/** The audit log: who changed what, newest first. */
public record AuditRoutes(AuditLog audit) implements Routes {

  @Override
  public void register(Router r) {
    r.get("/api/v1/audit", ADMIN, c -> Reply.ok(new Items<>(audit.recent(c.limit()))));
  }
}
