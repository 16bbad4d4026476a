package io.edgefleet.controller.shell;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Call;
import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Principal;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.ErrorCode;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * Shell policy (grants, requests and approvals) and session recordings. Grants are access policy
 * ({@code users:*}); requests and approvals need {@code tunnels:shell}; recordings are read with
 * {@code audit:read}.
 */
public record ShellRoutes(ShellPolicy policy, Recordings recordings) implements Routes {

  @Override
  public void register(Router r) {
    r.get("/api/v1/shell-grants", ADMIN, c -> Reply.ok(new Items<>(policy.grants())));
    r.post(
        "/api/v1/shell-grants",
        ADMIN,
        c -> Reply.created(policy.grant(c.strictBody(ShellPolicy.GrantRequest.class), c.actor())));
    r.delete(
        "/api/v1/shell-grants/{id}",
        ADMIN,
        c -> {
          policy.revoke(c.path("id"), c.actor());
          return Reply.noContent();
        });

    r.get(
        "/api/v1/shell-requests",
        ADMIN,
        c -> Reply.ok(new Items<>(policy.visibleRequests(state(c), visible(c)))));
    r.post(
        "/api/v1/shell-requests",
        ADMIN,
        c ->
            Reply.created(
                policy.request(
                    principal(c), c.strictBody(ShellPolicy.RequestInput.class), visible(c))));
    r.post(
        "/api/v1/shell-requests/{id}/approve",
        ADMIN,
        c -> Reply.ok(policy.decide(c.path("id"), true, principal(c), visible(c))));
    r.post(
        "/api/v1/shell-requests/{id}/deny",
        ADMIN,
        c -> Reply.ok(policy.decide(c.path("id"), false, principal(c), visible(c))));

    r.get(
        "/api/v1/sessions/{id}/recording",
        ADMIN,
        c -> {
          Recordings.Meta meta = recordings.meta(c.path("id"), visible(c));
          return Reply.stream(
              Recordings.MEDIA_TYPE,
              Map.of(
                  "X-Edgefleet-Recording-Truncated",
                  Boolean.toString(meta.truncated()),
                  "Content-Disposition",
                  "attachment; filename=\"" + meta.sessionId() + ".cast\""),
              out -> {
                try (InputStream in = recordings.open(meta)) {
                  in.transferTo(out);
                }
              });
        });
  }

  private static Optional<String> state(Call c) {
    Optional<String> s = c.query("state");
    if (s.isPresent() && !List.of("pending", "approved", "denied", "expired").contains(s.get())) {
      throw ControllerException.invalid(
          "state must be pending, approved, denied or expired, not '" + s.get() + "'");
    }
    return s;
  }

  static Principal principal(Call c) {
    return c.principal()
        .orElseThrow(
            () ->
                new ControllerException(ErrorCode.UNAUTHENTICATED, "an operator token is needed"));
  }

  /**
   * The devices (by tags) the caller may see: for an operator whose roles are all held within
   * projects, those one of the projects' selectors picks; every device otherwise.
   */
  static Predicate<Map<String, String>> visible(Call c) {
    return c.deviceSelectors()
        .<Predicate<Map<String, String>>>map(
            texts -> {
              List<Selector> selectors =
                  texts.stream().map(t -> Selector.parse("project selector", t)).toList();
              return tags -> selectors.stream().anyMatch(s -> s.matches(tags));
            })
        .orElse(tags -> true);
  }
}
