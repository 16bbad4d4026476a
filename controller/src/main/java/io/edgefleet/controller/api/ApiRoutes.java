package io.edgefleet.controller.api;

import static io.edgefleet.controller.api.Router.Access.ADMIN;
import static io.edgefleet.controller.api.Router.Access.OPEN;

import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * The controller's own endpoints: its health, what it is and the API description. The features'
 * endpoints are registered by their own {@link Routes}.
 *
 * @param healthy whether the controller can serve (its database answers)
 * @param openApiJson the OpenAPI document, as JSON
 */
public record ApiRoutes(BooleanSupplier healthy, Supplier<Info> info, byte[] openApiJson)
    implements Routes {

  /** Answer of {@code GET /api/v1/info}. */
  public record Info(
      String version,
      String controllerUrl,
      String caFingerprint,
      int heartbeatSeconds,
      String database) {}

  @Override
  public void register(Router r) {
    r.get(
        "/healthz",
        OPEN,
        c ->
            healthy.getAsBoolean()
                ? Reply.ok(Map.of("status", "ok"))
                : new Reply(503, Map.of("status", "database unavailable")));
    r.get("/api/v1/openapi.json", ADMIN, c -> Reply.ok(new RawJson(openApiJson)));
    r.get("/api/v1/info", ADMIN, c -> Reply.ok(info.get()));
  }
}
