package io.edgefleet.controller.onboarding;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.ApiRoutes;
import io.edgefleet.controller.api.Call;
import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.selector.ProjectScope;
import io.edgefleet.protocol.Bootstrap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
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
        c -> {
          OnboardingTokens.CreateRequest req = c.body(OnboardingTokens.CreateRequest.class);
          withinProjects(c, req.tags());
          return Reply.created(onboarding.create(req, c.actor()));
        });
    r.get(
        "/api/v1/onboarding-tokens",
        ADMIN,
        c -> Reply.ok(new Items<>(seen(c, onboarding.list(), OnboardingTokens.View::tags))));
    r.delete(
        "/api/v1/onboarding-tokens/{id}",
        ADMIN,
        c -> {
          if (ProjectScope.of(c).confined()
              && seen(c, onboarding.list(), OnboardingTokens.View::tags).stream()
                  .noneMatch(t -> t.id().equals(c.path("id")))) {
            throw ControllerException.notFound("onboarding token", c.path("id"));
          }
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
          return Reply.ok(
              Bootstrap.of(i.controllerUrl(), i.caFingerprint(), token.trim())
                  .withMoreUrls(i.controllerUrls()));
        });

    r.post(
        "/api/v1/preregistrations",
        ADMIN,
        c -> {
          Preregistrations.CreateRequest req = c.body(Preregistrations.CreateRequest.class);
          withinProjects(c, req.tags());
          return Reply.created(preregistrations.create(req, c.actor()));
        });
    r.get(
        "/api/v1/preregistrations",
        ADMIN,
        c -> Reply.ok(new Items<>(seen(c, preregistrations.list(), Preregistrations.View::tags))));
    r.delete(
        "/api/v1/preregistrations/{serial}",
        ADMIN,
        c -> {
          if (ProjectScope.of(c).confined()
              && seen(c, preregistrations.list(), Preregistrations.View::tags).stream()
                  .noneMatch(p -> p.serial().equals(c.path("serial")))) {
            throw ControllerException.notFound("pre-registration", c.path("serial"));
          }
          preregistrations.delete(c.path("serial"), c.actor());
          return Reply.noContent();
        });
  }

  /**
   * The tokens or pre-registrations whose devices the caller would see: for a caller confined to
   * projects, those whose tags one of its projects picks.
   */
  private static <T> List<T> seen(Call c, List<T> items, Function<T, Map<String, String>> tags) {
    ProjectScope scope = ProjectScope.of(c);
    if (!scope.confined() && scope.requested().isEmpty()) {
      return items;
    }
    var visible = scope.devices();
    return items.stream()
        .filter(i -> visible.test(tags.apply(i) == null ? Map.of() : tags.apply(i)))
        .toList();
  }

  /**
   * Refuses, for a caller confined to projects, tags that would enroll a device outside them: a
   * project user must not add devices to another project.
   */
  private static void withinProjects(Call c, Map<String, String> tags) {
    ProjectScope scope = ProjectScope.of(c);
    Map<String, String> given = tags == null ? Map.of() : tags;
    if (scope.confined() && !scope.devices().test(given)) {
      throw ControllerException.invalid(
          "a device enrolled with the tags "
              + given
              + " would be outside your projects ("
              + String.join(", ", c.principal().orElseThrow().projects().keySet())
              + "): give tags one of their selectors picks ("
              + String.join("; ", c.principal().orElseThrow().projects().values())
              + ")");
    }
  }
}
