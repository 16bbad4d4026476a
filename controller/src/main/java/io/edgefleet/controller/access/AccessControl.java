package io.edgefleet.controller.access;

import io.edgefleet.controller.access.Roles.Role;
import io.edgefleet.controller.api.AdminTokens;
import io.edgefleet.controller.api.Authenticator;
import io.edgefleet.controller.api.Permissions;
import io.edgefleet.controller.api.Principal;
import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.common.Ids;
import io.edgefleet.controller.common.Tokens;
import io.edgefleet.controller.selector.ProjectScope;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.protocol.ErrorCode;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * Users, service accounts, roles and API tokens, and the check of every operator's bearer token.
 * Thread-safe.
 *
 * <p>Everything a token check needs is held in memory as one snapshot of the four tables: a check
 * costs a hash and map lookups. The snapshot is read again after each change made here, and at most
 * once per {@link #RELOAD_INTERVAL} when it is older than that (another controller replica sharing
 * the database may have changed it) or when an unknown token arrives, so a client sending wrong
 * tokens never costs a database query each.
 *
 * <p>The tokens of the older {@code admin_tokens} table (the first one created at the first start)
 * keep working: they act as the user {@code admin}.
 */
public final class AccessControl implements Authenticator {
  static final Duration RELOAD_INTERVAL = Duration.ofSeconds(5);

  /** How long a token lives unless asked otherwise. */
  static final Duration DEFAULT_LIFETIME = Duration.ofDays(90);

  /** The longest lifetime a token can be given, short of none for a service account. */
  static final Duration MAX_LIFETIME = Duration.ofDays(3650);

  /** The last use of a token is written at most this often. */
  static final Duration LAST_USED_RESOLUTION = Duration.ofMinutes(1);

  /** How many tokens one user or service account may hold. */
  static final int MAX_TOKENS_PER_USER = 50;

  /** The user the tokens of {@code admin_tokens} act as. */
  static final String BOOTSTRAP_ADMIN = "admin";

  private final Jdbi jdbi;
  private final Clock clock;
  private final AuditLog audit;
  private final AdminTokens bootstrap;
  private final java.util.function.Function<String, Optional<Map<String, String>>> deviceTags;
  private final AtomicReference<Snapshot> snapshot = new AtomicReference<>();
  private final AtomicLong lastReload = new AtomicLong();
  private final AtomicLong reloads = new AtomicLong();
  private final Map<String, Long> lastUsedWritten = new ConcurrentHashMap<>();

  /** Users and service accounts. */
  public enum Kind {
    USER,
    SERVICE;

    String label() {
      return name().toLowerCase(Locale.ROOT);
    }

    static Kind parse(String text) {
      if (text == null || text.isBlank()) {
        return USER;
      }
      return switch (text.strip().toLowerCase(Locale.ROOT)) {
        case "user" -> USER;
        case "service", "service-account", "serviceaccount" -> SERVICE;
        default ->
            throw ControllerException.invalid(
                "kind '" + text + "' is not valid: use user or service");
      };
    }
  }

  record UserRow(
      String id,
      String name,
      Kind kind,
      String description,
      long createdAt,
      String createdBy,
      List<String> roles,
      Map<String, List<String>> projectRoles) {}

  record ProjectRow(
      String name, String selector, String description, long createdAt, String createdBy) {}

  record TokenRow(
      String id,
      String userId,
      String name,
      String hash,
      Set<String> scopes,
      Long expiresAt,
      long createdAt,
      String createdBy,
      Long lastUsedAt) {}

  private record Snapshot(
      Map<String, UserRow> usersById,
      Map<String, UserRow> usersByName,
      Map<String, Role> customRoles,
      Map<String, TokenRow> tokensByHash,
      Map<String, TokenRow> tokensById,
      Map<String, ProjectRow> projects) {

    Optional<Role> role(String name) {
      Role builtIn = Roles.BUILT_IN.get(name);
      return builtIn != null ? Optional.of(builtIn) : Optional.ofNullable(customRoles.get(name));
    }

    Set<String> permissions(UserRow user) {
      Set<String> out = new TreeSet<>();
      for (String r : user.roles()) {
        role(r).ifPresent(role -> out.addAll(role.permissions()));
      }
      for (List<String> roles : user.projectRoles().values()) {
        for (String r : roles) {
          role(r).ifPresent(role -> out.addAll(role.permissions()));
        }
      }
      return out;
    }

    /** Whether one of these roles grants the permission. */
    boolean grants(List<String> roles, String permission) {
      return roles.stream()
          .anyMatch(r -> role(r).map(x -> x.permissions().contains(permission)).orElse(false));
    }

    Optional<List<String>> deviceSelectors(UserRow user) {
      return ProjectGrants.deviceSelectors(user, projects);
    }
  }

  /** Access control whose project users see no device: for tests of users, roles and tokens. */
  public AccessControl(Jdbi jdbi, Clock clock, AuditLog audit, AdminTokens bootstrap) {
    this(jdbi, clock, audit, bootstrap, id -> Optional.empty());
  }

  /**
   * @param deviceTags the tags of a device by id or pending enrollment code; empty when there is no
   *     such device
   */
  public AccessControl(
      Jdbi jdbi,
      Clock clock,
      AuditLog audit,
      AdminTokens bootstrap,
      java.util.function.Function<String, Optional<Map<String, String>>> deviceTags) {
    this.deviceTags = deviceTags;
    this.jdbi = jdbi;
    this.clock = clock;
    this.audit = audit;
    this.bootstrap = bootstrap;
    reload();
  }

