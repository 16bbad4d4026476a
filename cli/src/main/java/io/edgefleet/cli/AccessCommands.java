package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code edgefleet whoami|users|roles|tokens …}: who may do what. */
final class AccessCommands {
  private AccessCommands() {}

  static final String WHOAMI = "/api/v1/whoami";
  static final String USERS = "/api/v1/users";
  static final String ROLES = "/api/v1/roles";
  static final String TOKENS = "/api/v1/tokens";
  static final String PROJECTS = "/api/v1/projects";

  /** {@code edgefleet whoami}. */
  @Command(
      name = "whoami",
      description = "Show who the API token belongs to, their roles and permissions.")
  static final class Whoami extends TokenCommand {
    @Override
    void run(ControllerClient api) {
      JsonNode me = api.get(WHOAMI);
      print(me, () -> describe(me, now()));
    }

    static String describe(JsonNode me, java.time.Instant now) {
      StringBuilder s = new StringBuilder();
      s.append("name:        ").append(Formats.text(me, "name")).append('\n');
      s.append("kind:        ").append(Formats.text(me, "kind")).append('\n');
      s.append("roles:       ").append(list(me.path("roles"))).append('\n');
      me.path("projects")
          .fields()
          .forEachRemaining(
              p ->
                  s.append("in project:  ")
                      .append(p.getKey())
                      .append(": ")
                      .append(list(p.getValue()))
                      .append('\n'));
      JsonNode token = me.path("token");
      if (token.isObject()) {
        s.append("token:       ").append(Formats.text(token, "name"));
        s.append(" (").append(Formats.text(token, "id")).append(")\n");
        s.append("expires:     ")
            .append(
                token.hasNonNull("expiresAt")
                    ? Formats.timestamp(token, "expiresAt", now)
                    : "never")
            .append('\n');
        if (token.hasNonNull("scopes")) {
          s.append("scopes:      ").append(list(token.path("scopes"))).append('\n');
        }
      } else {
        s.append("token:       the bootstrap admin token (does not expire)\n");
      }
      s.append("permissions: ").append(list(me.path("permissions"))).append('\n');
      return s.toString();
    }
  }

  static String list(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out.isEmpty() ? "-" : String.join(", ", out);
  }

  /** {@code edgefleet users …}. */
  @Command(
      name = "users",
      description = {
        "Create, list and delete users and service accounts, and set their roles.",
        "Roles: viewer (reads), operator (changes the fleet), admin (everything) and custom roles"
            + " (edgefleet roles). Give a user a token with edgefleet tokens create --user."
      },
      subcommands = {UsersList.class, UsersCreate.class, UsersSetRoles.class, UsersDelete.class})
  static final class Users {
    @Option(
        names = {"-h", "--help"},
        usageHelp = true,
        description = "Show this help message and exit.")
    boolean help;
  }

  static String usersTable(JsonNode users) {
    if (users.isEmpty()) {
      return "No users.\n";
    }
    Table t = new Table("name", "kind", "roles", "tokens", "created by");
    for (JsonNode u : users) {
      List<String> roles = new ArrayList<>();
      u.path("roles").forEach(r -> roles.add(r.asText()));
      u.path("projects")
          .fields()
          .forEachRemaining(
              p -> p.getValue().forEach(r -> roles.add(r.asText() + "@" + p.getKey())));
      t.row(
          Formats.text(u, "name"),
          Formats.text(u, "kind"),
          roles.isEmpty() ? "-" : String.join(", ", roles),
          Formats.text(u, "tokens"),
          Formats.text(u, "createdBy"));
    }
    return t.render();
  }

