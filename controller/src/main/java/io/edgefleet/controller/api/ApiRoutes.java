package io.edgefleet.controller.api;

import static io.edgefleet.controller.api.Router.Access.ADMIN;
import static io.edgefleet.controller.api.Router.Access.OPEN;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * The controller's own endpoints: its health, what it is and the API description. The features'
 * endpoints are registered by their own {@link Routes}.
 *
 * @param healthy whether the controller can serve (its database answers)
 * @param openApiJson the OpenAPI document, as JSON; it is served with the controller's advertised
 *     URL as its server
 */
public record ApiRoutes(BooleanSupplier healthy, Supplier<Info> info, byte[] openApiJson)
    implements Routes {

  /** Answer of {@code GET /api/v1/info}. */
  /**
   * @param controllerUrls other URLs devices may use for the controller (its replicas); empty when
   *     there are none
   */
  public record Info(
      String version,
      String controllerUrl,
      String caFingerprint,
      int heartbeatSeconds,
      String database,
      List<String> controllerUrls) {}

  @Override
  public void register(Router r) {
    r.get(
        "/healthz",
        OPEN,
        c ->
            healthy.getAsBoolean()
                ? Reply.ok(Map.of("status", "ok"))
                : new Reply(503, Map.of("status", "database unavailable")));
    r.get(
        "/api/v1/openapi.json",
        ADMIN,
        c -> Reply.ok(servedBy(openApiJson, info.get().controllerUrl())));
    r.get("/api/v1/info", ADMIN, c -> Reply.ok(info.get()));
  }

  /**
   * The document with {@code controllerUrl} as its first server, before the relative {@code /} of
   * the packaged document, so clients generated from the served copy call this controller.
   */
  static ObjectNode servedBy(byte[] openApiJson, String controllerUrl) {
    try {
      ObjectNode doc = (ObjectNode) Json.mapper().readTree(openApiJson);
      ArrayNode servers = Json.mapper().createArrayNode();
      servers
          .addObject()
          .put("url", controllerUrl)
          .put("description", "This controller, at its advertised URL");
      doc.path("servers")
          .forEach(
              s -> {
                if (!s.path("url").asText().equals(controllerUrl)) {
                  servers.add(s);
                }
              });
      doc.set("servers", servers);
      return doc;
    } catch (IOException e) {
      throw new UncheckedIOException("the OpenAPI document is not JSON", e);
    }
  }
}