  // --- token checks -------------------------------------------------------------------------

  @Override
  public Principal authenticate(String token) {
    return caller(token).principal();
  }

  @Override
  public boolean sees(Principal principal, String deviceId) {
    Optional<List<String>> selectors = principal.deviceSelectors();
    if (selectors.isEmpty()) {
      return true;
    }
    Optional<Map<String, String>> tags = deviceTags.apply(deviceId);
    return tags.isPresent()
        && selectors.get().stream()
            .anyMatch(s -> Selector.parse("project selector", s).matches(tags.get()));
  }

  @Override
  public Principal narrowTo(Principal principal, String permission) {
    if (Permissions.IMPLIED.contains(permission)) {
      return principal;
    }
    Snapshot s = current();
    UserRow user = s.usersByName().get(principal.name());
    if (user == null || user.projectRoles().isEmpty()) {
      return principal;
    }
    if (s.grants(user.roles(), permission)) {
      return principal;
    }
    Map<String, List<String>> roles = new TreeMap<>();
    Map<String, String> projects = new TreeMap<>();
    user.projectRoles()
        .forEach(
            (project, held) -> {
              ProjectRow row = s.projects().get(project);
              if (row != null && s.grants(held, permission)) {
                roles.put(project, held);
                projects.put(project, row.selector());
              }
            });
    return new Principal(
        principal.name(),
        principal.roles(),
        principal.permissions(),
        principal.scoped(),
        principal.expiresAt(),
        Optional.of(List.copyOf(projects.values())),
        projects,
        roles);
  }

  @Override
  public List<String> rolesOn(Principal principal, String deviceId) {
    return deviceTags
        .apply(deviceId)
        .map(tags -> List.copyOf(ProjectScope.rolesOn(principal, tags)))
        .orElse(principal.roles());
  }

  /** Who is calling with this token, and through which token. */
  record Caller(Principal principal, UserRow user, Optional<TokenRow> token) {}

  Caller caller(String token) {
    if (token == null || token.isBlank() || token.length() > 200) {
      throw invalidToken();
    }
    String hash = Tokens.hash(token.strip());
    Snapshot s = current();
    TokenRow row = s.tokensByHash().get(hash);
    if (row == null) {
      Optional<String> legacy = bootstrap.authenticate(token);
      if (legacy.isPresent()) {
        UserRow admin = s.usersByName().get(BOOTSTRAP_ADMIN);
        if (admin == null) {
          throw new ControllerException(
              ErrorCode.UNAUTHENTICATED,
              "the bootstrap token belongs to the user admin, which was deleted: use another"
                  + " user's token");
        }
        return new Caller(
            new Principal(
                legacy.get(),
                admin.roles(),
                s.permissions(admin),
                false,
                Optional.empty(),
                s.deviceSelectors(admin),
                ProjectGrants.projects(admin, s.projects()),
                admin.projectRoles()),
            admin,
            Optional.empty());
      }
      s = current();
      row = s.tokensByHash().get(hash);
      if (row == null) {
        throw invalidToken();
      }
    }
    UserRow user = s.usersById().get(row.userId());
    if (user == null) {
      throw invalidToken();
    }
    long now = clock.millis();
    if (row.expiresAt() != null && now >= row.expiresAt()) {
      throw new ControllerException(
          ErrorCode.TOKEN_EXPIRED,
          "the token '"
              + row.name()
              + "' of "
              + user.name()
              + " expired at "
              + Instant.ofEpochMilli(row.expiresAt())
              + ": run `edgefleet login` with a new token (create one with `edgefleet tokens"
              + " create`, or ask an administrator)");
    }
    touch(row, now);
    Set<String> permissions = s.permissions(user);
    boolean scoped = row.scopes() != null;
    if (scoped) {
      permissions.retainAll(row.scopes());
    }
    return new Caller(
        new Principal(
            user.name(),
            user.roles(),
            permissions,
            scoped,
            Optional.ofNullable(row.expiresAt()).map(Instant::ofEpochMilli),
            s.deviceSelectors(user),
            ProjectGrants.projects(user, s.projects()),
            user.projectRoles()),
        user,
        Optional.of(row));
  }

  /** An unknown or revoked token; said as before users existed, as clients match on it. */
  private static ControllerException invalidToken() {
    return new ControllerException(
        ErrorCode.UNAUTHENTICATED, "the bearer token is not valid for this controller");
  }

  /** Writes when a token was last used, at most once per {@link #LAST_USED_RESOLUTION}. */
  private void touch(TokenRow row, long now) {
    Long written = lastUsedWritten.get(row.id());
    if (written == null) {
      written = row.lastUsedAt() == null ? 0L : row.lastUsedAt();
    }
    if (now - written < LAST_USED_RESOLUTION.toMillis()) {
      return;
    }
    Long previous = written;
    if (lastUsedWritten.containsKey(row.id())
        ? !lastUsedWritten.replace(row.id(), previous, now)
        : lastUsedWritten.putIfAbsent(row.id(), now) != null) {
      return; // another request wrote it
    }
    jdbi.useHandle(
        h ->
            h.createUpdate("UPDATE access_tokens SET last_used_at = :now WHERE id = :id")
                .bind("now", now)
                .bind("id", row.id())
                .execute());
  }

  /** The snapshot, read again first if it is older than {@link #RELOAD_INTERVAL}. */
  private Snapshot current() {
    long last = lastReload.get();
    long now = clock.millis();
    if (now - last >= RELOAD_INTERVAL.toMillis() && lastReload.compareAndSet(last, now)) {
      reload();
    }
    return snapshot.get();
  }

