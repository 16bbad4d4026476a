package io.edgefleet.controller.onboarding;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.ApiRoutes;
import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.Bootstrap;
import java.util.function.Supplier;

/**
 * The onboarding endpoints: onboarding tokens, the bootstrap a device is given, preregistrations.
 *
 * @param info where the controller is and how it is recognised, for the bootstrap
 */
public record OnboardingRoutes(
    OnboardingTokens onboarding, Preregistrations preregistrations, Supplier<ApiRoutes.Info> info)
    implements Routes {

  /** Body of {@code POST /api/v1/onboarding-tokens/bootstrap}. */
  public record BootstrapRequest(String token) {}

  @Override
  public void register(Router r) {
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
          ApiRoutes.Info i = info.get();
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
  }
}
