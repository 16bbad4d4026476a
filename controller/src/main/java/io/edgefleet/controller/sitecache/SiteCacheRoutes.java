package io.edgefleet.controller.sitecache;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;

/**
 * {@code GET /api/v1/devices/{id}/site-cache}: the device's site, the device that is the site's
 * cache and where it serves, or that the device is the cache itself. Shown to whoever sees the
 * device.
 */
public record SiteCacheRoutes(SiteCaches caches) implements Routes {
  @Override
  public void register(Router r) {
    r.get(
        "/api/v1/devices/{id}/site-cache",
        ADMIN,
        c ->
            Reply.ok(
                caches
                    .view(c.path("id"))
                    .orElseThrow(() -> ControllerException.notFound("device", c.path("id")))));
  }
}