  private void reload() {
    lastReload.set(clock.millis());
    reloads.incrementAndGet();
    snapshot.set(jdbi.withHandle(AccessControl::read));
  }

  /** How many times the tables were read. */
  long reloads() {
    return reloads.get();
  }

  private static Snapshot read(Handle h) {
    Map<String, List<String>> bindings = new HashMap<>();
    Map<String, Map<String, List<String>>> projectBindings = new HashMap<>();
    h.createQuery(
            "SELECT user_id, role, project FROM access_role_bindings ORDER BY user_id, project,"
                + " role")
        .map((rs, ctx) -> List.of(rs.getString(1), rs.getString(2), rs.getString(3)))
        .forEach(
            b -> {
              if (b.get(2).isEmpty()) {
                bindings.computeIfAbsent(b.get(0), k -> new ArrayList<>()).add(b.get(1));
              } else {
                projectBindings
                    .computeIfAbsent(b.get(0), k -> new java.util.TreeMap<>())
                    .computeIfAbsent(b.get(2), k -> new ArrayList<>())
                    .add(b.get(1));
              }
            });
    Map<String, UserRow> byId = new LinkedHashMap<>();
    Map<String, UserRow> byName = new LinkedHashMap<>();
    h.createQuery(
            "SELECT id, name, kind, description, created_at, created_by FROM access_users"
                + " ORDER BY name")
        .map(
            (rs, ctx) ->
                new UserRow(
                    rs.getString(1),
                    rs.getString(2),
                    Kind.parse(rs.getString(3)),
                    rs.getString(4),
                    rs.getLong(5),
                    rs.getString(6),
                    List.copyOf(bindings.getOrDefault(rs.getString(1), List.of())),
                    projectBindings.getOrDefault(rs.getString(1), Map.of())))
        .forEach(
            u -> {
              byId.put(u.id(), u);
              byName.put(u.name(), u);
            });
    Map<String, Role> roles = new LinkedHashMap<>();
    h.createQuery("SELECT name, permissions, description FROM access_roles ORDER BY name")
        .map((rs, ctx) -> new Role(rs.getString(1), split(rs.getString(2)), rs.getString(3), false))
        .forEach(r -> roles.put(r.name(), r));
    Map<String, TokenRow> byHash = new HashMap<>();
    Map<String, TokenRow> tokensById = new LinkedHashMap<>();
    h.createQuery(
            "SELECT id, user_id, name, token_hash, scopes, expires_at, created_at, created_by,"
                + " last_used_at FROM access_tokens ORDER BY created_at, id")
        .map(
            (rs, ctx) ->
                new TokenRow(
                    rs.getString(1),
                    rs.getString(2),
                    rs.getString(3),
                    rs.getString(4),
                    rs.getString(5) == null ? null : split(rs.getString(5)),
                    rs.getObject(6) == null ? null : rs.getLong(6),
                    rs.getLong(7),
                    rs.getString(8),
                    rs.getObject(9) == null ? null : rs.getLong(9)))
        .forEach(
            t -> {
              byHash.put(t.hash(), t);
              tokensById.put(t.id(), t);
            });
    Map<String, ProjectRow> projects = new LinkedHashMap<>();
    h.createQuery(
            "SELECT name, selector, description, created_at, created_by FROM access_projects"
                + " ORDER BY name")
        .map(
            (rs, ctx) ->
                new ProjectRow(
                    rs.getString(1),
                    rs.getString(2),
                    rs.getString(3),
                    rs.getLong(4),
                    rs.getString(5)))
        .forEach(p -> projects.put(p.name(), p));
    return new Snapshot(
        Map.copyOf(byId), byName, Map.copyOf(roles), Map.copyOf(byHash), tokensById, projects);
  }

  private static Set<String> split(String text) {
    Set<String> out = new TreeSet<>();
    for (String p : text.split(",")) {
      if (!p.isBlank()) {
        out.add(p.strip());
      }
    }
    return out;
  }

  // --- views ------------------------------------------------------------------------------

  /** A user or service account as the API shows it. */
  public record UserView(
      String id,
      String name,
      String kind,
      String description,
      List<String> roles,
      Map<String, List<String>> projects,
      List<String> permissions,
      int tokens,
      Instant createdAt,
      String createdBy) {}

  /** A role as the API shows it. */
  public record RoleView(
      String name, boolean builtIn, String description, List<String> permissions, int users) {}

  /** A token as the API shows it; never its secret. */
  public record TokenView(
      String id,
      String name,
      String user,
      List<String> scopes,
      Instant expiresAt,
      boolean expired,
      Instant createdAt,
      String createdBy,
      Instant lastUsedAt) {}

  /** A new token: the secret is shown this once. */
  public record NewToken(TokenView token, String secret) {}

  /** Who is calling. */
  public record Whoami(
      String name,
      String kind,
      List<String> roles,
      Map<String, List<String>> projects,
      List<String> permissions,
      TokenView token) {}

  private UserView view(Snapshot s, UserRow u) {
    int tokens =
        (int) s.tokensById().values().stream().filter(t -> t.userId().equals(u.id())).count();
    return new UserView(
        u.id(),
        u.name(),
        u.kind().label(),
        u.description(),
        u.roles(),
        u.projectRoles(),
        List.copyOf(s.permissions(u)),
        tokens,
        Instant.ofEpochMilli(u.createdAt()),
        u.createdBy());
  }

