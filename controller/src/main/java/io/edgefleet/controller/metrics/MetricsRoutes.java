package io.edgefleet.controller.metrics;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;

/** {@code GET /metrics}: the Prometheus text exposition, behind the admin bearer token. */
public final class MetricsRoutes {
  public static final String PATH = "/metrics";

  private MetricsRoutes() {}

  public static void register(Router r, ControllerMetrics metrics) {
    r.get(PATH, ADMIN, c -> Reply.raw(ControllerMetrics.CONTENT_TYPE, metrics.scrape()));
  }
}
