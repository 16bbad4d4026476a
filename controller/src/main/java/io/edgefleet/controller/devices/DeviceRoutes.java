package io.edgefleet.controller.devices;

import static io.edgefleet.controller.api.Router.Access.ADMIN;
import static io.edgefleet.controller.api.Router.Access.DEVICE;

import io.edgefleet.controller.api.Call;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.selector.ProjectScope;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.RenewalRequest;
import io.edgefleet.protocol.RenewalResponse;
import io.edgefleet.protocol.tls.Pem;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * The device inventory's endpoints: listing and approving devices, their tags, and certificate
 * renewal by the devices themselves.
 *
 * @param caPem the CA certificate handed out with a renewed certificate
 */
public record DeviceRoutes(DeviceService devices, Supplier<String> caPem) implements Routes {

  @Override
  public void register(Router r) {
    r.post(
        DeviceApi.RENEWALS,
        DEVICE,
        c -> {
          RenewalRequest req = c.body(RenewalRequest.class);
          if (req == null) {
            throw ControllerException.invalid("the renewal request body is empty");
          }
          var cert =
              devices.renew(
                  c.admittedDevice().deviceId(),
                  c.admittedDevice().certificateSerial(),
                  req.csrPem(),
                  req.tpmKey());
          return Reply.ok(new RenewalResponse(Pem.certificate(cert), caPem.get()));
        });
    r.get(
        "/api/v1/devices",
        ADMIN,
        c ->
            Reply.ok(
                devices.list(
                    new DeviceService.Listing(
                        Selector.parse("selector", c.query("selector").orElse("")),
                        c.query("status").map(DeviceRoutes::statuses).orElse(Set.of()),
                        c.query("limit").map(l -> c.limit()),
                        c.query("after"),
                        c.query("sort").map(DeviceOrder::parse).orElse(DeviceOrder.CREATED),
                        c.query("offset").map(DeviceRoutes::offset).orElse(0),
                        c.flag("count"),
                        visible(c)))));
    r.get(
        "/api/v1/devices/{id}",
        ADMIN,
        c -> {
          DeviceView device = devices.get(c.path("id"));
          if (!visible(c).test(device.tags())) {
            // As for a device that does not exist: another project's devices are not revealed.
            throw ControllerException.notFound("device", c.path("id"));
          }
          return Reply.ok(device);
        });
    r.patch(
        "/api/v1/devices/{id}",
        ADMIN,
        c ->
            Reply.ok(
                devices.rename(c.path("id"), c.body(DeviceService.NameChange.class), c.actor())));
    r.post(
        "/api/v1/devices/{id}/approve",
        ADMIN,
        c -> Reply.ok(devices.approve(c.path("id"), c.actor())));
    r.post(
        "/api/v1/devices/{id}/reject",
        ADMIN,
        c -> Reply.ok(devices.reject(c.path("id"), c.actor())));
    r.post(
        "/api/v1/devices/{id}/decommission",
        ADMIN,
        c -> Reply.ok(devices.decommission(c.path("id"), c.actor())));
    r.patch(
        "/api/v1/devices/{id}/tags",
        ADMIN,
        c ->
            Reply.ok(
                devices.changeTags(
                    c.path("id"), c.body(DeviceService.TagChange.class), c.actor())));
  }

  private static int offset(String text) {
    try {
      int n = Integer.parseInt(text.strip());
      if (n >= 0 && n <= DeviceService.Listing.MAX_OFFSET) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw ControllerException.invalid(
        "offset must be a whole number from 0 to "
            + DeviceService.Listing.MAX_OFFSET
            + "; got '"
            + text
            + "'");
  }

  /** A comma-separated list of statuses, e.g. {@code ONLINE,DEGRADED}. */
  private static Set<DeviceStatus> statuses(String list) {
    Set<DeviceStatus> out = EnumSet.noneOf(DeviceStatus.class);
    for (String s : list.split(",")) {
      try {
        out.add(DeviceStatus.valueOf(s.strip().toUpperCase(Locale.ROOT)));
      } catch (IllegalArgumentException e) {
        throw ControllerException.invalid(
            "status must be one or more of "
                + Arrays.toString(DeviceStatus.values())
                + ", separated by commas; got '"
                + s.strip()
                + "'");
      }
    }
    return out;
  }

  /**
   * The devices (by tags) the caller may see: for an operator whose roles are all held within
   * projects, those one of the projects' selectors picks; every device otherwise; narrowed to the
   * project {@code ?project=} names, if any.
   */
  static Predicate<java.util.Map<String, String>> visible(Call c) {
    return ProjectScope.of(c).devices();
  }
}