  private TokenView view(Snapshot s, TokenRow t) {
    UserRow u = s.usersById().get(t.userId());
    return new TokenView(
        t.id(),
        t.name(),
        u == null ? null : u.name(),
        t.scopes() == null ? null : List.copyOf(t.scopes()),
        t.expiresAt() == null ? null : Instant.ofEpochMilli(t.expiresAt()),
        t.expiresAt() != null && clock.millis() >= t.expiresAt(),
        Instant.ofEpochMilli(t.createdAt()),
        t.createdBy(),
        Optional.ofNullable(lastUsedWritten.get(t.id()))
            .or(() -> Optional.ofNullable(t.lastUsedAt()))
            .filter(v -> v > 0)
            .map(Instant::ofEpochMilli)
            .orElse(null));
  }

  // --- whoami ---------------------------------------------------------------------------------

  Whoami whoami(Caller c) {
    Snapshot s = snapshot.get();
    return new Whoami(
        c.principal().name(),
        c.user().kind().label(),
        c.user().roles(),
        c.user().projectRoles(),
        List.copyOf(new TreeSet<>(c.principal().permissions())),
        c.token().map(t -> view(s, t)).orElse(null));
  }

  // --- users ----------------------------------------------------------------------------------

  /** What creates a user or service account. */
  public record UserRequest(String name, String kind, String description, List<String> roles) {}

  /**
   * The roles to bind a user to, replacing what they had.
   *
   * @param project within this project only (its devices); over the whole fleet when absent
   */
  public record RolesRequest(List<String> roles, String project) {
    public RolesRequest(List<String> roles) {
      this(roles, null);
    }
  }

  List<UserView> users(Optional<String> kind) {
    Optional<Kind> k = kind.map(Kind::parse);
    Snapshot s = snapshot.get();
    return s.usersByName().values().stream()
        .filter(u -> k.isEmpty() || u.kind() == k.get())
        .map(u -> view(s, u))
        .toList();
  }

  UserView user(String name) {
    Snapshot s = snapshot.get();
    return view(s, userRow(s, name));
  }

  private static UserRow userRow(Snapshot s, String name) {
    UserRow u = s.usersByName().get(name);
    if (u == null) {
      throw ControllerException.notFound("user", name);
    }
    return u;
  }

  UserView createUser(UserRequest req, Kind defaultKind, String actor) {
    String name = Roles.name("user", req.name());
    Kind kind = req.kind() == null ? defaultKind : Kind.parse(req.kind());
    String description = description(req.description());
    List<String> roles = roles(req.roles() == null ? List.of() : req.roles());
    String id = Ids.next("usr");
    long now = clock.millis();
    jdbi.useTransaction(
        h -> {
          boolean taken =
              h.createQuery("SELECT COUNT(*) FROM access_users WHERE name = :name")
                      .bind("name", name)
                      .mapTo(Integer.class)
                      .one()
                  > 0;
          if (taken) {
            throw new ControllerException(
                ErrorCode.CONFLICT,
                "a user or service account named '" + name + "' exists already");
          }
          h.createUpdate(
                  "INSERT INTO access_users (id, name, kind, description, created_at, created_by)"
                      + " VALUES (:id, :name, :kind, :description, :now, :actor)")
              .bind("id", id)
              .bind("name", name)
              .bind("kind", kind.label())
              .bind("description", description)
              .bind("now", now)
              .bind("actor", actor)
              .execute();
          bind(h, id, roles, "", now);
          audit.record(
              h,
              actor,
              kind == Kind.USER ? "user.create" : "service-account.create",
              name,
              Map.of("roles", roles));
        });
    reload();
    return user(name);
  }

  UserView setRoles(String name, RolesRequest req, String actor) {
    List<String> roles = roles(req.roles() == null ? List.of() : req.roles());
    Snapshot s = snapshot.get();
    UserRow u = userRow(s, name);
    String project = req.project() == null ? "" : req.project().strip();
    if (project.isEmpty()) {
      keepAnAdministrator(s, u.id(), roles.contains(Roles.ADMIN));
    } else if (!s.projects().containsKey(project)) {
      throw ControllerException.invalid(
          "unknown project '" + project + "' (create it with POST /api/v1/projects)");
    }
    List<String> previous =
        project.isEmpty() ? u.roles() : u.projectRoles().getOrDefault(project, List.of());
    jdbi.useTransaction(
        h -> {
          h.createUpdate(
                  "DELETE FROM access_role_bindings WHERE user_id = :id AND project = :project")
              .bind("id", u.id())
              .bind("project", project)
              .execute();
          bind(h, u.id(), roles, project, clock.millis());
          Map<String, Object> detail = new LinkedHashMap<>();
          detail.put("roles", roles);
          detail.put("previous", previous);
          if (!project.isEmpty()) {
            detail.put("project", project);
          }
          audit.record(h, actor, "user.roles", name, detail);
        });
    reload();
    return user(name);
  }

  void deleteUser(String name, String actor) {
    Snapshot s = snapshot.get();
    UserRow u = userRow(s, name);
    if (u.name().equals(actor)) {
      throw new ControllerException(
          ErrorCode.CONFLICT, "you cannot delete yourself: ask another administrator");
    }
    keepAnAdministrator(s, u.id(), false);
    jdbi.useTransaction(
        h -> {
          int tokens =
              h.createUpdate("DELETE FROM access_tokens WHERE user_id = :id")
                  .bind("id", u.id())
                  .execute();
          h.createUpdate("DELETE FROM access_role_bindings WHERE user_id = :id")
              .bind("id", u.id())
              .execute();
          h.createUpdate("DELETE FROM access_users WHERE id = :id").bind("id", u.id()).execute();
          audit.record(
              h,
              actor,
              u.kind() == Kind.USER ? "user.delete" : "service-account.delete",
              name,
              Map.of("tokensRevoked", tokens));
        });
    reload();
  }

