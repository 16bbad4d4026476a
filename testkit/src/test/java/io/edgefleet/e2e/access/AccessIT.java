package io.edgefleet.e2e.access;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.AdminClient.Answer;
import io.edgefleet.testkit.MovableClock;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Users, roles and API tokens over the controller's real HTTPS listener. */
class AccessIT {
  @TempDir Path dir;
  MovableClock clock = MovableClock.startingAt(Instant.now());
  TestController c;

  /** The controller's configuration: SQLite here, PostgreSQL in a subclass. */
  ControllerConfig config(Path dataDir) {
    return TestController.config(dataDir);
  }

  @BeforeEach
  void start() {
    c = TestController.start(config(dir), clock);
  }

  @AfterEach
  void stop() {
    c.close();
  }

  /** Creates a user with these roles and a token for it; returns a client with that token. */
  private AdminClient user(String name, String kind, List<String> roles, Map<String, ?> token) {
    Answer created =
        c.admin().post("/api/v1/users", Map.of("name", name, "kind", kind, "roles", roles));
    assertThat(created.status()).as(created.body().toString()).isEqualTo(201);
    return client(secret(name, token));
  }

  private String secret(String user, Map<String, ?> token) {
    Map<String, Object> body = new java.util.HashMap<>(token);
    body.put("user", user);
    body.putIfAbsent("name", "t-" + body.size());
    Answer t = c.admin().post("/api/v1/tokens", body);
    assertThat(t.status()).as(t.body().toString()).isEqualTo(201);
    assertThat(t.body().path("token").has("secret")).isFalse();
    return t.body().path("secret").asText();
  }

  private AdminClient client(String token) {
    return new AdminClient(c.url(), token, c.caFingerprint());
  }

  @Test
  void theBootstrapTokenIsTheAdministrator() {
    Answer me = c.admin().get("/api/v1/whoami");
    assertThat(me.status()).isEqualTo(200);
    assertThat(me.body().path("name").asText()).isEqualTo("admin");
    assertThat(me.body().path("roles").toString()).isEqualTo("[\"admin\"]");
    assertThat(c.admin().get("/api/v1/audit").status()).isEqualTo(200);
  }

  @Test
  void aViewerReadsButIsRefusedWritesWithTheMissingPermission() {
    try (AdminClient viewer = user("vera", "user", List.of("viewer"), Map.of())) {
      assertThat(viewer.get("/api/v1/devices").status()).isEqualTo(200);
      assertThat(viewer.get("/api/v1/rollouts").status()).isEqualTo(200);

      Answer refused = viewer.delete("/api/v1/deployments/web");
      assertThat(refused.status()).isEqualTo(403);
      assertThat(refused.code()).isEqualTo("PERMISSION_DENIED");
      assertThat(refused.body().path("message").asText())
          .contains("needs deployments:write")
          .contains("your role viewer has")
          .contains("ask an administrator");
      assertThat(viewer.get("/api/v1/audit").code()).isEqualTo("PERMISSION_DENIED");
      assertThat(viewer.post("/api/v1/users", Map.of("name", "x")).status()).isEqualTo(403);
    }
    Answer audit = c.admin().get("/api/v1/audit?action=user.create");
    assertThat(audit.body().path("items").get(0).path("actor").asText()).isEqualTo("admin");
    assertThat(audit.body().path("items").get(0).path("target").asText()).isEqualTo("vera");
  }

  @Test
  void anOperatorChangesTheFleetButNotUsersOrTheAuditLog() {
    try (AdminClient operator = user("olga", "user", List.of("operator"), Map.of())) {
      // Past the permission check: the deployment just does not exist.
      assertThat(operator.delete("/api/v1/deployments/web").code()).isEqualTo("NOT_FOUND");
      Answer prereg = operator.post("/api/v1/preregistrations", Map.of("serial", "SN-1"));
      assertThat(prereg.status()).isEqualTo(403);
      assertThat(prereg.body().path("message").asText()).contains("onboarding:write");
      assertThat(operator.get("/api/v1/audit").status()).isEqualTo(403);
      assertThat(operator.delete("/api/v1/users/admin").status()).isEqualTo(403);
      Answer me = operator.get("/api/v1/whoami");
      assertThat(me.body().path("name").asText()).isEqualTo("olga");
      assertThat(me.body().path("token").path("expiresAt").asText()).isNotEmpty();
    }
  }

