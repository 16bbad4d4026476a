package io.edgefleet.controller.access;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Call;
import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.selector.ProjectScope;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Users, service accounts, roles and API tokens. Every route is an operator route: what it needs is
 * derived from its path like every other's ({@code users:*} for users and roles; tokens and whoami
 * are the caller's own account, and acting on another's tokens needs {@code users:*}).
 */
public record AccessRoutes(AccessControl access) implements Routes {

  @Override
  public void register(Router r) {
    r.get("/api/v1/whoami", ADMIN, c -> Reply.ok(access.whoami(caller(c))));

    r.get(
        "/api/v1/users",
        ADMIN,
        c -> Reply.ok(new Items<>(seenUsers(c, access.users(c.query("kind"))))));
    r.post(
        "/api/v1/users",
        ADMIN,
        c ->
            Reply.created(
                access.createUser(
                    c.body(AccessControl.UserRequest.class), AccessControl.Kind.USER, c.actor())));
    r.get(
        "/api/v1/users/{name}",
        ADMIN,
        c -> {
          AccessControl.UserView u = access.user(c.path("name"));
          if (seenUsers(c, List.of(u)).isEmpty()) {
            throw ControllerException.notFound("user", c.path("name"));
          }
          return Reply.ok(u);
        });
    r.delete(
        "/api/v1/users/{name}",
        ADMIN,
        c -> {
          access.deleteUser(c.path("name"), c.actor());
          return Reply.noContent();
        });
    r.put(
        "/api/v1/users/{name}/roles",
        ADMIN,
        c ->
            Reply.ok(
                access.setRoles(
                    c.path("name"), c.body(AccessControl.RolesRequest.class), c.actor())));
    r.get(
        "/api/v1/service-accounts",
        ADMIN,
        c -> Reply.ok(new Items<>(seenUsers(c, access.users(Optional.of("service"))))));
    r.post(
        "/api/v1/service-accounts",
        ADMIN,
        c ->
            Reply.created(
                access.createUser(
                    c.body(AccessControl.UserRequest.class),
                    AccessControl.Kind.SERVICE,
                    c.actor())));

    r.get("/api/v1/roles", ADMIN, c -> Reply.ok(new Items<>(access.roles())));
    r.post(
        "/api/v1/roles",
        ADMIN,
        c -> Reply.created(access.createRole(c.body(AccessControl.RoleRequest.class), c.actor())));
    r.delete(
        "/api/v1/roles/{name}",
        ADMIN,
        c -> {
          access.deleteRole(c.path("name"), c.actor());
          return Reply.noContent();
        });

    r.get(
        "/api/v1/projects",
        ADMIN,
        c ->
            Reply.ok(
                new Items<>(
                    ProjectScope.of(c)
                        .filter(access.projects(), AccessControl.ProjectView::name))));
    r.post(
        "/api/v1/projects",
        ADMIN,
        c ->
            Reply.created(
                access.createProject(c.body(AccessControl.ProjectRequest.class), c.actor())));
    r.get(
        "/api/v1/projects/{name}",
        ADMIN,
        c -> {
          if (!ProjectScope.of(c).sees(c.path("name"))) {
            throw ControllerException.notFound("project", c.path("name"));
          }
          return Reply.ok(access.project(c.path("name")));
        });
    r.delete(
        "/api/v1/projects/{name}",
        ADMIN,
        c -> {
          access.deleteProject(c.path("name"), c.actor());
          return Reply.noContent();
        });

    r.get(
        "/api/v1/tokens",
        ADMIN,
        c ->
            Reply.ok(
                new Items<>(
                    c.flag("all")
                        ? access.allTokens(caller(c))
                        : access.tokens(caller(c), c.query("user")))));
    r.post(
        "/api/v1/tokens",
        ADMIN,
        c ->
            Reply.created(access.createToken(caller(c), c.body(AccessControl.TokenRequest.class))));
    r.delete(
        "/api/v1/tokens/{id}",
        ADMIN,
        c -> {
          access.revokeToken(caller(c), c.path("id"));
          return Reply.noContent();
        });
  }

  /**
   * The users a caller confined to projects sees: those holding a role in one of its projects (and
   * itself); every user for a caller over the whole fleet.
   */
  private static List<AccessControl.UserView> seenUsers(
      Call c, List<AccessControl.UserView> users) {
    ProjectScope scope = ProjectScope.of(c);
    if (!scope.confined()) {
      return users;
    }
    String me = c.principal().map(p -> p.name()).orElse("");
    return users.stream()
        .filter(u -> u.name().equals(me) || u.projects().keySet().stream().anyMatch(scope::sees))
        .map(
            u -> {
              // Only the caller's projects: another project's name is not for it to see.
              Map<String, List<String>> shown = new TreeMap<>();
              u.projects()
                  .forEach(
                      (p, roles) -> {
                        if (scope.sees(p)) {
                          shown.put(p, roles);
                        }
                      });
              return new AccessControl.UserView(
                  u.id(),
                  u.name(),
                  u.kind(),
                  u.description(),
                  u.roles(),
                  shown,
                  u.permissions(),
                  u.tokens(),
                  u.createdAt(),
                  u.createdBy());
            })
        .toList();
  }

  /** The caller, through the token the request was authenticated with (held in memory). */
  private AccessControl.Caller caller(Call c) {
    String header = c.headers().getOrDefault("authorization", "");
    return access.caller(header.length() > 7 ? header.substring(7) : "");
  }
}
