package io.edgefleet.controller.api;

import static io.edgefleet.controller.api.Router.Access.ADMIN;
import static io.edgefleet.controller.api.Router.Access.DEVICE;
import static io.edgefleet.controller.api.Router.Access.OPEN;

import io.edgefleet.controller.alerts.AlertRoutes;
import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.catalog.Catalog;
import io.edgefleet.controller.catalog.CatalogRoutes;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.desired.AppStatusService;
import io.edgefleet.controller.desired.BundleStore;
import io.edgefleet.controller.desired.DesiredStateEngine;
import io.edgefleet.controller.desired.SigningKeyService;
import io.edgefleet.controller.devices.DeviceService;
import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.enrollment.EnrollmentService;
import io.edgefleet.controller.events.EventLog;
import io.edgefleet.controller.gitops.AddSource;
import io.edgefleet.controller.gitops.GitOps;
import io.edgefleet.controller.health.FleetSummaries;
import io.edgefleet.controller.logs.LogRoutes;
import io.edgefleet.controller.logs.LogSessions;
import io.edgefleet.controller.metrics.ControllerMetrics;
import io.edgefleet.controller.metrics.MetricsRoutes;
import io.edgefleet.controller.onboarding.OnboardingTokens;
import io.edgefleet.controller.onboarding.Preregistrations;
import io.edgefleet.controller.rollouts.Deployments;
import io.edgefleet.controller.rollouts.RolloutEngine;
import io.edgefleet.controller.rollouts.RolloutRoutes;
import io.edgefleet.controller.store.Database;
import io.edgefleet.controller.telemetry.TelemetryIngest;
import io.edgefleet.controller.telemetry.TelemetryRoutes;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.EnrollmentRequest;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.RenewalRequest;
import io.edgefleet.protocol.RenewalResponse;
import io.edgefleet.protocol.tls.Pem;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/** The route table of the controller: every endpoint the OpenAPI document describes. */
public final class ApiRoutes {
  private ApiRoutes() {}

  /** Body of {@code POST /api/v1/onboarding-tokens/bootstrap}. */
  public record BootstrapRequest(String token) {}

  /** Answer of {@code GET /api/v1/info}. */
  public record Info(
      String version,
      String controllerUrl,
      String caFingerprint,
      int heartbeatSeconds,
      String database) {}

  public record Items<T>(List<T> items) {}