  /** Refuses a change that would leave no user with the admin role. */
  private static void keepAnAdministrator(Snapshot s, String changedId, boolean staysAdmin) {
    if (staysAdmin) {
      return;
    }
    boolean another =
        s.usersById().values().stream()
            .anyMatch(u -> !u.id().equals(changedId) && u.roles().contains(Roles.ADMIN));
    if (!another) {
      throw new ControllerException(
          ErrorCode.CONFLICT,
          "this would leave no user with the admin role: bind another user to admin first");
    }
  }

  private void bind(Handle h, String userId, List<String> roles, String project, long now) {
    for (String role : roles) {
      h.createUpdate(
              "INSERT INTO access_role_bindings (user_id, role, project, created_at)"
                  + " VALUES (:user, :role, :project, :now)")
          .bind("user", userId)
          .bind("role", role)
          .bind("project", project)
          .bind("now", now)
          .execute();
    }
  }

  /** Checks role names: each must exist. */
  private List<String> roles(List<String> names) {
    Snapshot s = snapshot.get();
    Set<String> out = new LinkedHashSet<>();
    for (String n : names) {
      if (n == null || s.role(n.strip()).isEmpty()) {
        throw ControllerException.invalid(
            "unknown role '"
                + n
                + "'; roles: "
                + String.join(", ", roleNames(s))
                + " (create one with POST /api/v1/roles)");
      }
      out.add(n.strip());
    }
    return List.copyOf(out);
  }

  private static List<String> roleNames(Snapshot s) {
    List<String> names = new ArrayList<>(Roles.BUILT_IN.keySet());
    names.sort(Comparator.comparing(n -> List.of("viewer", "operator", "admin").indexOf(n)));
    names.addAll(s.customRoles().keySet());
    return names;
  }

  private static String description(String text) {
    if (text == null) {
      return null;
    }
    if (text.length() > 500) {
      throw ControllerException.invalid("description is longer than 500 characters");
    }
    return text.strip();
  }

  // --- roles ----------------------------------------------------------------------------------

  /** What creates a custom role. */
  public record RoleRequest(String name, String description, List<String> permissions) {}

  public List<RoleView> roles() {
    Snapshot s = snapshot.get();
    List<RoleView> out = new ArrayList<>();
    for (String n : roleNames(s)) {
      out.add(roleView(s, s.role(n).orElseThrow()));
    }
    return out;
  }

  private static RoleView roleView(Snapshot s, Role r) {
    int users =
        (int) s.usersById().values().stream().filter(u -> u.roles().contains(r.name())).count();
    List<String> ordered = Permissions.KNOWN.stream().filter(r.permissions()::contains).toList();
    return new RoleView(r.name(), r.builtIn(), r.description(), ordered, users);
  }

  RoleView createRole(RoleRequest req, String actor) {
    String name = Roles.name("role", req.name());
    if (Roles.BUILT_IN.containsKey(name)) {
      throw new ControllerException(
          ErrorCode.CONFLICT, "'" + name + "' is a built-in role: choose another name");
    }
    Set<String> permissions = Roles.permissions(req.permissions());
    String description = description(req.description());
    jdbi.useTransaction(
        h -> {
          boolean taken =
              h.createQuery("SELECT COUNT(*) FROM access_roles WHERE name = :name")
                      .bind("name", name)
                      .mapTo(Integer.class)
                      .one()
                  > 0;
          if (taken) {
            throw new ControllerException(
                ErrorCode.CONFLICT, "a role named '" + name + "' exists already");
          }
          h.createUpdate(
                  "INSERT INTO access_roles (name, permissions, description, created_at,"
                      + " created_by) VALUES (:name, :permissions, :description, :now, :actor)")
              .bind("name", name)
              .bind("permissions", String.join(",", permissions))
              .bind("description", description)
              .bind("now", clock.millis())
              .bind("actor", actor)
              .execute();
          audit.record(h, actor, "role.create", name, Map.of("permissions", permissions));
        });
    reload();
    Snapshot s = snapshot.get();
    return roleView(s, s.role(name).orElseThrow());
  }

  void deleteRole(String name, String actor) {
    if (Roles.BUILT_IN.containsKey(name)) {
      throw new ControllerException(
          ErrorCode.CONFLICT, "'" + name + "' is a built-in role and cannot be deleted");
    }
    Snapshot s = snapshot.get();
    if (!s.customRoles().containsKey(name)) {
      throw ControllerException.notFound("role", name);
    }
    List<String> holders =
        s.usersByName().values().stream()
            .filter(
                u ->
                    u.roles().contains(name)
                        || u.projectRoles().values().stream().anyMatch(l -> l.contains(name)))
            .map(UserRow::name)
            .toList();
    if (!holders.isEmpty()) {
      throw new ControllerException(
          ErrorCode.CONFLICT,
          "role '"
              + name
              + "' is bound to "
              + String.join(", ", holders)
              + ": give them other roles first (PUT /api/v1/users/NAME/roles)");
    }
    jdbi.useTransaction(
        h -> {
          h.createUpdate("DELETE FROM access_roles WHERE name = :name")
              .bind("name", name)
              .execute();
          audit.record(h, actor, "role.delete", name, Map.of());
        });
    reload();
  }

  // --- tokens ---------------------------------------------------------------------------------

