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
 * {@code clusters} against a real controller: create (an even server count refused with the
 * reason), list as a table and as JSON, get with its reasons, update, deactivate and activate,
 * rotate the token, delete.
 */
class ClustersCommandIT {
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
  void clustersFromCreationToDeletion() throws Exception {
    Cli.Result even =
        run("clusters", "create", "sjc-1", "--select", "clusterpool=sjc", "--servers", "2..4");
    assertThat(even.exitCode()).isEqualTo(1);
    assertThat(even.err()).contains("CLUSTER_SHAPE_INVALID").contains("majority");

    Cli.Result created =
        run(
            "clusters",
            "create",
            "sjc-1",
            "--select",
            "clusterpool=sjc",
            "--servers",
            "3..3",
            "--agents",
            "0..2",
            "--kubernetes",
            "v1.20.2+k3s1",
            "--label",
            "site=sjc",
            "--grace",
            "10m");
    assertThat(created.exitCode()).as(created.err()).isZero();
    assertThat(created.out())
        .contains("sjc-1")
        .contains("PENDING")
        .contains("0 (3..3)")
        .contains("0 (0..2)")
        .contains("site=sjc")
        .contains("600s");
    Cli.Result again =
        run("clusters", "create", "sjc-1", "--select", "clusterpool=sjc", "--servers", "1");
    assertThat(again.exitCode()).isEqualTo(1);
    assertThat(again.err()).contains("CLUSTER_EXISTS");

    Cli.Result list = run("clusters", "list");
    assertThat(list.exitCode()).as(list.err()).isZero();
    assertThat(list.out()).startsWith("NAME").contains("sjc-1").contains("PENDING");
    JsonNode items =
        Json.mapper().readTree(run("clusters", "list", "-o", "json").out()).path("items");
    assertThat(items).hasSize(1);
    assertThat(items.get(0).path("state").asText()).isEqualTo("PENDING");

    Cli.Result got = run("clusters", "get", "sjc-1");
    assertThat(got.exitCode()).as(got.err()).isZero();
    assertThat(got.out()).contains("Reasons:").contains("tag");

    Cli.Result updated = run("clusters", "update", "sjc-1", "--servers", "1..3");
    assertThat(updated.exitCode()).as(updated.err()).isZero();
    JsonNode view = Json.mapper().readTree(run("clusters", "get", "sjc-1", "-o", "json").out());
    assertThat(view.path("servers").path("min").asInt()).isEqualTo(1);
    assertThat(view.path("servers").path("max").asInt()).isEqualTo(3);
    assertThat(view.path("graceSeconds").asLong()).isEqualTo(600);

    Cli.Result deactivated = run("clusters", "deactivate", "sjc-1");
    assertThat(deactivated.exitCode()).as(deactivated.err()).isZero();
    assertThat(deactivated.out()).contains("DEACTIVATED");
    Cli.Result activated = run("clusters", "update", "sjc-1", "--activate");
    assertThat(activated.exitCode()).as(activated.err()).isZero();
    assertThat(activated.out()).doesNotContain("DEACTIVATED");

    long before = view.path("tokenVersion").asLong();
    Cli.Result rotated = run("clusters", "rotate-token", "sjc-1");
    assertThat(rotated.exitCode()).as(rotated.err()).isZero();
    assertThat(rotated.out()).contains("join token version " + (before + 1));

    Cli.Result deleted = run("clusters", "delete", "sjc-1", "--yes");
    assertThat(deleted.exitCode()).as(deleted.err()).isZero();
    assertThat(run("clusters", "list", "-o", "json").out()).contains("\"items\" : [ ]");
    Cli.Result missing = run("clusters", "get", "sjc-1");
    assertThat(missing.exitCode()).isEqualTo(1);
    assertThat(missing.err()).contains("NOT_FOUND");
  }

  private Cli.Result run(String... args) {
    return Cli.run(
        Stream.concat(Stream.of(args), Stream.of("--config", controller.cliConfig().toString()))
            .toArray(String[]::new));
  }
}
