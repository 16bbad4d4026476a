package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.Controller;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.protocol.Json;
import java.nio.file.Path;
import java.time.Clock;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code signing-key} against a real controller: a rotation start to finish, a table by default and
 * JSON with {@code -o json}, and the controller's refusals with their codes.
 */
class SigningKeyCommandIT {
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
  void aRotationFromStartToRetirement() throws Exception {
    Cli.Result list = run("signing-key", "list");
    assertThat(list.exitCode()).as(list.err()).isZero();
    assertThat(list.out())
        .startsWith("ID")
        .contains("DEVICES DEPENDENT")
        .contains("CURRENT")
        .contains("sha256:");
    String first =
        Json.mapper()
            .readTree(run("signing-key", "list", "-o", "json").out())
            .path("items")
            .get(0)
            .path("id")
            .asText();

    Cli.Result started = run("signing-key", "rotate");
    assertThat(started.exitCode()).as(started.err()).isZero();
    assertThat(started.out()).contains("NEXT").contains("signing-key rotate --finish");

    Cli.Result again = run("signing-key", "rotate");
    assertThat(again.exitCode()).isEqualTo(1);
    assertThat(again.err()).contains("SIGNING_KEY_STATE_CONFLICT").contains("under way");

    Cli.Result finished = run("signing-key", "rotate", "--finish", "-o", "json");
    assertThat(finished.exitCode()).as(finished.err()).isZero();
    JsonNode current = Json.mapper().readTree(finished.out());
    assertThat(current.path("state").asText()).isEqualTo("CURRENT");

    Cli.Result current2 = run("signing-key", "retire", current.path("id").asText());
    assertThat(current2.exitCode()).isEqualTo(1);
    assertThat(current2.err()).contains("current signing key");

    Cli.Result retired = run("signing-key", "retire", first);
    assertThat(retired.exitCode()).as(retired.err()).isZero();
    assertThat(retired.out()).contains("RETIRED").contains(first);
    assertThat(run("signing-key", "list").out())
        .contains("CURRENT", "RETIRED")
        .doesNotContain("PREVIOUS");
  }

  private Cli.Result run(String... args) {
    return Cli.run(
        Stream.concat(Stream.of(args), Stream.of("--config", controller.cliConfig().toString()))
            .toArray(String[]::new));
  }
}
