package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.Controller;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.protocol.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code secrets} against a real controller: create from literals and files, update, list as a
 * table and as JSON (never a value), rotate the master key, delete; refusals with their codes.
 */
class SecretsCommandIT {
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

  @Test
  void secretsFromCreationToDeletion() throws Exception {
    Path cert = dir.resolve("db.crt");
    Files.write(cert, new byte[] {1, 2, 3, (byte) 0xff});
    Cli.Result created =
        run(
            "secrets",
            "create",
            "db",
            "--from-literal",
            "password=hunter2-very-secret",
            "--from-file",
            "tls.crt=" + cert,
            "--target",
            "site=s1",
            "--namespace",
            "shop");
    assertThat(created.exitCode()).as(created.err()).isZero();
    assertThat(created.out())
        .contains("db")
        .contains("shop")
        .contains("password, tls.crt")
        .doesNotContain("hunter2");

    Cli.Result again = run("secrets", "create", "db", "--from-literal", "a=b");
    assertThat(again.exitCode()).isEqualTo(1);
    assertThat(again.err()).contains("SECRET_EXISTS");
    Cli.Result noValues = run("secrets", "create", "x");
    assertThat(noValues.exitCode()).isEqualTo(2);
    assertThat(noValues.err()).contains("--from-literal");

    Cli.Result updated = run("secrets", "update", "db", "--from-literal", "password=second");
    assertThat(updated.exitCode()).as(updated.err()).isZero();

    Cli.Result list = run("secrets", "list");
    assertThat(list.exitCode()).as(list.err()).isZero();
    assertThat(list.out())
        .startsWith("NAME")
        .contains("NAMESPACE")
        .contains("site=s1")
        .doesNotContain("second");
    JsonNode items =
        Json.mapper().readTree(run("secrets", "list", "-o", "json").out()).path("items");
    assertThat(items).hasSize(1);
    assertThat(items.get(0).path("version").asLong()).isEqualTo(2);
    assertThat(items.get(0).path("keys").toString()).isEqualTo("[\"password\"]");

    Cli.Result rotated = run("secrets", "rotate-key");
    assertThat(rotated.exitCode()).as(rotated.err()).isZero();
    assertThat(rotated.out()).contains("wraps 1 re-wrapped");

    Cli.Result deleted = run("secrets", "delete", "db", "--yes");
    assertThat(deleted.exitCode()).as(deleted.err()).isZero();
    assertThat(run("secrets", "list", "-o", "json").out()).contains("\"items\" : [ ]");
    Cli.Result missing = run("secrets", "delete", "db", "--yes");
    assertThat(missing.exitCode()).isEqualTo(1);
    assertThat(missing.err()).contains("NOT_FOUND");
  }

  private Cli.Result run(String... args) {
    return Cli.run(
        Stream.concat(Stream.of(args), Stream.of("--config", controller.cliConfig().toString()))
            .toArray(String[]::new));
  }
}
