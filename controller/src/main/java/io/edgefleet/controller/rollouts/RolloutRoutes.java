package io.edgefleet.controller.rollouts;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Call;
import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.selector.ProjectScope;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.ErrorCode;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * The REST routes of deployments and rollouts.
 *
 * @param sourceProject the project a Git source was added in, by source name (rollouts of its apps
 *     belong to it)
 */
public record RolloutRoutes(
    Deployments deployments,
    RolloutEngine rollouts,
    Function<String, Optional<String>> sourceProject)
    implements Routes {
  /**
   * The deployment the path names, if the caller sees it: another project's is as one that is not.
   */
  private Deployments.View deployment(Call c) {
    Deployments.View d = deployments.get(c.path("name"));
    return ProjectScope.of(c)
        .check(
            d,
            d.project(),
            new ControllerException(
                ErrorCode.NOT_FOUND,
                "deployment '"
                    + c.path("name")
                    + "' does not exist; `deployments list` shows the deployments"));
  }

  @Override
  public void register(Router r) {
    r.post(
        "/api/v1/deployments",
        ADMIN,
        c -> {
          Deployments.DeployRequest req = c.body(Deployments.DeployRequest.class);
          var project = ProjectScope.of(c).createIn("deployment");
          return c.flag("dryRun")
              ? Reply.ok(deployments.planDeploy(req, project))
              : Reply.created(deployments.deploy(req, c.actor(), project));
        });
    r.get(
        "/api/v1/deployments",
        ADMIN,
        c ->
            Reply.ok(
                new Items<>(
                    ProjectScope.of(c).filter(deployments.list(), Deployments.View::project))));
    r.get("/api/v1/deployments/{name}", ADMIN, c -> Reply.ok(deployment(c)));
    r.post(
        "/api/v1/deployments/{name}/upgrade",
        ADMIN,
        c -> {
          Deployments.UpgradeRequest req = c.body(Deployments.UpgradeRequest.class);
          Deployments.View d = deployment(c);
          var within =
              d.project() == null
                  ? Optional.<Selector>empty()
                  : ProjectScope.of(c).selectorOf(d.project());
          return Reply.ok(
              c.flag("dryRun")
                  ? deployments.planUpgrade(d.name(), req, within)
                  : deployments.upgrade(d.name(), req, c.actor(), within));
        });
    r.delete(
        "/api/v1/deployments/{name}",
        ADMIN,
        c -> {
          deployments.remove(deployment(c).name(), c.actor());
          return Reply.noContent();
        });

    r.get(
        "/api/v1/rollouts",
        ADMIN,
        c -> {
          ProjectScope scope = ProjectScope.of(c);
          if (!scope.confined() && scope.requested().isEmpty()) {
            return Reply.ok(
                new Items<>(rollouts.list(c.query("app"), state(c.query("state")), c.limit())));
          }
          Map<String, String> byDeployment = deploymentProjects();
          return Reply.ok(
              new Items<>(
                  rollouts.list(c.query("app"), state(c.query("state")), 1000).stream()
                      .filter(
                          s -> scope.lists(project(s.source(), s.app(), byDeployment).orElse(null)))
                      .limit(c.limit())
                      .toList()));
        });
    r.get(
        "/api/v1/rollouts/{id}",
        ADMIN,
        c ->
            Reply.ok(
                rollouts.view(
                    visibleRollout(c),
                    !c.query("devices").map("false"::equalsIgnoreCase).orElse(false))));
    r.post(
        "/api/v1/rollouts/{id}/pause",
        ADMIN,
        c -> Reply.ok(rollouts.pause(visibleRollout(c), c.actor())));
    r.post(
        "/api/v1/rollouts/{id}/resume",
        ADMIN,
        c -> Reply.ok(rollouts.resume(visibleRollout(c), c.actor())));
    r.post(
        "/api/v1/rollouts/{id}/abort",
        ADMIN,
        c -> Reply.ok(rollouts.abort(visibleRollout(c), c.actor())));
    r.post(
        "/api/v1/rollouts/{id}/rollback",
        ADMIN,
        c -> Reply.ok(rollouts.rollback(visibleRollout(c), c.actor())));
  }

  /** The deployments' projects by name, for those created in one. */
  private Map<String, String> deploymentProjects() {
    Map<String, String> out = new HashMap<>();
    deployments
        .list()
        .forEach(
            d -> {
              if (d.project() != null) {
                out.put(d.name(), d.project());
              }
            });
    return out;
  }

  /** The project a rollout belongs to: its deployment's or its Git source's. */
  private Optional<String> project(String source, String app, Map<String, String> byDeployment) {
    return Deployments.SOURCE.equals(source)
        ? Optional.ofNullable(byDeployment.get(app))
        : sourceProject.apply(source);
  }

  /** The rollout the path names, if the caller sees it: another project's is as one that is not. */
  private String visibleRollout(Call c) {
    String id = c.path("id");
    ProjectScope scope = ProjectScope.of(c);
    if (scope.confined()) {
      RolloutEngine.View v = rollouts.view(id, false);
      if (!scope.sees(project(v.source(), v.app(), deploymentProjects()).orElse(null))) {
        throw ControllerException.notFound("rollout", id);
      }
    }
    return id;
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
