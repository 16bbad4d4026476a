package io.edgefleet.controller.access;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.access.AccessControl.Caller;
import io.edgefleet.controller.access.AccessControl.Kind;
import io.edgefleet.controller.access.AccessControl.RoleRequest;
import io.edgefleet.controller.access.AccessControl.RolesRequest;
import io.edgefleet.controller.access.AccessControl.TokenRequest;
import io.edgefleet.controller.access.AccessControl.UserRequest;
import io.edgefleet.controller.api.AdminTokens;
import io.edgefleet.controller.api.Permissions;
import io.edgefleet.controller.api.Principal;
import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.health.TestClock;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.ErrorCode;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AccessControlTest {
  @TempDir Path dir;
  Database db;
  TestClock clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));
  AccessControl access;
  String bootstrap;
  Caller admin;

  @BeforeEach
  void open() {
    db = Database.open(Database.sqliteUrl(dir), null, null);
    AdminTokens admins = new AdminTokens(db.jdbi(), clock);
    bootstrap = admins.createInitialIfNone().orElseThrow();
    access = new AccessControl(db.jdbi(), clock, new AuditLog(db.jdbi(), clock), admins);
    admin = access.caller(bootstrap);
  }

  @AfterEach
  void close() {
    db.close();
  }

  @Test
  void theBootstrapTokenIsTheAdministrator() {
    Principal p = access.authenticate(bootstrap);
    assertThat(p.name()).isEqualTo("admin");
    assertThat(p.roles()).containsExactly("admin");
    assertThat(p.permissions()).containsExactlyInAnyOrderElementsOf(Permissions.KNOWN);
    assertThat(access.whoami(admin).token()).isNull();
  }

  @Test
  void builtInRolesGrantWhatTheyPromise() {
    var viewer = Roles.BUILT_IN.get("viewer").permissions();
    assertThat(viewer).contains("devices:read", "rollouts:read", "secrets:read");
    assertThat(viewer).doesNotContain("audit:read", "devices:write", "tunnels:kubectl");
    assertThat(viewer).allMatch(p -> p.endsWith(":read"));
    var operator = Roles.BUILT_IN.get("operator").permissions();
    assertThat(operator)
        .containsAll(viewer)
        .contains("rollouts:write", "devices:write", "artifacts:write", "tunnels:kubectl")
        .doesNotContain("users:write", "secrets:write", "audit:read", "tunnels:shell");
    assertThat(Roles.BUILT_IN.get("admin").permissions())
        .containsExactlyInAnyOrderElementsOf(Permissions.KNOWN);
  }

  @Test
  void aUsersPermissionsAreTheUnionOfTheirRoles() {
    access.createRole(
        new RoleRequest("auditor", null, List.of("audit:read", "events:read")), "admin");
    access.createUser(
        new UserRequest("ana", null, null, List.of("viewer", "auditor")), Kind.USER, "admin");
    String token = access.createToken(admin, new TokenRequest("t", "ana", "1d", null)).secret();

    Principal ana = access.authenticate(token);

    assertThat(ana.name()).isEqualTo("ana");
    assertThat(ana.roles()).containsExactlyInAnyOrder("viewer", "auditor");
    assertThat(ana.allows("audit:read")).isTrue();
    assertThat(ana.allows("devices:read")).isTrue();
    assertThat(ana.allows("devices:write")).isFalse();
    assertThat(ana.allows("account:write")).as("implied for everyone").isTrue();

    access.setRoles("ana", new RolesRequest(List.of("operator")), "admin");
    assertThat(access.authenticate(token).allows("devices:write")).isTrue();
    assertThat(access.authenticate(token).allows("audit:read")).isFalse();
  }

  @Test
  void anExpiredTokenIsRefusedWithItsOwnCode() {
    access.createUser(new UserRequest("bo", null, null, List.of("viewer")), Kind.USER, "admin");
    String token = access.createToken(admin, new TokenRequest("short", "bo", "30m", null)).secret();
    assertThat(access.authenticate(token).name()).isEqualTo("bo");

    clock.advance(Duration.ofMinutes(30));

    assertThatThrownBy(() -> access.authenticate(token))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.TOKEN_EXPIRED);
              assertThat(e.getMessage()).contains("edgefleet login").contains("short");
            });
  }

  @Test
  void aRevokedTokenIsUnknown() {
    var created = access.createToken(admin, new TokenRequest("mine", null, "1d", null));
    assertThat(access.authenticate(created.secret()).name()).isEqualTo("admin");

    access.revokeToken(admin, created.token().id());

    assertThatThrownBy(() -> access.authenticate(created.secret()))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAUTHENTICATED));
  }

  @Test
  void scopesNarrowATokenAndCannotExceedItsHolder() {
    access.createUser(
        new UserRequest("ci", "service", null, List.of("operator")), Kind.USER, "admin");
    String scoped =
        access
            .createToken(
                admin, new TokenRequest("deploy", "ci", "never", List.of("rollouts:write")))
            .secret();
    Principal p = access.authenticate(scoped);
    assertThat(p.scoped()).isTrue();
    assertThat(p.allows("rollouts:write")).isTrue();
    assertThat(p.allows("rollouts:read")).isFalse();
    assertThat(p.expiresAt()).isEmpty();

    assertThatThrownBy(
            () ->
                access.createToken(
                    admin, new TokenRequest("x", "ci", "1d", List.of("users:write"))))
        .hasMessageContaining("not held: users:write");
    assertThatThrownBy(
            () -> access.createToken(admin, new TokenRequest("y", "ci", "1d", List.of("fly:read"))))
        .hasMessageContaining("unknown permission fly:read")
        .hasMessageContaining("devices:read");
  }

  @Test
  void onlyServiceAccountsGetTokensThatNeverExpire() {
    assertThatThrownBy(() -> access.createToken(admin, new TokenRequest("f", null, "never", null)))
        .hasMessageContaining("service account");
    assertThat(AccessControl.lifetime("12h")).contains(Duration.ofHours(12));
    assertThat(AccessControl.lifetime(null)).contains(AccessControl.DEFAULT_LIFETIME);
    assertThatThrownBy(() -> AccessControl.lifetime("3 weeks")).hasMessageContaining("90d");
    assertThatThrownBy(() -> AccessControl.lifetime("0m")).hasMessageContaining("from 1m");
  }

  @Test
  void aUserWithoutUsersWriteCannotMintTokensForOthers() {
    access.createUser(new UserRequest("vi", null, null, List.of("viewer")), Kind.USER, "admin");
    access.createUser(new UserRequest("op", null, null, List.of("operator")), Kind.USER, "admin");
    Caller vi =
        access.caller(access.createToken(admin, new TokenRequest("t", "vi", "1d", null)).secret());

    assertThatThrownBy(() -> access.createToken(vi, new TokenRequest("t2", "op", "1d", null)))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.PERMISSION_DENIED));
    assertThat(access.createToken(vi, new TokenRequest("own", null, "1d", null)).token().user())
        .isEqualTo("vi");
  }

  @Test
  void theLastAdministratorStays() {
    assertThatThrownBy(() -> access.setRoles("admin", new RolesRequest(List.of("viewer")), "x"))
        .hasMessageContaining("no user with the admin role");
    access.createUser(new UserRequest("root2", null, null, List.of("admin")), Kind.USER, "admin");
    access.setRoles("admin", new RolesRequest(List.of("viewer")), "root2");
    assertThat(access.authenticate(bootstrap).allows("users:write")).isFalse();
  }

  @Test
  void namesAndRolesAreValidated() {
    assertThatThrownBy(
            () -> access.createUser(new UserRequest("Bad Name", null, null, null), Kind.USER, "a"))
        .hasMessageContaining("not valid");
    assertThatThrownBy(
            () ->
                access.createUser(
                    new UserRequest("ok", null, null, List.of("superuser")), Kind.USER, "a"))
        .hasMessageContaining("unknown role 'superuser'")
        .hasMessageContaining("viewer, operator, admin");
    assertThatThrownBy(() -> access.createRole(new RoleRequest("admin", null, List.of()), "a"))
        .hasMessageContaining("built-in");
  }

  @Test
  void wrongTokensDoNotReloadTheTablesEachTime() {
    long before = access.reloads();
    for (int i = 0; i < 1_000; i++) {
      assertThatThrownBy(() -> access.authenticate("eft_wrong"))
          .isInstanceOf(ControllerException.class);
    }
    assertThat(access.reloads() - before).isLessThanOrEqualTo(1);
  }

  @Test
  void aTokenCreatedByAnotherReplicaIsSeenWithinTheReloadInterval() {
    AccessControl other =
        new AccessControl(
            db.jdbi(), clock, new AuditLog(db.jdbi(), clock), new AdminTokens(db.jdbi(), clock));
    String token =
        other
            .createToken(other.caller(bootstrap), new TokenRequest("r", null, "1d", null))
            .secret();
    clock.advance(AccessControl.RELOAD_INTERVAL);
    assertThat(access.authenticate(token).name()).isEqualTo("admin");
    assertThat(Optional.of(access.users(Optional.empty()).size())).contains(1);
  }

  @Test
  void rolesHeldOnlyWithinProjectsLimitTheDevicesSeen() {
    access.createProject(new AccessControl.ProjectRequest("eu", "region=eu", null), "admin");
    access.createProject(new AccessControl.ProjectRequest("us", "region=us", null), "admin");
    access.createUser(new UserRequest("lena", null, null, List.of()), Kind.USER, "admin");
    access.setRoles("lena", new RolesRequest(List.of("operator"), "eu"), "admin");
    access.setRoles("lena", new RolesRequest(List.of("viewer"), "us"), "admin");
    String token = access.createToken(admin, new TokenRequest("t", "lena", "1d", null)).secret();

    Principal lena = access.authenticate(token);
    assertThat(lena.deviceSelectors()).contains(List.of("region=eu", "region=us"));
    assertThat(lena.allows("devices:write")).isTrue();
    assertThat(access.user("lena").projects()).containsOnlyKeys("eu", "us");

    access.setRoles("lena", new RolesRequest(List.of("viewer")), "admin");
    assertThat(access.authenticate(token).deviceSelectors()).isEmpty();
    assertThat(access.authenticate(bootstrap).deviceSelectors()).isEmpty();

    assertThatThrownBy(
            () -> access.setRoles("lena", new RolesRequest(List.of("viewer"), "mars"), "admin"))
        .hasMessageContaining("unknown project 'mars'");
    assertThatThrownBy(() -> access.deleteProject("eu", "admin")).hasMessageContaining("lena");
    assertThatThrownBy(
            () ->
                access.createProject(
                    new AccessControl.ProjectRequest("bad", "region in (", null), "admin"))
        .isInstanceOf(ControllerException.class);
  }

  @Test
  void aPermissionHeldWithinOneProjectCountsInThatProjectOnly() {
    access.createProject(new AccessControl.ProjectRequest("eu", "region=eu", null), "admin");
    access.createProject(new AccessControl.ProjectRequest("us", "region=us", null), "admin");
    access.createUser(new UserRequest("lena", null, null, List.of()), Kind.USER, "admin");
    access.setRoles("lena", new RolesRequest(List.of("operator"), "eu"), "admin");
    access.setRoles("lena", new RolesRequest(List.of("viewer"), "us"), "admin");
    access.createUser(new UserRequest("vic", null, null, List.of("viewer")), Kind.USER, "admin");
    access.setRoles("vic", new RolesRequest(List.of("operator"), "us"), "admin");
    Principal lena =
        access.authenticate(
            access.createToken(admin, new TokenRequest("t", "lena", "1d", null)).secret());
    Principal vic =
        access.authenticate(
            access.createToken(admin, new TokenRequest("t", "vic", "1d", null)).secret());

    // Reading counts in both of lena's projects; changing only in the one she operates.
    assertThat(access.narrowTo(lena, "devices:read").deviceSelectors())
        .contains(List.of("region=eu", "region=us"));
    Principal writing = access.narrowTo(lena, "devices:write");
    assertThat(writing.deviceSelectors()).contains(List.of("region=eu"));
    assertThat(writing.projects()).containsOnlyKeys("eu");

    // A viewer over the whole fleet who operates one project changes that project only.
    assertThat(access.narrowTo(vic, "devices:read")).isEqualTo(vic);
    assertThat(access.narrowTo(vic, "deployments:write").deviceSelectors())
        .contains(List.of("region=us"));
    assertThat(access.narrowTo(vic, "deployments:write").confined()).isTrue();
    assertThat(access.narrowTo(access.authenticate(bootstrap), "users:write").confined()).isFalse();
  }

  @Test
  void theLastUseOfATokenIsKeptToTheMinute() {
    var created = access.createToken(admin, new TokenRequest("cli", null, "1d", null));
    assertThat(created.token().lastUsedAt()).isNull();

    access.authenticate(created.secret());
    Instant first = clock.instant();
    clock.advance(Duration.ofSeconds(30));
    access.authenticate(created.secret());

    assertThat(access.tokens(admin, Optional.empty()).getFirst().lastUsedAt()).isEqualTo(first);
    clock.advance(AccessControl.LAST_USED_RESOLUTION);
    access.authenticate(created.secret());
    assertThat(access.tokens(admin, Optional.empty()).getFirst().lastUsedAt())
        .isEqualTo(clock.instant());
    // Written to the table, so another replica sees it.
    AccessControl other =
        new AccessControl(
            db.jdbi(), clock, new AuditLog(db.jdbi(), clock), new AdminTokens(db.jdbi(), clock));
    assertThat(other.tokens(other.caller(bootstrap), Optional.empty()).getFirst().lastUsedAt())
        .isEqualTo(clock.instant());
  }
}
