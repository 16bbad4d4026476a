package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.Controller;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.protocol.Json;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code login}, {@code whoami}, {@code users}, {@code roles} and {@code tokens} against a real
 * controller.
 */
class AccessCommandsIT {
  @TempDir Path dir;
  private Controller controller;

  @BeforeEach
  void startController() {
    controller =
        Controller.start(
            ControllerConfig.defaults(dir.resolve("controller")).withListen("127.0.0.1", 0),
            Clock.systemUTC());
  }

  @AfterEach
  void stopController() {
    controller.close();
  }

  private Cli.Result admin(String... args) {
    return Cli.run(
        Stream.concat(Stream.of(args), Stream.of("--config", controller.cliConfig().toString()))
            .toArray(String[]::new));
  }

  @Test
  void anAdministratorGivesAUserATokenAndTheUserLogsInWithIt() throws Exception {
    Cli.Result created = admin("users", "create", "olga", "--role", "operator");
    assertThat(created.exitCode()).as(created.err()).isZero();
    assertThat(created.out()).contains("olga").contains("operator");

    Cli.Result token =
        admin("tokens", "create", "laptop", "--user", "olga", "--expires-in", "30d", "-o", "json");
    assertThat(token.exitCode()).as(token.err()).isZero();
    String secret = Json.mapper().readTree(token.out()).path("secret").asText();
    assertThat(secret).isNotBlank();

    Path config = dir.resolve("home/.edgefleet/cli-config.json");
    Cli.Result login =
        Cli.run(
            "login",
            "--server",
            controller.url(),
            "--ca-fingerprint",
            controller.pki().caFingerprint(),
            "--token",
            secret,
            "--config",
            config.toString());
    assertThat(login.exitCode()).as(login.err()).isZero();
    assertThat(login.out())
        .contains("logged in to " + controller.url())
        .contains("as olga")
        .contains("roles: operator")
        .contains("the token expires")
        .contains("in 30d");
    JsonNode stored = Json.mapper().readTree(config.toFile());
    assertThat(stored.path("token").asText()).isEqualTo(secret);
    assertThat(stored.path("server").asText()).isEqualTo(controller.url());
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(config)))
        .isEqualTo("rw-------");

    Cli.Result whoami = Cli.run("whoami", "--config", config.toString());
    assertThat(whoami.exitCode()).as(whoami.err()).isZero();
    assertThat(whoami.out()).contains("olga").contains("laptop").contains("rollouts:write");

    Cli.Result refused = Cli.run("audit", "--config", config.toString());
    assertThat(refused.exitCode()).isEqualTo(1);
    assertThat(refused.err()).contains("audit:read").contains("ask an administrator");
  }

  @Test
  void loginReadsTheTokenFromStandardInputAndRefusesABadOne() throws Exception {
    Path config = dir.resolve("cfg.json");
    String adminToken = controller.adminToken().orElseThrow();
    InputStream stdin = System.in;
    try {
      System.setIn(new ByteArrayInputStream((adminToken + "\n").getBytes(StandardCharsets.UTF_8)));
      Cli.Result login =
          Cli.run(
              "login",
              "--server",
              controller.url(),
              "--ca-fingerprint",
              controller.pki().caFingerprint(),
              "--config",
              config.toString());
      assertThat(login.exitCode()).as(login.err()).isZero();
      assertThat(login.out()).contains("as admin").contains("does not expire");

      Cli.Result wrong = Cli.run("login", "--token", "eft_nope", "--config", config.toString());
      assertThat(wrong.exitCode()).isEqualTo(1);
      assertThat(wrong.err()).contains("not valid");
      // A refused token is not stored.
      assertThat(Json.mapper().readTree(config.toFile()).path("token").asText())
          .isEqualTo(adminToken);
    } finally {
      System.setIn(stdin);
    }
  }

  @Test
  void loginWithSsoSaysWhenTheControllerHasNoProvider() {
    Path config = dir.resolve("home/.edgefleet/sso-config.json");
    Cli.Result off =
        Cli.run(
            "login",
            "--sso",
            "--server",
            controller.url(),
            "--ca-fingerprint",
            controller.pki().caFingerprint(),
            "--config",
            config.toString());
    assertThat(off.exitCode()).isEqualTo(1);
    assertThat(off.err()).contains("single sign-on is not configured on this controller");
    assertThat(config).doesNotExist();
    Cli.Result both =
        Cli.run(
            "login",
            "--sso",
            "--token",
            "eft_x",
            "--server",
            controller.url(),
            "--ca-fingerprint",
            controller.pki().caFingerprint(),
            "--config",
            config.toString());
    assertThat(both.exitCode()).isEqualTo(2);
    assertThat(both.err()).contains("--sso and --token exclude each other");
  }

  @Test
  void rolesAndTokensAreListedAsTablesAndJson() throws Exception {
    Cli.Result bad = admin("roles", "create", "odd", "--permission", "fly:up");
    assertThat(bad.exitCode()).isEqualTo(1);
    assertThat(bad.err()).contains("unknown permission fly:up").contains("devices:read");
    assertThat(admin("roles", "create", "auditor", "--permission", "audit:read").exitCode())
        .isZero();
    Cli.Result roles = admin("roles", "list");
    assertThat(roles.out()).contains("viewer").contains("operator").contains("auditor");
    JsonNode json = Json.mapper().readTree(admin("roles", "list", "-o", "json").out());
    assertThat(json.path("items").size()).isEqualTo(4);

    assertThat(admin("users", "create", "ci", "--service", "--role", "viewer").exitCode()).isZero();
    Cli.Result token =
        admin(
            "tokens",
            "create",
            "deploy",
            "--user",
            "ci",
            "--expires-in",
            "never",
            "--scope",
            "devices:read");
    assertThat(token.exitCode()).as(token.err()).isZero();
    assertThat(token.out()).contains("secret (shown once").contains("never");
    Cli.Result list = admin("tokens", "list", "--all");
    assertThat(list.out()).contains("deploy").contains("ci").contains("devices:read");
    String id =
        Json.mapper()
            .readTree(admin("tokens", "list", "--user", "ci", "-o", "json").out())
            .path("items")
            .get(0)
            .path("id")
            .asText();
    assertThat(admin("tokens", "revoke", id).out()).contains("revoked token " + id);
    assertThat(admin("tokens", "list", "--user", "ci").out()).contains("No tokens.");
    assertThat(admin("users", "list", "--service-accounts").out())
        .contains("ci")
        .doesNotContain("bootstrap")
        .doesNotContainPattern("(?m)^admin ");
  }

  @Test
  void projectsAreCreatedAndUsersGetRolesWithinThem() {
    Cli.Result created = admin("projects", "create", "stores-eu", "--selector", "region=eu");
    assertThat(created.exitCode()).as(created.err()).isZero();
    assertThat(created.out()).contains("stores-eu").contains("region=eu");
    assertThat(admin("users", "create", "lena").exitCode()).isZero();
    Cli.Result bound =
        admin("users", "set-roles", "lena", "--role", "operator", "--project", "stores-eu");
    assertThat(bound.exitCode()).as(bound.err()).isZero();
    assertThat(bound.out()).contains("operator@stores-eu");
    assertThat(admin("projects", "list").out()).contains("lena");
    Cli.Result refused = admin("projects", "delete", "stores-eu");
    assertThat(refused.exitCode()).isEqualTo(1);
    assertThat(refused.err()).contains("lena");
    assertThat(admin("users", "set-roles", "lena", "--project", "stores-eu").exitCode()).isZero();
    assertThat(admin("projects", "delete", "stores-eu").out())
        .contains("deleted project stores-eu");
  }
}
