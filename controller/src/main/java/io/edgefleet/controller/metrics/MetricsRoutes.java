package io.edgefleet.controller.metrics;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;

/** {@code GET /metrics}: the Prometheus text exposition, behind the admin bearer token. */
public record MetricsRoutes(ControllerMetrics metrics) implements Routes {
  public static final String PATH = "/metrics";

  @Override
  public void register(Router r) {
    r.get(PATH, ADMIN, c -> Reply.raw(ControllerMetrics.CONTENT_TYPE, metrics.scrape()));
  }
}
