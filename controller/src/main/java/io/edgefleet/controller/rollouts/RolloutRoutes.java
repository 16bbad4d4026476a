package io.edgefleet.controller.rollouts;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** The REST routes of deployments and rollouts. */
public record RolloutRoutes(Deployments deployments, RolloutEngine rollouts) implements Routes {
  @Override
  public void register(Router r) {
    r.post(
        "/api/v1/deployments",
        ADMIN,
        c -> {
          Deployments.DeployRequest req = c.body(Deployments.DeployRequest.class);
          return c.flag("dryRun")
              ? Reply.ok(deployments.planDeploy(req))
              : Reply.created(deployments.deploy(req, c.actor()));
        });
    r.get("/api/v1/deployments", ADMIN, c -> Reply.ok(new Items<>(deployments.list())));
    r.get("/api/v1/deployments/{name}", ADMIN, c -> Reply.ok(deployments.get(c.path("name"))));
    r.post(
        "/api/v1/deployments/{name}/upgrade",
        ADMIN,
        c -> {
          Deployments.UpgradeRequest req = c.body(Deployments.UpgradeRequest.class);
          return Reply.ok(
              c.flag("dryRun")
                  ? deployments.planUpgrade(c.path("name"), req)
                  : deployments.upgrade(c.path("name"), req, c.actor()));
        });
    r.delete(
        "/api/v1/deployments/{name}",
        ADMIN,
        c -> {
          deployments.remove(c.path("name"), c.actor());
          return Reply.noContent();
        });

    r.get(
        "/api/v1/rollouts",
        ADMIN,
        c ->
            Reply.ok(
                new Items<>(rollouts.list(c.query("app"), state(c.query("state")), c.limit()))));
    r.get(
        "/api/v1/rollouts/{id}",
        ADMIN,
        c ->
            Reply.ok(
                rollouts.view(
                    c.path("id"),
                    !c.query("devices").map("false"::equalsIgnoreCase).orElse(false))));
    r.post(
        "/api/v1/rollouts/{id}/pause",
        ADMIN,
        c -> Reply.ok(rollouts.pause(c.path("id"), c.actor())));
    r.post(
        "/api/v1/rollouts/{id}/resume",
        ADMIN,
        c -> Reply.ok(rollouts.resume(c.path("id"), c.actor())));
    r.post(
        "/api/v1/rollouts/{id}/abort",
        ADMIN,
        c -> Reply.ok(rollouts.abort(c.path("id"), c.actor())));
    r.post(
        "/api/v1/rollouts/{id}/rollback",
        ADMIN,
        c -> Reply.ok(rollouts.rollback(c.path("id"), c.actor())));
  }

  private static Optional<RolloutEngine.State> state(Optional<String> s) {
    try {
      return s.map(v -> RolloutEngine.State.valueOf(v.toUpperCase(Locale.ROOT)));
    } catch (IllegalArgumentException e) {
      throw ControllerException.invalid(
          "state must be one of " + List.of(RolloutEngine.State.values()));
    }
  }
}