  @Test
  void anExpiredTokenIsRefusedAndSaysToLogInAgain() {
    try (AdminClient viewer = user("eve", "user", List.of("viewer"), Map.of("expiresIn", "5m"))) {
      assertThat(viewer.get("/api/v1/devices").status()).isEqualTo(200);

      clock.advance(Duration.ofMinutes(6));

      Answer expired = viewer.get("/api/v1/devices");
      assertThat(expired.status()).isEqualTo(401);
      assertThat(expired.code()).isEqualTo("TOKEN_EXPIRED");
      assertThat(expired.body().path("message").asText()).contains("edgefleet login");
    }
  }

  @Test
  void aRevokedTokenStopsWorking() {
    try (AdminClient op = user("rob", "user", List.of("operator"), Map.of("name", "laptop"))) {
      String id = op.get("/api/v1/whoami").body().path("token").path("id").asText();
      assertThat(op.get("/api/v1/tokens").body().path("items").get(0).path("name").asText())
          .isEqualTo("laptop");

      assertThat(c.admin().delete("/api/v1/tokens/" + id).status()).isEqualTo(204);

      assertThat(op.get("/api/v1/devices").code()).isEqualTo("UNAUTHENTICATED");
    }
    Answer audit = c.admin().get("/api/v1/audit?action=token.revoke");
    assertThat(audit.body().path("items").get(0).path("target").asText()).isEqualTo("rob");
  }

  @Test
  void aScopedTokenMayDoOnlyWhatItsScopesName() {
    try (AdminClient scoped =
        user("sam", "user", List.of("operator"), Map.of("scopes", List.of("devices:read")))) {
      assertThat(scoped.get("/api/v1/devices").status()).isEqualTo(200);
      Answer refused = scoped.get("/api/v1/rollouts");
      assertThat(refused.code()).isEqualTo("PERMISSION_DENIED");
      assertThat(refused.body().path("message").asText())
          .contains("rollouts:read")
          .contains("your token is scoped to devices:read");
    }
    Answer tooWide =
        c.admin()
            .post(
                "/api/v1/tokens",
                Map.of("name", "wide", "user", "sam", "scopes", List.of("users:write")));
    assertThat(tooWide.code()).isEqualTo("VALIDATION_FAILED");
  }

  @Test
  void aServiceAccountHoldsATokenThatNeedNotExpire() {
    Answer sa =
        c.admin()
            .post("/api/v1/service-accounts", Map.of("name", "ci", "roles", List.of("operator")));
    assertThat(sa.status()).isEqualTo(201);
    assertThat(sa.body().path("kind").asText()).isEqualTo("service");
    try (AdminClient ci = client(secret("ci", Map.of("expiresIn", "never")))) {
      Answer me = ci.get("/api/v1/whoami");
      assertThat(me.body().path("kind").asText()).isEqualTo("service");
      assertThat(me.body().path("token").has("id")).isTrue();
      assertThat(me.body().path("token").hasNonNull("expiresAt")).isFalse();
      clock.advance(Duration.ofDays(400));
      assertThat(ci.get("/api/v1/deployments").status()).isEqualTo(200);
    }
    assertThat(c.admin().get("/api/v1/service-accounts").body().path("items").size()).isEqualTo(1);
  }

  @Test
  void customRolesAreBuiltFromKnownPermissions() {
    Answer bad =
        c.admin().post("/api/v1/roles", Map.of("name", "odd", "permissions", List.of("fly:up")));
    assertThat(bad.code()).isEqualTo("VALIDATION_FAILED");
    assertThat(bad.body().path("message").asText()).contains("fly:up").contains("rollouts:write");
    Answer role =
        c.admin()
            .post("/api/v1/roles", Map.of("name", "auditor", "permissions", List.of("audit:read")));
    assertThat(role.status()).isEqualTo(201);
    try (AdminClient auditor = user("aud", "user", List.of("auditor"), Map.of())) {
      assertThat(auditor.get("/api/v1/audit").status()).isEqualTo(200);
      assertThat(auditor.get("/api/v1/devices").status()).isEqualTo(403);
    }
    assertThat(c.admin().delete("/api/v1/roles/auditor").code()).isEqualTo("CONFLICT");
  }
}
