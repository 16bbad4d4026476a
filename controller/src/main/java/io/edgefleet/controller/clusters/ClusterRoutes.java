package io.edgefleet.controller.clusters;

import static io.edgefleet.controller.api.Router.Access.ADMIN;
import static io.edgefleet.controller.api.Router.Access.DEVICE;

import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.protocol.DeviceApi;

/**
 * The clusters' endpoints: operators create, list, read, change, deactivate, delete clusters and
 * rotate their join tokens; a member fetches its cluster's join token sealed to its key.
 */
public record ClusterRoutes(Clusters clusters) implements Routes {

  @Override
  public void register(Router r) {
    r.get("/api/v1/clusters", ADMIN, c -> Reply.ok(new Items<>(clusters.list())));
    r.post(
        "/api/v1/clusters",
        ADMIN,
        c -> Reply.created(clusters.create(c.strictBody(Clusters.Request.class), c.actor())));
    r.get("/api/v1/clusters/{name}", ADMIN, c -> Reply.ok(clusters.get(c.path("name"))));
    r.patch(
        "/api/v1/clusters/{name}",
        ADMIN,
        c ->
            Reply.ok(
                clusters.update(c.path("name"), c.strictBody(Clusters.Request.class), c.actor())));
    r.delete(
        "/api/v1/clusters/{name}",
        ADMIN,
        c -> {
          clusters.delete(c.path("name"), c.actor());
          return Reply.noContent();
        });
    r.post(
        "/api/v1/clusters/{name}/deactivate",
        ADMIN,
        c -> Reply.ok(clusters.deactivate(c.path("name"), c.actor())));
    r.post(
        "/api/v1/clusters/{name}/rotate-token",
        ADMIN,
        c -> Reply.ok(clusters.rotateToken(c.path("name"), c.actor())));
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