  public static Router build(
      Supplier<Info> info,
      Supplier<String> caPem,
      Database database,
      OnboardingTokens onboarding,
      Preregistrations preregistrations,
      DeviceService devices,
      EnrollmentService enrollment,
      GitOps gitops,
      DesiredStateEngine desired,
      BundleStore bundles,
      AppStatusService appStatus,
      Catalog catalog,
      Deployments deployments,
      RolloutEngine rollouts,
      FleetSummaries fleet,
      EventLog events,
      TelemetryIngest telemetry,
      AlertRoutes.Services alerts,
      ControllerMetrics metrics,
      LogSessions logs,
      SigningKeyService signingKeys,
      AuditLog audit,
      byte[] openApiJson) {
    Router r = new Router();
    r.get(
        "/healthz",
        OPEN,
        c ->
            database.healthy()
                ? Reply.ok(Map.of("status", "ok"))
                : new Reply(503, Map.of("status", "database unavailable")));
    r.post(
        DeviceApi.ENROLLMENTS,
        OPEN,
        c -> Reply.ok(enrollment.enroll(c.body(EnrollmentRequest.class), c.remoteAddress())));

    r.post(
        DeviceApi.RENEWALS,
        DEVICE,
        c -> {
          var cert =
              devices.renew(
                  c.admittedDevice().deviceId(),
                  c.admittedDevice().certificateSerial(),
                  c.body(RenewalRequest.class).csrPem());
          return Reply.ok(new RenewalResponse(Pem.certificate(cert), caPem.get()));
        });

    r.get(
        DeviceApi.DESIRED,
        DEVICE,
        c -> {
          long known = c.query("known").map(ApiRoutes::generation).orElse(0L);
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

    r.post(
        "/api/v1/repos", ADMIN, c -> Reply.created(gitops.add(c.body(AddSource.class), c.actor())));
    r.get("/api/v1/repos", ADMIN, c -> Reply.ok(new Items<>(gitops.list())));
    r.get("/api/v1/repos/{name}", ADMIN, c -> Reply.ok(gitops.get(c.path("name"))));
    r.delete(
        "/api/v1/repos/{name}",
        ADMIN,
        c -> {
          gitops.remove(c.path("name"), c.actor());
          return Reply.noContent();
        });
    r.post(
        "/api/v1/repos/{name}/sync",
        ADMIN,
        c -> {
          boolean changed = gitops.pollNow(c.path("name"));
          return Reply.ok(Map.of("changed", changed, "source", gitops.get(c.path("name"))));
        });
    r.get(
        "/api/v1/repos/{name}/history",
        ADMIN,
        c -> Reply.ok(new Items<>(gitops.history(c.path("name"), limit(c.query("limit"))))));
    r.get(
        "/api/v1/repos/{name}/commits/{sha}",
        ADMIN,
        c -> Reply.ok(gitops.commit(c.path("name"), c.path("sha"))));
    // Authenticated by the source's shared secret (HMAC or token header), not by a bearer token.
    r.post(
        GitOps.WEBHOOK_PATH + "{name}",
        OPEN,
        c -> Reply.ok(gitops.webhook(c.path("name"), c.headers(), c.body())));

    r.get("/api/v1/apps", ADMIN, c -> Reply.ok(new Items<>(appStatus.summary())));
    r.get(
        "/api/v1/apps/{name}/status",
        ADMIN,
        c -> Reply.ok(Map.of("app", c.path("name"), "devices", appStatus.byApp(c.path("name")))));
    r.get(
        "/api/v1/devices/{id}/apps",
        ADMIN,
        c -> Reply.ok(new Items<>(appStatus.byDevice(devices.get(c.path("id")).id()))));
    r.get(
        "/api/v1/devices/{id}/events",
        ADMIN,
        c ->
            Reply.ok(
                new Items<>(
                    appStatus.events(devices.get(c.path("id")).id(), limit(c.query("limit"))))));
    CatalogRoutes.register(r, catalog, devices);
    RolloutRoutes.register(r, deployments, rollouts);
    TelemetryRoutes.register(r, telemetry, devices);
    AlertRoutes.register(r, alerts);
    MetricsRoutes.register(r, metrics);
    LogRoutes.register(r, logs, devices, appStatus);

    r.get("/api/v1/openapi.json", ADMIN, c -> Reply.ok(new RawJson(openApiJson)));
    r.get("/api/v1/info", ADMIN, c -> Reply.ok(info.get()));

    r.post(
        "/api/v1/onboarding-tokens",
        ADMIN,
        c ->
            Reply.created(
                onboarding.create(c.body(OnboardingTokens.CreateRequest.class), c.actor())));
    r.get("/api/v1/onboarding-tokens", ADMIN, c -> Reply.ok(new Items<>(onboarding.list())));
    r.delete(
        "/api/v1/onboarding-tokens/{id}",
        ADMIN,
        c -> {
          onboarding.revoke(c.path("id"), c.actor());
          return Reply.noContent();
        });
    r.post(
        "/api/v1/onboarding-tokens/bootstrap",
        ADMIN,
        c -> {
          String token = c.body(BootstrapRequest.class).token();
          if (token == null || token.isBlank()) {
            throw ControllerException.invalid("token is required");
          }
          onboarding.checkUsable(token);
          Info i = info.get();
          return Reply.ok(Bootstrap.of(i.controllerUrl(), i.caFingerprint(), token.trim()));
        });

    r.post(
        "/api/v1/preregistrations",
        ADMIN,
        c ->
            Reply.created(
                preregistrations.create(c.body(Preregistrations.CreateRequest.class), c.actor())));
    r.get("/api/v1/preregistrations", ADMIN, c -> Reply.ok(new Items<>(preregistrations.list())));
    r.delete(
        "/api/v1/preregistrations/{serial}",
        ADMIN,
        c -> {
          preregistrations.delete(c.path("serial"), c.actor());
          return Reply.noContent();
        });

    r.get(
        "/api/v1/devices",
        ADMIN,
        c -> Reply.ok(new Items<>(devices.list(c.query("status").map(ApiRoutes::status)))));
    r.get("/api/v1/devices/{id}", ADMIN, c -> Reply.ok(devices.get(c.path("id"))));
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
    r.get(
        "/api/v1/fleet/summary",
        ADMIN,
        c -> Reply.ok(fleet.summary(c.query("selector"), c.query("by"))));
    r.get(
        "/api/v1/events",
        ADMIN,
        c ->
            Reply.ok(
                events.list(
                    new EventLog.Request(
                        c.query("device"),
                        c.query("selector"),
                        c.query("since"),
                        c.query("after"),
                        limit(c.query("limit"))))));
    r.get(
        "/api/v1/audit", ADMIN, c -> Reply.ok(new Items<>(audit.recent(limit(c.query("limit"))))));
    return r;
  }

  /**
   * The {@code known} query parameter: a whole number, 0 or more. Its upper bound ({@link
   * io.edgefleet.protocol.DesiredState#MAX_GENERATION}) is the engine's to check: it answers with
   * its own stable code.
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
          "known must be a generation number (0 to "
              + io.edgefleet.protocol.DesiredState.MAX_GENERATION
              + "), got "
              + s);
    }
  }

  private static DeviceStatus status(String s) {
    try {
      return DeviceStatus.valueOf(s.toUpperCase(java.util.Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw ControllerException.invalid(
          "status must be one of " + Arrays.toString(DeviceStatus.values()) + ", got " + s);
    }
  }

  /** The {@code limit} query parameter: 1 to 1000, default 100. */
  public static int limit(Optional<String> s) {
    try {
      int n = s.map(Integer::parseInt).orElse(100);
      if (n < 1 || n > 1000) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw new ControllerException(ErrorCode.VALIDATION_FAILED, "limit must be 1 to 1000");
    }
  }
}
