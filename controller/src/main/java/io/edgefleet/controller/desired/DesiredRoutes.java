package io.edgefleet.controller.desired;

import static io.edgefleet.controller.api.Router.Access.ADMIN;
import static io.edgefleet.controller.api.Router.Access.DEVICE;

import io.edgefleet.controller.api.Call;
import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Ranges;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.devices.DeviceService;
import io.edgefleet.controller.selector.ProjectScope;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceApi;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The desired state's endpoints: what devices fetch (their desired state, bundles, the signing
 * key), the signing keys' rotation, and what devices report about their apps.
 *
 * @param held whether a device is held back from newer desired state (quarantined): it is then told
 *     there is nothing newer, and keeps what it runs
 */
public record DesiredRoutes(
    DesiredStateEngine desired,
    BundleStore bundles,
    SigningKeyService signingKeys,
    AppStatusService appStatus,
    DeviceService devices,
    Predicate<String> held)
    implements Routes {

  public DesiredRoutes(
      DesiredStateEngine desired,
      BundleStore bundles,
      SigningKeyService signingKeys,
      AppStatusService appStatus,
      DeviceService devices) {
    this(desired, bundles, signingKeys, appStatus, devices, id -> false);
  }

  @Override
  public void register(Router r) {
    r.get(
        DeviceApi.DESIRED,
        DEVICE,
        c -> {
          long known = c.query("known").map(DesiredRoutes::generation).orElse(0L);
          if (held.test(c.admittedDevice().deviceId())) {
            return Reply.noContent();
          }
          return desired
              .newerThan(c.admittedDevice().deviceId(), known)
              .map(Reply::ok)
              .orElseGet(Reply::noContent);
        });
    r.get(
        DeviceApi.BUNDLES + "{digest}",
        DEVICE,
        c -> {
          String digest = c.path("digest");
          if (!desired.references(c.admittedDevice().deviceId(), digest)) {
            throw ControllerException.notFound("bundle", digest);
          }
          // Immutable: a device resuming a cut download asks for the rest with a range.
          return bundles
              .encoded(digest, c.headers().getOrDefault("accept-encoding", "").contains("gzip"))
              .map(
                  e ->
                      Ranges.answer(
                          c.headers(), "application/yaml", e.encoding(), e.bytes(), e.etag()))
              .orElseThrow(() -> ControllerException.notFound("bundle", digest));
        });
    r.get(
        DeviceApi.SIGNING_KEY,
        DEVICE,
        c -> {
          var key = desired.handOut(c.admittedDevice().deviceId());
          return Reply.ok(Map.of("publicKeyPem", key.publicKeyPem(), "keyId", key.id()));
        });

    r.get("/api/v1/signing-keys", ADMIN, c -> Reply.ok(new Items<>(signingKeys.list())));
    r.post(
        "/api/v1/signing-keys/rotate",
        ADMIN,
        c -> {
          boolean finish =
              c.body().length > 0
                  && Boolean.TRUE.equals(c.body(SigningKeyService.RotateRequest.class).finish());
          var key = signingKeys.rotate(finish, c.actor());
          return finish ? Reply.ok(key) : Reply.created(key);
        });
    r.post(
        "/api/v1/signing-keys/{id}/retire",
        ADMIN,
        c -> {
          boolean force =
              c.body().length > 0
                  && Boolean.TRUE.equals(c.body(SigningKeyService.RetireRequest.class).force());
          return Reply.ok(signingKeys.retire(c.path("id"), force, c.actor()));
        });

    r.get("/api/v1/apps", ADMIN, c -> Reply.ok(new Items<>(appStatus.summary(seen(c)))));
    r.get(
        "/api/v1/apps/{name}/status",
        ADMIN,
        c -> {
          Predicate<String> seen = seen(c);
          var rows = appStatus.byApp(c.path("name")).stream().filter(d -> seen.test(d.deviceId()));
          var shown = rows.toList();
          if (shown.isEmpty() && ProjectScope.of(c).confined()) {
            // An app on no device of the caller's projects is answered as one that does not exist.
            throw ControllerException.notFound("app", c.path("name"));
          }
          return Reply.ok(Map.of("app", c.path("name"), "devices", shown));
        });
    r.get(
        "/api/v1/devices/{id}/apps",
        ADMIN,
        c -> Reply.ok(new Items<>(appStatus.byDevice(devices.get(c.path("id")).id()))));
    r.get(
        "/api/v1/devices/{id}/events",
        ADMIN,
        c -> Reply.ok(new Items<>(appStatus.events(devices.get(c.path("id")).id(), c.limit()))));
  }

  /** The devices (by id) the caller sees: all but for a caller confined to projects. */
  private Predicate<String> seen(Call c) {
    ProjectScope scope = ProjectScope.of(c);
    if (!scope.confined() && scope.requested().isEmpty()) {
      return id -> true;
    }
    Predicate<Map<String, String>> visible = scope.devices();
    Map<String, Map<String, String>> tags = devices.tags();
    return id -> tags.containsKey(id) && visible.test(tags.get(id));
  }

  /**
   * The {@code known} query parameter: a whole number, 0 or more. Its upper bound ({@link
   * DesiredState#MAX_GENERATION}) is the engine's to check: it answers with its own stable code.
   */
  private static long generation(String s) {
    try {
      long g = Long.parseLong(s);
      if (g < 0) {
        throw new NumberFormatException();
      }
      return g;
    } catch (NumberFormatException e) {
      throw ControllerException.invalid(
          "known must be a generation number (0 to " + DesiredState.MAX_GENERATION + "), got " + s);
    }
  }
}
