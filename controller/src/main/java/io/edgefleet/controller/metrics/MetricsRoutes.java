package io.edgefleet.controller.metrics;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.selector.ProjectScope;
import io.edgefleet.protocol.ErrorCode;

/** {@code GET /metrics}: the Prometheus text exposition, behind the admin bearer token. */
public record MetricsRoutes(ControllerMetrics metrics) implements Routes {
  public static final String PATH = "/metrics";

  @Override
  public void register(Router r) {
    r.get(
        PATH,
        ADMIN,
        c -> {
          if (ProjectScope.of(c).confined()) {
            // The exposition counts the whole fleet; a project's devices have their own metrics.
            throw new ControllerException(
                ErrorCode.PERMISSION_DENIED,
                PATH
                    + " counts the whole fleet and your roles are held within projects: read"
                    + " GET /api/v1/fleet/summary and GET /api/v1/devices/{id}/metrics for your"
                    + " projects' devices, or ask an administrator");
          }
          return Reply.raw(ControllerMetrics.CONTENT_TYPE, metrics.scrape());
        });
  }
}
