package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.Controller;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Pem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code alerts rules|receivers|list} against a real controller: tables by default, JSON with
 * {@code -o json}, every validation problem named, nothing stored from bad input.
 */
class AlertsCommandIT {
  @TempDir static Path dir;
  private static Controller controller;

  @BeforeAll
  static void startController() {
    controller =
        Controller.start(
            ControllerConfig.defaults(dir.resolve("controller")).withListen("127.0.0.1", 0),
            Clock.systemUTC());
  }

  @AfterAll
  static void stopController() {
    if (controller != null) {
      controller.close();
    }
  }

  @Test
  void receiversAndRulesAreManagedAndBadInputIsRefusedClearly() throws Exception {
    Path ca = dir.resolve("ca.pem");
    Files.writeString(ca, Pem.certificate(controller.pki().caCertificate()));
    Cli.Result added =
        run(
            "alerts",
            "receivers",
            "add",
            "ops",
            "--url",
            "https://hooks.test/services/SECRET",
            "--format",
            "slack",
            "--ca-file",
            ca.toString());
    assertThat(added.exitCode()).as(added.err()).isZero();
    assertThat(added.out()).contains("ops (slack) → https://hooks.test/…");
    assertThat(added.out()).doesNotContain("SECRET");

    Cli.Result badUrl = run("alerts", "receivers", "add", "bad", "--url", "ftp://x.test/");
    assertThat(badUrl.exitCode()).isEqualTo(1);
    assertThat(badUrl.err()).contains("VALIDATION_FAILED").contains("must start with https://");

    Cli.Result rule =
        run(
            "alerts",
            "rules",
            "add",
            "site-down",
            "--type",
            "device-offline",
            "--for",
            "10m",
            "--selector",
            "site=s1",
            "--severity",
            "critical",
            "--receiver",
            "ops",
            "--repeat",
            "4h");
    assertThat(rule.exitCode()).as(rule.err()).isZero();
    assertThat(rule.out())
        .contains("site-down")
        .contains("offline > 10m")
        .contains("site=s1")
        .contains("critical");

    Cli.Result bad =
        run(
            "alerts",
            "rules",
            "add",
            "disk",
            "--type",
            "disk-usage",
            "--percent",
            "150",
            "--for",
            "soon");
    assertThat(bad.exitCode()).isEqualTo(1);
    assertThat(bad.err())
        .contains("VALIDATION_FAILED")
        .contains("percent must be more than 0 and at most 100, got 150")
        .contains("for: 'soon' is not a duration");
    Cli.Result unknown = run("alerts", "rules", "add", "x", "--type", "device-exploded");
    assertThat(unknown.err()).contains("unknown rule type 'device-exploded'");

    Cli.Result list = run("alerts", "rules", "list");
    assertThat(list.out()).startsWith("NAME").contains("site-down").contains("ops").contains("4h");
    assertThat(list.out()).doesNotContain("disk");
    JsonNode rules =
        Json.mapper().readTree(run("alerts", "rules", "list", "-o", "json").out()).path("items");
    assertThat(rules).hasSize(1);
    assertThat(rules.get(0).path("type").asText()).isEqualTo("device-offline");
    assertThat(rules.get(0).path("for").asText()).isEqualTo("10m");

    JsonNode receivers =
        Json.mapper()
            .readTree(run("alerts", "receivers", "list", "-o", "json").out())
            .path("items");
    assertThat(receivers.get(0).path("customCa").asBoolean()).isTrue();
    assertThat(run("alerts", "receivers", "list").out()).contains("slack").contains("yes");

    Cli.Result inUse = run("alerts", "receivers", "remove", "ops");
    assertThat(inUse.exitCode()).isEqualTo(1);
    assertThat(inUse.err()).contains("CONFLICT").contains("site-down");

    Cli.Result alerts = run("alerts", "list");
    assertThat(alerts.exitCode()).as(alerts.err()).isZero();
    assertThat(alerts.out()).contains("No alerts");
    assertThat(run("alerts", "list", "--state", "bogus").err()).contains("VALIDATION_FAILED");

    assertThat(run("alerts", "rules", "remove", "site-down").exitCode()).isZero();
    assertThat(run("alerts", "receivers", "remove", "ops").exitCode()).isZero();
    assertThat(run("alerts", "rules", "show", "site-down").err()).contains("does not exist");
  }

  private static Cli.Result run(String... args) {
    return Cli.run(
        Stream.concat(Stream.of(args), Stream.of("--config", controller.cliConfig().toString()))
            .toArray(String[]::new));
  }
}