  @Command(name = "list", description = "List users and service accounts.")
  static final class UsersList extends TokenCommand {
    @Option(names = "--service-accounts", description = "Only service accounts.")
    boolean services;

    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(USERS + (services ? "?kind=service" : "")).path("items");
      printItems(items, () -> usersTable(items));
    }
  }

  @Command(name = "create", description = "Create a user, or with --service a service account.")
  static final class UsersCreate extends TokenCommand {
    @Parameters(paramLabel = "NAME", description = "Name: lowercase letters, digits, . _ @ -.")
    String name;

    @Option(
        names = "--role",
        paramLabel = "ROLE",
        description = "A role to give (viewer, operator, admin or a custom one); repeatable.")
    List<String> roles = new ArrayList<>();

    @Option(names = "--service", description = "A service account, for automation.")
    boolean service;

    @Option(names = "--description", paramLabel = "TEXT", description = "What it is for.")
    String description;

    @Override
    void run(ControllerClient api) {
      ObjectNode body = object().put("name", name).put("kind", service ? "service" : "user");
      if (description != null) {
        body.put("description", description);
      }
      ArrayNode r = body.putArray("roles");
      roles.forEach(r::add);
      JsonNode u = api.post(USERS, body);
      print(u, () -> usersTable(Json.array(u)));
      if (!json()) {
        out()
            .println(
                "give it a token: edgefleet tokens create NAME --user " + Formats.text(u, "name"));
      }
    }
  }

  @Command(name = "set-roles", description = "Replace the roles of a user or service account.")
  static final class UsersSetRoles extends TokenCommand {
    @Parameters(paramLabel = "NAME", description = "User or service account.")
    String name;

    @Option(
        names = "--role",
        paramLabel = "ROLE",
        description = "A role to hold; repeatable. Roles not named are taken away (none: all).")
    List<String> roles = new ArrayList<>();

    @Option(
        names = "--project",
        paramLabel = "PROJECT",
        description =
            "Hold the roles within this project only: a user whose roles are all within"
                + " projects sees only their devices.")
    String project;

    @Override
    void run(ControllerClient api) {
      ObjectNode body = object();
      if (project != null) {
        body.put("project", project);
      }
      ArrayNode r = body.putArray("roles");
      roles.forEach(r::add);
      JsonNode u = api.put(USERS + "/" + ControllerClient.segment(name) + "/roles", body);
      print(u, () -> usersTable(Json.array(u)));
    }
  }

  @Command(name = "delete", description = "Delete a user or service account and revoke its tokens.")
  static final class UsersDelete extends TokenCommand implements Confirmation.Destructive {
    @Mixin Confirmation confirmation;

    @Parameters(paramLabel = "NAME", description = "User or service account.")
    String name;

    @Override
    public String question() {
      return "Delete " + name + "? Its tokens stop working.";
    }

    @Override
    void run(ControllerClient api) {
      api.delete(USERS + "/" + ControllerClient.segment(name));
      if (!json()) {
        out().println("deleted " + name);
      }
    }
  }

  /** {@code edgefleet roles …}. */
  @Command(
      name = "roles",
      description = "List the roles and their permissions; create and delete custom roles.",
      subcommands = {RolesList.class, RolesCreate.class, RolesDelete.class})
  static final class Roles {
    @Option(
        names = {"-h", "--help"},
        usageHelp = true,
        description = "Show this help message and exit.")
    boolean help;
  }

  static String rolesTable(JsonNode roles) {
    Table t = new Table("name", "built-in", "users", "permissions");
    for (JsonNode r : roles) {
      t.row(
          Formats.text(r, "name"),
          r.path("builtIn").asBoolean() ? "yes" : "no",
          Formats.text(r, "users"),
          list(r.path("permissions")));
    }
    return t.render();
  }

  @Command(name = "list", description = "List the built-in and custom roles.")
  static final class RolesList extends TokenCommand {
    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(ROLES).path("items");
      printItems(items, () -> rolesTable(items));
    }
  }

  @Command(name = "create", description = "Create a custom role from permissions.")
  static final class RolesCreate extends TokenCommand {
    @Parameters(paramLabel = "NAME", description = "Role name.")
    String name;

    @Option(
        names = "--permission",
        paramLabel = "RESOURCE:VERB",
        required = true,
        description = "A permission such as devices:read or rollouts:write; repeatable.")
    List<String> permissions = new ArrayList<>();

    @Option(names = "--description", paramLabel = "TEXT", description = "What it is for.")
    String description;

    @Override
    void run(ControllerClient api) {
      ObjectNode body = object().put("name", name);
      if (description != null) {
        body.put("description", description);
      }
      ArrayNode p = body.putArray("permissions");
      permissions.forEach(p::add);
      JsonNode r = api.post(ROLES, body);
      print(r, () -> rolesTable(Json.array(r)));
    }
  }

  @Command(name = "delete", description = "Delete a custom role that no user holds.")
  static final class RolesDelete extends TokenCommand {
    @Parameters(paramLabel = "NAME", description = "Role name.")
    String name;

    @Override
    void run(ControllerClient api) {
      api.delete(ROLES + "/" + ControllerClient.segment(name));
      if (!json()) {
        out().println("deleted role " + name);
      }
    }
  }

  /** {@code edgefleet projects …}. */
  @Command(
      name = "projects",
      description = {
        "Create, list and delete projects: a project is a selector over device tags.",
        "Give a user roles within a project with edgefleet users set-roles NAME --role R"
            + " --project P; a user whose roles are all within projects sees only their devices."
      },
      subcommands = {ProjectsList.class, ProjectsCreate.class, ProjectsDelete.class})
  static final class Projects {
    @Option(
        names = {"-h", "--help"},
        usageHelp = true,
        description = "Show this help message and exit.")
    boolean help;
  }

  static String projectsTable(JsonNode projects) {
    if (projects.isEmpty()) {
      return "No projects.\n";
    }
    Table t = new Table("name", "selector", "users", "description");
    for (JsonNode p : projects) {
      t.row(
          Formats.text(p, "name"),
          Formats.text(p, "selector"),
          list(p.path("users")),
          Formats.text(p, "description"));
    }
    return t.render();
  }

  @Command(name = "list", description = "List the projects.")
  static final class ProjectsList extends TokenCommand {
    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(PROJECTS).path("items");
      printItems(items, () -> projectsTable(items));
    }
  }

  @Command(name = "create", description = "Create a project from a selector over device tags.")
  static final class ProjectsCreate extends TokenCommand {
    @Parameters(paramLabel = "NAME", description = "Project name.")
    String name;

    @Option(
        names = "--selector",
        paramLabel = "SELECTOR",
        required = true,
        description = "Its devices, e.g. region=eu,shop in (a,b).")
    String selector;

    @Option(names = "--description", paramLabel = "TEXT", description = "What it is for.")
    String description;

    @Override
    void run(ControllerClient api) {
      ObjectNode body = object().put("name", name).put("selector", selector);
      if (description != null) {
        body.put("description", description);
      }
      JsonNode p = api.post(PROJECTS, body);
      print(p, () -> projectsTable(Json.array(p)));
    }
  }

  @Command(name = "delete", description = "Delete a project nobody holds roles in.")
  static final class ProjectsDelete extends TokenCommand {
    @Parameters(paramLabel = "NAME", description = "Project name.")
    String name;

    @Override
    void run(ControllerClient api) {
      api.delete(PROJECTS + "/" + ControllerClient.segment(name));
      if (!json()) {
        out().println("deleted project " + name);
      }
    }
  }

  /** {@code edgefleet tokens …}. */
  @Command(
      name = "tokens",
      description = {
        "Create, list and revoke API tokens: your own, or (as an administrator) those of other"
            + " users and service accounts.",
        "A token's secret is shown once, when it is created; edgefleet login stores one."
      },
      subcommands = {TokensList.class, TokensCreate.class, TokensRevoke.class})
  static final class TokensGroup {
    @Option(
        names = {"-h", "--help"},
        usageHelp = true,
        description = "Show this help message and exit.")
    boolean help;
  }

  static String tokensTable(JsonNode tokens, java.time.Instant now) {
    if (tokens.isEmpty()) {
      return "No tokens.\n";
    }
    Table t = new Table("id", "name", "user", "expires", "scopes", "last used");
    for (JsonNode k : tokens) {
      t.row(
          Formats.text(k, "id"),
          Formats.text(k, "name"),
          Formats.text(k, "user"),
          k.path("expired").asBoolean()
              ? "expired"
              : k.hasNonNull("expiresAt") ? Formats.relative(k, "expiresAt", now) : "never",
          k.hasNonNull("scopes") ? list(k.path("scopes")) : "all",
          k.hasNonNull("lastUsedAt") ? Formats.relative(k, "lastUsedAt", now) : "never");
    }
    return t.render();
  }

  @Command(name = "list", description = "List API tokens (never their secrets).")
  static final class TokensList extends TokenCommand {
    @Option(names = "--user", paramLabel = "NAME", description = "Another user's tokens.")
    String user;

    @Option(names = "--all", description = "Every user's tokens.")
    boolean all;

    @Override
    void run(ControllerClient api) {
      String path =
          all
              ? TOKENS + "?all=true"
              : user == null ? TOKENS : TOKENS + "?user=" + ControllerClient.segment(user);
      JsonNode items = api.get(path).path("items");
      printItems(items, () -> tokensTable(items, now()));
    }
  }

  @Command(name = "create", description = "Create an API token; its secret is shown this once.")
  static final class TokensCreate extends TokenCommand {
    @Parameters(paramLabel = "NAME", description = "What the token is for, e.g. laptop or ci.")
    String name;

    @Option(
        names = "--user",
        paramLabel = "NAME",
        description = "For this user or service account (needs users:write); default yourself.")
    String user;

    @Option(
        names = "--expires-in",
        paramLabel = "DURATION",
        description = "30m, 12h, 90d (default 90d); never for a service account.")
    String expiresIn;

    @Option(
        names = "--scope",
        paramLabel = "RESOURCE:VERB",
        description = "Limit the token to this permission; repeatable. Default: all of its user's.")
    List<String> scopes;

    @Override
    void run(ControllerClient api) {
      ObjectNode body = object().put("name", name);
      if (user != null) {
        body.put("user", user);
      }
      if (expiresIn != null) {
        body.put("expiresIn", expiresIn);
      }
      if (scopes != null && !scopes.isEmpty()) {
        ArrayNode s = body.putArray("scopes");
        scopes.forEach(s::add);
      }
      JsonNode created = api.post(TOKENS, body);
      print(
          created,
          () ->
              tokensTable(Json.array(created.path("token")), now())
                  + "\nsecret (shown once; store it now): "
                  + Formats.text(created, "secret")
                  + "\nuse it with: edgefleet login --server "
                  + api.server()
                  + " --token <secret>\n");
    }
  }

  @Command(name = "revoke", description = "Revoke an API token by its id.")
  static final class TokensRevoke extends TokenCommand {
    @Parameters(paramLabel = "ID", description = "Token id (edgefleet tokens list).")
    String id;

    @Override
    void run(ControllerClient api) {
      api.delete(TOKENS + "/" + ControllerClient.segment(id));
      if (!json()) {
        out().println("revoked token " + id);
      }
    }
  }

  /** Small JSON helpers. */
  static final class Json {
    private Json() {}

    static ArrayNode array(JsonNode one) {
      return io.edgefleet.protocol.Json.mapper().createArrayNode().add(one);
    }
  }
}
