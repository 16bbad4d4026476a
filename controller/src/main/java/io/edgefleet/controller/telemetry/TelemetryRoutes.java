package io.edgefleet.controller.telemetry;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.devices.DeviceService;
import io.edgefleet.protocol.Durations;
import io.edgefleet.protocol.ErrorCode;
import java.time.Duration;
import java.util.Optional;

/** The REST routes of device telemetry. */
public record TelemetryRoutes(TelemetryIngest telemetry, DeviceService devices) implements Routes {
  /** Window of {@code GET /api/v1/devices/{id}/metrics} when {@code since} is not given. */
  static final Duration DEFAULT_SINCE = Duration.ofHours(1);

  @Override
  public void register(Router r) {
    r.get(
        "/api/v1/devices/{id}/metrics",
        ADMIN,
        c -> {
          Duration since = since(c.query("since"));
          return Reply.ok(telemetry.metrics(devices.get(c.path("id")).id(), since));
        });
  }

  /** The {@code since} query parameter: a duration from 1 minute up to the retention window. */
  static Duration since(Optional<String> text) {
    if (text.isEmpty()) {
      return DEFAULT_SINCE;
    }
    Duration d;
    try {
      d = Durations.parse(text.get());
    } catch (IllegalArgumentException e) {
      throw new ControllerException(ErrorCode.VALIDATION_FAILED, "since: " + e.getMessage());
    }
    if (d.compareTo(Duration.ofMinutes(1)) < 0 || d.compareTo(TelemetryIngest.RETENTION) > 0) {
      throw new ControllerException(
          ErrorCode.VALIDATION_FAILED,
          "since must be from 1m to "
              + Durations.human(TelemetryIngest.RETENTION)
              + " (metric summaries are kept that long), got "
              + text.get());
    }
    return d;
  }
}
