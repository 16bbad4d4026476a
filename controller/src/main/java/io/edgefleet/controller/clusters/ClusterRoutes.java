package io.edgefleet.controller.clusters;

import static io.edgefleet.controller.api.Router.Access.ADMIN;
import static io.edgefleet.controller.api.Router.Access.DEVICE;

import io.edgefleet.controller.api.Call;
import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.selector.ProjectScope;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.DeviceApi;
import java.util.Optional;

/**
 * The clusters' endpoints: operators create, list, read, change, deactivate, delete clusters and
 * rotate their join tokens; a member fetches its cluster's join token sealed to its key.
 */
public record ClusterRoutes(Clusters clusters) implements Routes {

  /** The cluster the path names, if the caller sees it: another project's is as one that is not. */
  private ClusterViews.View cluster(Call c) {
    ClusterViews.View v = clusters.get(c.path("name"));
    return ProjectScope.of(c)
        .check(v, v.project(), ControllerException.notFound("cluster", c.path("name")));
  }

  @Override
  public void register(Router r) {
    r.get(
        "/api/v1/clusters",
        ADMIN,
        c ->
            Reply.ok(
                new Items<>(
                    ProjectScope.of(c).filter(clusters.list(), ClusterViews.Summary::project))));
    r.post(
        "/api/v1/clusters",
        ADMIN,
        c -> {
          Clusters.Request req = c.strictBody(Clusters.Request.class);
          return Reply.created(
              clusters.create(req, c.actor(), ProjectScope.of(c).createIn("cluster")));
        });
    r.get("/api/v1/clusters/{name}", ADMIN, c -> Reply.ok(cluster(c)));
    r.patch(
        "/api/v1/clusters/{name}",
        ADMIN,
        c -> {
          Clusters.Request req = c.strictBody(Clusters.Request.class);
          ClusterViews.View cluster = cluster(c);
          Optional<Selector> within =
              cluster.project() == null
                  ? Optional.empty()
                  : Optional.of(
                      ProjectScope.of(c)
                          .selectorOf(cluster.project())
                          .orElseThrow(
                              () ->
                                  ControllerException.invalid(
                                      "cluster "
                                          + cluster.name()
                                          + " belongs to project '"
                                          + cluster.project()
                                          + "', which no longer exists: it cannot change")));
          return Reply.ok(clusters.update(cluster.name(), req, c.actor(), within));
        });
    r.delete(
        "/api/v1/clusters/{name}",
        ADMIN,
        c -> {
          clusters.delete(cluster(c).name(), c.actor());
          return Reply.noContent();
        });
    r.post(
        "/api/v1/clusters/{name}/deactivate",
        ADMIN,
        c -> Reply.ok(clusters.deactivate(cluster(c).name(), c.actor())));
    r.post(
        "/api/v1/clusters/{name}/rotate-token",
        ADMIN,
        c -> Reply.ok(clusters.rotateToken(cluster(c).name(), c.actor())));
    r.get(
        DeviceApi.CLUSTERS + "{name}/token",
        DEVICE,
        c -> {
          var device = c.admittedDevice();
          long version = c.requiredPositive("version", "the token version the desired state names");
          return Reply.ok(
              clusters.token(device.deviceId(), device.publicKey(), c.path("name"), version));
        });
  }
}