  /**
   * What creates a token.
   *
   * @param user whose token it is; the caller's own when absent (another's needs users:write)
   * @param expiresIn how long it lives: {@code 30m}, {@code 12h}, {@code 90d}; {@code never} only
   *     for a service account; default {@code 90d}
   * @param scopes what the token may do, a subset of its holder's permissions; all of them when
   *     absent
   */
  public record TokenRequest(String name, String user, String expiresIn, List<String> scopes) {}

  private static final Pattern LIFETIME = Pattern.compile("(\\d{1,6})([mhd])");

  static Optional<Duration> lifetime(String text) {
    if (text == null || text.isBlank()) {
      return Optional.of(DEFAULT_LIFETIME);
    }
    String t = text.strip().toLowerCase(Locale.ROOT);
    if (t.equals("never")) {
      return Optional.empty();
    }
    Matcher m = LIFETIME.matcher(t);
    if (!m.matches()) {
      throw ControllerException.invalid(
          "expiresIn '"
              + text
              + "' is not valid: use minutes, hours or days such as 30m, 12h, 90d");
    }
    long n = Long.parseLong(m.group(1));
    Duration d =
        switch (m.group(2)) {
          case "m" -> Duration.ofMinutes(n);
          case "h" -> Duration.ofHours(n);
          default -> Duration.ofDays(n);
        };
    if (d.isZero() || d.compareTo(MAX_LIFETIME) > 0) {
      throw ControllerException.invalid(
          "expiresIn must be from 1m to " + MAX_LIFETIME.toDays() + "d, got " + text);
    }
    return Optional.of(d);
  }

  List<TokenView> tokens(Caller caller, Optional<String> user) {
    Snapshot s = snapshot.get();
    String userId;
    if (user.isPresent() && !user.get().equals(caller.user().name())) {
      requireUsers(caller, "read");
      userId = userRow(s, user.get()).id();
    } else {
      userId = caller.user().id();
    }
    return s.tokensById().values().stream()
        .filter(t -> t.userId().equals(userId))
        .map(t -> view(s, t))
        .toList();
  }

  /** Every token, of every user: for administrators. */
  List<TokenView> allTokens(Caller caller) {
    requireUsers(caller, "read");
    Snapshot s = snapshot.get();
    return s.tokensById().values().stream().map(t -> view(s, t)).toList();
  }

  NewToken createToken(Caller caller, TokenRequest req) {
    Snapshot s = snapshot.get();
    UserRow holder;
    if (req.user() != null && !req.user().equals(caller.user().name())) {
      requireUsers(caller, "write");
      holder = userRow(s, req.user());
    } else {
      holder = caller.user();
    }
    if (req.name() == null || req.name().isBlank() || req.name().length() > 64) {
      throw ControllerException.invalid("name is required: 1 to 64 characters, e.g. 'laptop'");
    }
    String name = req.name().strip();
    Optional<Duration> lifetime = lifetime(req.expiresIn());
    if (lifetime.isEmpty() && holder.kind() != Kind.SERVICE) {
      throw ControllerException.invalid(
          "only a service account's token may never expire: give expiresIn such as 90d");
    }
    Set<String> scopes = null;
    if (req.scopes() != null) {
      scopes = Roles.permissions(req.scopes());
      Set<String> beyond = new TreeSet<>(scopes);
      beyond.removeAll(s.permissions(holder));
      if (!beyond.isEmpty()) {
        throw ControllerException.invalid(
            "scopes must be permissions "
                + holder.name()
                + " holds; not held: "
                + String.join(", ", beyond));
      }
    }
    // A caller's token cannot mint a token with more than it may do itself.
    Set<String> exceeding = new TreeSet<>(scopes == null ? s.permissions(holder) : scopes);
    exceeding.removeAll(caller.principal().permissions());
    if (!exceeding.isEmpty() && caller.principal().scoped()) {
      throw new ControllerException(
          ErrorCode.PERMISSION_DENIED,
          "your token is scoped and cannot create a token with "
              + String.join(", ", exceeding)
              + ": give scopes within your token's");
    }
    long count =
        s.tokensById().values().stream().filter(t -> t.userId().equals(holder.id())).count();
    if (count >= MAX_TOKENS_PER_USER) {
      throw new ControllerException(
          ErrorCode.CONFLICT,
          holder.name() + " holds " + MAX_TOKENS_PER_USER + " tokens: revoke one first");
    }
    if (s.tokensById().values().stream()
        .anyMatch(t -> t.userId().equals(holder.id()) && t.name().equals(name))) {
      throw new ControllerException(
          ErrorCode.CONFLICT,
          holder.name() + " has a token named '" + name + "' already: revoke it or pick another");
    }
    String secret = Ids.secret("eft");
    String id = Ids.next("tok");
    long now = clock.millis();
    Long expiresAt = lifetime.map(d -> now + d.toMillis()).orElse(null);
    Set<String> granted = scopes;
    jdbi.useTransaction(
        h -> {
          h.createUpdate(
                  "INSERT INTO access_tokens (id, user_id, name, token_hash, scopes, expires_at,"
                      + " created_at, created_by) VALUES (:id, :user, :name, :hash, :scopes,"
                      + " :expires, :now, :actor)")
              .bind("id", id)
              .bind("user", holder.id())
              .bind("name", name)
              .bind("hash", Tokens.hash(secret))
              .bind("scopes", granted == null ? null : String.join(",", granted))
              .bind("expires", expiresAt)
              .bind("now", now)
              .bind("actor", caller.principal().name())
              .execute();
          Map<String, Object> detail = new LinkedHashMap<>();
          detail.put("id", id);
          detail.put("name", name);
          detail.put("expiresAt", expiresAt == null ? "never" : Instant.ofEpochMilli(expiresAt));
          if (granted != null) {
            detail.put("scopes", granted);
          }
          audit.record(h, caller.principal().name(), "token.create", holder.name(), detail);
        });
    reload();
    Snapshot after = snapshot.get();
    return new NewToken(view(after, after.tokensById().get(id)), secret);
  }

