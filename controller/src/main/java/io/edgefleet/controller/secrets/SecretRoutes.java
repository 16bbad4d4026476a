package io.edgefleet.controller.secrets;

import static io.edgefleet.controller.api.Router.Access.ADMIN;
import static io.edgefleet.controller.api.Router.Access.DEVICE;

import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.protocol.DeviceApi;

/**
 * The secrets' endpoints: operators create, update (a new version), list and delete secrets and
 * rotate the master key; a device fetches a secret sealed to its key.
 */
public record SecretRoutes(Secrets secrets, SecretDelivery delivery) implements Routes {

  @Override
  public void register(Router r) {
    r.get("/api/v1/secrets", ADMIN, c -> Reply.ok(new Items<>(secrets.list())));
    r.post(
        "/api/v1/secrets",
        ADMIN,
        c -> Reply.created(secrets.create(c.body(Secrets.Request.class), c.actor())));
    r.get("/api/v1/secrets/{name}", ADMIN, c -> Reply.ok(secrets.get(c.path("name"))));
    r.put(
        "/api/v1/secrets/{name}",
        ADMIN,
        c -> Reply.ok(secrets.update(c.path("name"), c.body(Secrets.Request.class), c.actor())));
    r.delete(
        "/api/v1/secrets/{name}",
        ADMIN,
        c -> {
          secrets.delete(c.path("name"), c.actor());
          return Reply.noContent();
        });
    r.post(
        "/api/v1/secrets/master-key/rotate",
        ADMIN,
        c -> Reply.ok(secrets.rotateMasterKey(c.actor())));
    r.get(
        DeviceApi.SECRETS + "{name}",
        DEVICE,
        c -> {
          var device = c.admittedDevice();
          long version = c.requiredPositive("version", "the version the desired state references");
          return Reply.ok(
              delivery.deliver(device.deviceId(), device.publicKey(), c.path("name"), version));
        });
  }
}
