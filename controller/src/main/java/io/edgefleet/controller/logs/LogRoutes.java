package io.edgefleet.controller.logs;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Call;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.desired.AppStatusService;
import io.edgefleet.controller.devices.DeviceService;
import io.edgefleet.controller.devices.DeviceView;
import io.edgefleet.protocol.ErrorCode;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * {@code GET /api/v1/devices/{id}/logs}: an app's workload logs, read by the device's agent and
 * brought back over the device's own connection.
 */
public record LogRoutes(LogSessions logs, DeviceService devices, AppStatusService appStatus)
    implements Routes {
  /** Lines answered when the request does not say. */
  public static final int DEFAULT_TAIL = 100;

  private static final Pattern APP_NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");

  @Override
  public void register(Router r) {
    r.get("/api/v1/devices/{id}/logs", ADMIN, c -> logs(c, logs, devices, appStatus));
  }

  private static Reply logs(
      Call c, LogSessions logs, DeviceService devices, AppStatusService appStatus) {
    DeviceView device = devices.get(c.path("id"));
    String app = app(c);
    int tail = tail(c);
    boolean follow = follow(c);
    boolean deployed = appStatus.byDevice(device.id()).stream().anyMatch(a -> a.app().equals(app));
    if (!deployed) {
      throw new ControllerException(
          ErrorCode.NOT_FOUND,
          "app '"
              + app
              + "' is not deployed to device "
              + device.id()
              + " (its apps: GET /api/v1/devices/"
              + device.id()
              + "/apps)");
    }
    if (!logs.connected(device.id())) {
      throw new ControllerException(ErrorCode.DEVICE_NOT_CONNECTED, notConnected(device));
    }
    LogSessions.Session session = logs.open(device.id(), app, tail, follow);
    if (!follow) {
      return Reply.ok(session.answer());
    }
    session.awaitStart();
    return Reply.stream("application/x-ndjson", session::stream);
  }

  private static String app(Call c) {
    String app =
        c.query("app")
            .orElseThrow(
                () ->
                    ControllerException.invalid(
                        "app is required: GET /api/v1/devices/ID/logs?app=APP"));
    if (!APP_NAME.matcher(app).matches()) {
      throw ControllerException.invalid(
          "app must be an app name (lower-case letters, digits and '-', at most 63"
              + " characters), got '"
              + app
              + "'");
    }
    return app;
  }

  private static int tail(Call c) {
    String text = c.query("tail").orElse(Integer.toString(DEFAULT_TAIL));
    try {
      int tail = Integer.parseInt(text.trim());
      if (tail >= 1 && tail <= LogSessions.MAX_TAIL) {
        return tail;
      }
    } catch (NumberFormatException e) {
      // Reported below with the allowed range.
    }
    throw ControllerException.invalid(
        "tail must be a whole number from 1 to " + LogSessions.MAX_TAIL + ", got '" + text + "'");
  }

  private static boolean follow(Call c) {
    String text = c.query("follow").orElse("false").trim().toLowerCase(Locale.ROOT);
    return switch (text) {
      case "true" -> true;
      case "false" -> false;
      default ->
          throw ControllerException.invalid("follow must be true or false, got '" + text + "'");
    };
  }

  private static String notConnected(DeviceView device) {
    String seen = device.lastSeen() == null ? "never seen" : "last seen " + device.lastSeen();
    return "device "
        + device.id()
        + " is not connected ("
        + device.status()
        + ": "
        + device.statusReason()
        + "; "
        + seen
        + "); its logs travel over its own connection, so ask again once it is back";
  }
}