  void revokeToken(Caller caller, String id) {
    Snapshot s = snapshot.get();
    TokenRow t = s.tokensById().get(id);
    if (t == null) {
      throw ControllerException.notFound("token", id);
    }
    if (!t.userId().equals(caller.user().id())) {
      if (!caller.principal().allows("users:read")) {
        throw ControllerException.notFound("token", id);
      }
      requireUsers(caller, "write");
    }
    UserRow holder = s.usersById().get(t.userId());
    jdbi.useTransaction(
        h -> {
          h.createUpdate("DELETE FROM access_tokens WHERE id = :id").bind("id", id).execute();
          audit.record(
              h,
              caller.principal().name(),
              "token.revoke",
              holder == null ? t.userId() : holder.name(),
              Map.of("id", id, "name", t.name()));
        });
    lastUsedWritten.remove(id);
    reload();
  }

  // --- projects -------------------------------------------------------------------------------

  /** What creates a project: its devices are those the selector picks. */
  public record ProjectRequest(String name, String selector, String description) {}

  /** A project as the API shows it. */
  public record ProjectView(
      String name,
      String selector,
      String description,
      List<String> users,
      Instant createdAt,
      String createdBy) {}

  private static ProjectView view(Snapshot s, ProjectRow p) {
    List<String> users =
        s.usersByName().values().stream()
            .filter(u -> u.projectRoles().containsKey(p.name()))
            .map(UserRow::name)
            .toList();
    return new ProjectView(
        p.name(),
        p.selector(),
        p.description(),
        users,
        Instant.ofEpochMilli(p.createdAt()),
        p.createdBy());
  }

  List<ProjectView> projects() {
    Snapshot s = snapshot.get();
    return s.projects().values().stream().map(p -> view(s, p)).toList();
  }

  ProjectView project(String name) {
    Snapshot s = snapshot.get();
    ProjectRow p = s.projects().get(name);
    if (p == null) {
      throw ControllerException.notFound("project", name);
    }
    return view(s, p);
  }

  ProjectView createProject(ProjectRequest req, String actor) {
    String name = Roles.name("project", req.name());
    if (req.selector() == null || req.selector().isBlank()) {
      throw ControllerException.invalid(
          "selector is required: the devices of the project, e.g. region=eu,shop in (a,b)");
    }
    if (req.selector().length() > 2000) {
      throw ControllerException.invalid("selector is longer than 2000 characters");
    }
    String selector = Selector.parse("selector", req.selector()).toString();
    String description = description(req.description());
    jdbi.useTransaction(
        h -> {
          boolean taken =
              h.createQuery("SELECT COUNT(*) FROM access_projects WHERE name = :name")
                      .bind("name", name)
                      .mapTo(Integer.class)
                      .one()
                  > 0;
          if (taken) {
            throw new ControllerException(
                ErrorCode.CONFLICT, "a project named '" + name + "' exists already");
          }
          h.createUpdate(
                  "INSERT INTO access_projects (name, selector, description, created_at,"
                      + " created_by) VALUES (:name, :selector, :description, :now, :actor)")
              .bind("name", name)
              .bind("selector", selector)
              .bind("description", description)
              .bind("now", clock.millis())
              .bind("actor", actor)
              .execute();
          audit.record(h, actor, "project.create", name, Map.of("selector", selector));
        });
    reload();
    return project(name);
  }

  void deleteProject(String name, String actor) {
    ProjectView p = project(name);
    if (!p.users().isEmpty()) {
      throw new ControllerException(
          ErrorCode.CONFLICT,
          "project '"
              + name
              + "' has users: "
              + String.join(", ", p.users())
              + "; take their roles in it away first (PUT /api/v1/users/NAME/roles with project"
              + " and no roles)");
    }
    jdbi.useTransaction(
        h -> {
          h.createUpdate("DELETE FROM access_projects WHERE name = :name")
              .bind("name", name)
              .execute();
          audit.record(h, actor, "project.delete", name, Map.of("selector", p.selector()));
        });
    reload();
  }

  // --- sign-in through an identity provider ------------------------------------------------

  /** How many tokens of sign-ins a user keeps; older ones are revoked at the next sign-in. */
  static final int MAX_SIGN_IN_TOKENS = 5;

  /**
   * A person who signed in through an identity provider (single sign-on): their roles are replaced
   * by these at every sign-in, and they get a new token.
   *
   * @param userId the user this identity signed in as before; empty, or no longer existing, for a
   *     new user
   * @param name the name wanted for a new user (made unique with a suffix when taken)
   * @param roles roles over the whole fleet; unknown ones are left out and named in the audit entry
   * @param projectRoles roles within projects; unknown projects and roles are left out likewise
   * @param lifetime how long the new token lives
   * @param source where the identity comes from, such as {@code oidc}
   * @param detail more for the audit entry (issuer, subject, groups)
   */
  public record SignIn(
      Optional<String> userId,
      String name,
      List<String> roles,
      Map<String, List<String>> projectRoles,
      Duration lifetime,
      String source,
      Map<String, Object> detail) {}

