package io.edgefleet.controller.secrets;

import static io.edgefleet.controller.api.Router.Access.ADMIN;
import static io.edgefleet.controller.api.Router.Access.DEVICE;

import io.edgefleet.controller.api.Call;
import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.selector.ProjectScope;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.ErrorCode;
import java.util.List;

/**
 * The secrets' endpoints: operators create, update (a new version), list and delete secrets and
 * rotate the master key; a device fetches a secret sealed to its key.
 */
public record SecretRoutes(Secrets secrets, SecretDelivery delivery) implements Routes {

  /**
   * Secrets are fleet-wide (decision 0036): to a caller confined to projects, one it names does not
   * exist.
   */
  private static String fleetWide(Call c) {
    if (ProjectScope.of(c).confined()) {
      throw ControllerException.notFound("secret", c.path("name"));
    }
    return c.path("name");
  }

  @Override
  public void register(Router r) {
    r.get(
        "/api/v1/secrets",
        ADMIN,
        c -> Reply.ok(new Items<>(ProjectScope.of(c).confined() ? List.of() : secrets.list())));
    r.post(
        "/api/v1/secrets",
        ADMIN,
        c -> {
          if (ProjectScope.of(c).confined()) {
            throw new ControllerException(
                ErrorCode.PERMISSION_DENIED,
                "secrets are fleet-wide and your roles are held within projects: ask an"
                    + " administrator to create the secret");
          }
          return Reply.created(secrets.create(c.body(Secrets.Request.class), c.actor()));
        });
    r.get("/api/v1/secrets/{name}", ADMIN, c -> Reply.ok(secrets.get(fleetWide(c))));
    r.put(
        "/api/v1/secrets/{name}",
        ADMIN,
        c -> Reply.ok(secrets.update(fleetWide(c), c.body(Secrets.Request.class), c.actor())));
    r.delete(
        "/api/v1/secrets/{name}",
        ADMIN,
        c -> {
          secrets.delete(fleetWide(c), c.actor());
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
