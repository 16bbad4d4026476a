package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import java.nio.file.Path;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Rendering of alerts and rules, registration, and input refused before any call. */
class AlertsCommandTest {
  static final Instant NOW = Instant.parse("2026-11-23T12:00:00Z");

  static JsonNode json(String text) throws Exception {
    return Json.mapper().readTree(text);
  }

  @Test
  void registersListRulesAndReceivers() {
    CommandLine alerts = Cli.commandLine().getSubcommands().get("alerts");
    assertThat(alerts.getSubcommands()).containsOnlyKeys("list", "rules", "receivers");
    assertThat(alerts.getSubcommands().get("rules").getSubcommands())
        .containsOnlyKeys("list", "show", "add", "remove");
    assertThat(alerts.getSubcommands().get("receivers").getSubcommands())
        .containsOnlyKeys("list", "add", "remove");
  }

  @Test
  void alertsShowStateSinceWhenAndHowTheirNotificationsStand() throws Exception {
    JsonNode items =
        json(
            "[{\"state\":\"FIRING\",\"rule\":\"site-down\",\"severity\":\"critical\","
                + "\"since\":\"2026-11-23T11:48:00Z\",\"summary\":\"device pos-1 is offline\","
                + "\"delivery\":{\"pending\":1,\"sent\":1,\"failed\":0,"
                + "\"lastError\":\"HTTP 500: boom\"}},"
                + "{\"state\":\"RESOLVED\",\"rule\":\"disk\",\"severity\":\"warning\","
                + "\"since\":\"2026-11-23T09:00:00Z\",\"resolvedAt\":\"2026-11-23T11:00:00Z\","
                + "\"summary\":\"disk / of pos-2 is 93% full\","
                + "\"delivery\":{\"pending\":0,\"sent\":2,\"failed\":0}}]");
    String out = AlertsCommand.alerts(items, NOW);
    assertThat(out.lines().toList())
        .hasSize(3)
        .first()
        .asString()
        .startsWith("STATE")
        .contains("SINCE", "RESOLVED", "NOTIFICATIONS");
    assertThat(out.lines().toList().get(1))
        .contains("FIRING", "site-down", "12m ago", "device pos-1 is offline")
        .contains("1 sent, 1 pending (HTTP 500: boom)");
    assertThat(out.lines().toList().get(2)).contains("RESOLVED", "3h ago", "1h ago", "2 sent");
    assertThat(AlertsCommand.alerts(json("[]"), NOW)).contains("No alerts");
  }

  @Test
  void rulesReadAsConditions() throws Exception {
    assertThat(AlertsCommand.condition(json("{\"type\":\"device-offline\",\"for\":\"10m\"}")))
        .isEqualTo("offline > 10m");
    assertThat(AlertsCommand.condition(json("{\"type\":\"device-quarantined\"}")))
        .isEqualTo("QUARANTINED");
    assertThat(
            AlertsCommand.condition(
                json("{\"type\":\"disk-usage\",\"percent\":90.0,\"mount\":\"/\"}")))
        .isEqualTo("disk / ≥ 90%");
    assertThat(
            AlertsCommand.condition(
                json("{\"type\":\"app-failed\",\"app\":\"web\",\"for\":\"5m\"}")))
        .isEqualTo("app web FAILED for 5m");
    assertThat(
            AlertsCommand.condition(json("{\"type\":\"certificate-expiring\",\"within\":\"30d\"}")))
        .isEqualTo("certificate expires within 30d");
    assertThat(AlertsCommand.condition(json("{\"type\":\"rollout-paused\"}")))
        .isEqualTo("rollout PAUSED");
  }

  @Test
  void anUnreadableCaFileIsExitTwoBeforeAnyCall(@TempDir Path dir) {
    Cli.Result r =
        Cli.run(
            "alerts",
            "receivers",
            "add",
            "ops",
            "--url",
            "https://hooks.test/x",
            "--ca-file",
            dir.resolve("missing.pem").toString(),
            "--server",
            "https://192.0.2.1:9",
            "--token",
            "t",
            "--ca-fingerprint",
            "sha256:" + "a".repeat(64));
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("cannot read --ca-file").contains("missing.pem");
  }

  @Test
  void aRuleNeedsAType() {
    Cli.Result r = Cli.run("alerts", "rules", "add", "down");
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("Missing required option: '--type=TYPE'");
  }
}