  /** The outcome of a sign-in: who, with what roles, and the token (its secret shown once). */
  public record SignedIn(
      String userId,
      String name,
      List<String> roles,
      Map<String, List<String>> projects,
      String token,
      Instant expiresAt) {}

  /** Whether a role by this name exists (built in or custom). */
  public boolean roleExists(String name) {
    return snapshot.get().role(name).isPresent();
  }

  /** Whether a project by this name exists. */
  public boolean projectExists(String name) {
    return snapshot.get().projects().containsKey(name);
  }

  /**
   * Signs a person in: creates the user at the first sign-in, replaces their role bindings, revokes
   * their older sign-in tokens beyond {@link #MAX_SIGN_IN_TOKENS} and issues a new one.
   */
  public SignedIn signIn(SignIn req) {
    Snapshot s = current();
    List<String> roles = new ArrayList<>();
    List<String> ignored = new ArrayList<>();
    for (String r : new LinkedHashSet<>(req.roles())) {
      (s.role(r).isPresent() ? roles : ignored).add(r);
    }
    Map<String, List<String>> projectRoles = new java.util.TreeMap<>();
    req.projectRoles()
        .forEach(
            (project, names) -> {
              for (String r : new LinkedHashSet<>(names)) {
                if (s.projects().containsKey(project) && s.role(r).isPresent()) {
                  projectRoles.computeIfAbsent(project, k -> new ArrayList<>()).add(r);
                } else {
                  ignored.add(r + "@" + project);
                }
              }
            });
    UserRow existing = req.userId().map(id -> s.usersById().get(id)).orElse(null);
    String name = existing != null ? existing.name() : freeName(s, req.name());
    String userId = existing != null ? existing.id() : Ids.next("usr");
    String secret = Ids.secret("eft");
    long now = clock.millis();
    long expiresAt = now + req.lifetime().toMillis();
    jdbi.useTransaction(
        h -> {
          if (existing == null) {
            h.createUpdate(
                    "INSERT INTO access_users (id, name, kind, description, created_at,"
                        + " created_by) VALUES (:id, :name, 'user', :description, :now, :by)")
                .bind("id", userId)
                .bind("name", name)
                .bind("description", "Signs in with single sign-on (" + req.source() + ")")
                .bind("now", now)
                .bind("by", req.source())
                .execute();
          }
          h.createUpdate("DELETE FROM access_role_bindings WHERE user_id = :id")
              .bind("id", userId)
              .execute();
          bind(h, userId, roles, "", now);
          projectRoles.forEach((project, r) -> bind(h, userId, r, project, now));
          List<String> older =
              h.createQuery(
                      "SELECT id FROM access_tokens WHERE user_id = :id AND name LIKE 'sign-in-%'"
                          + " ORDER BY created_at DESC, id DESC")
                  .bind("id", userId)
                  .mapTo(String.class)
                  .list();
          for (String old :
              older.subList(Math.min(older.size(), MAX_SIGN_IN_TOKENS - 1), older.size())) {
            h.createUpdate("DELETE FROM access_tokens WHERE id = :id").bind("id", old).execute();
            lastUsedWritten.remove(old);
          }
          String tokenId = Ids.next("tok");
          h.createUpdate(
                  "INSERT INTO access_tokens (id, user_id, name, token_hash, scopes, expires_at,"
                      + " created_at, created_by) VALUES (:id, :user, :name, :hash, NULL,"
                      + " :expires, :now, :by)")
              .bind("id", tokenId)
              .bind("user", userId)
              .bind("name", "sign-in-" + tokenId)
              .bind("hash", Tokens.hash(secret))
              .bind("expires", expiresAt)
              .bind("now", now)
              .bind("by", req.source())
              .execute();
          Map<String, Object> detail = new LinkedHashMap<>(req.detail());
          detail.put("source", req.source());
          detail.put("created", existing == null);
          detail.put("roles", roles);
          detail.put("projects", projectRoles);
          if (!ignored.isEmpty()) {
            detail.put("ignored", ignored);
          }
          detail.put("token", tokenId);
          detail.put("expiresAt", Instant.ofEpochMilli(expiresAt));
          audit.record(h, name, "user.sign-in", name, detail);
        });
    reload();
    return new SignedIn(
        userId,
        name,
        List.copyOf(roles),
        Map.copyOf(projectRoles),
        secret,
        Instant.ofEpochMilli(expiresAt));
  }

  /** A valid user name from what a provider said, unique among users. */
  private static String freeName(Snapshot s, String wanted) {
    String base = wanted == null ? "" : wanted.strip().toLowerCase(Locale.ROOT);
    base = base.replaceAll("[^a-z0-9._@-]", "-").replaceAll("^[^a-z0-9]+|[^a-z0-9]+$", "");
    if (base.length() > 58) {
      base = base.substring(0, 58).replaceAll("[^a-z0-9]+$", "");
    }
    if (base.isEmpty()) {
      base = "user";
    }
    String name = base;
    for (int n = 2; s.usersByName().containsKey(name); n++) {
      name = base + "-" + n;
    }
    return Roles.name("user", name);
  }

  private static void requireUsers(Caller caller, String verb) {
    String needed = "users:" + verb;
    if (!caller.principal().allows(needed)) {
      throw new ControllerException(
          ErrorCode.PERMISSION_DENIED,
          "acting on another user's tokens needs "
              + needed
              + "; your permissions: "
              + String.join(", ", new TreeSet<>(caller.principal().permissions()))
              + ": ask an administrator");
    }
  }
}
