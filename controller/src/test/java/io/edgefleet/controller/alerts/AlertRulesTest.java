package io.edgefleet.controller.alerts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.secrets.SecretBox;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.assertj.core.api.ThrowableAssert;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Rules and receivers are validated with every problem named, and nothing bad is stored. */
class AlertRulesTest {
  @TempDir Path dir;
  Database db;
  AlertRules rules;
  AlertReceivers receivers;
  AuditLog audit;

  @BeforeEach
  void open() {
    db = Database.open(Database.sqliteUrl(dir), null, null);
    Clock clock = Clock.fixed(Instant.parse("2026-11-23T10:00:00Z"), ZoneOffset.UTC);
    audit = new AuditLog(db.jdbi(), clock);
    rules = new AlertRules(db.jdbi(), clock, audit);
    receivers = new AlertReceivers(db.jdbi(), clock, audit, SecretBox.ofKey(new byte[32]), rules);
  }

  @AfterEach
  void close() {
    db.close();
  }

  static JsonNode json(String text) throws Exception {
    return Json.mapper().readTree(text);
  }

  static void refused(ThrowableAssert.ThrowingCallable call, ErrorCode code, String... parts) {
    assertThatThrownBy(call)
        .isInstanceOfSatisfying(
            ControllerException.class, e -> assertThat(e.code()).isEqualTo(code))
        .message()
        .contains(parts);
  }

  @Test
  void aValidRuleIsStoredWithItsParametersAndAudited() throws Exception {
    receivers.create(json("{\"name\":\"ops\",\"url\":\"https://hooks.test/x\"}"), "alice");
    Rule r =
        rules.create(
            json(
                "{\"name\":\"site-down\",\"type\":\"DEVICE_OFFLINE\",\"for\":\"90s\","
                    + "\"selector\":\"site in (s1,s2)\",\"severity\":\"Critical\","
                    + "\"receivers\":[\"ops\"],\"repeat\":\"4h\"}"),
            "alice");
    assertThat(r.type()).isEqualTo(RuleType.DEVICE_OFFLINE);
    assertThat(r.forText()).isEqualTo("90s");
    assertThat(r.severity()).isEqualTo("critical");
    assertThat(r.repeat()).isEqualTo("4h");
    Rule stored = rules.get("site-down");
    assertThat(stored).isEqualTo(r);
    assertThat(rules.get(r.id())).isEqualTo(r);
    assertThat(Json.write(stored))
        .contains("\"type\":\"device-offline\"")
        .contains("\"for\":\"90s\"");
    assertThat(audit.recent(10))
        .extracting(AuditLog.Entry::action)
        .contains("alert.rule.create", "alert.receiver.create");
  }

  @Test
  void badRulesAreRefusedWithEveryProblemNamed() {
    refused(
        () -> rules.create(json("{\"name\":\"x\",\"type\":\"device-exploded\"}"), "a"),
        ErrorCode.VALIDATION_FAILED,
        "unknown rule type 'device-exploded'",
        "device-offline, app-failed, disk-usage, certificate-expiring, rollout-paused,"
            + " device-quarantined, cluster-degraded");
    refused(
        () ->
            rules.create(
                json("{\"name\":\"x\",\"type\":\"device-offline\",\"for\":\"ten minutes\"}"), "a"),
        ErrorCode.VALIDATION_FAILED,
        "for: 'ten minutes' is not a duration");
    refused(
        () -> rules.create(json("{\"name\":\"x\",\"type\":\"device-offline\"}"), "a"),
        ErrorCode.VALIDATION_FAILED,
        "need 'for'");
    refused(
        () -> rules.create(json("{\"name\":\"x\",\"type\":\"disk-usage\",\"percent\":120}"), "a"),
        ErrorCode.VALIDATION_FAILED,
        "percent must be more than 0 and at most 100, got 120");
    refused(
        () -> rules.create(json("{\"name\":\"x\",\"type\":\"disk-usage\",\"percent\":0}"), "a"),
        ErrorCode.VALIDATION_FAILED,
        "more than 0");
    refused(
        () -> rules.create(json("{\"name\":\"x\",\"type\":\"disk-usage\"}"), "a"),
        ErrorCode.VALIDATION_FAILED,
        "need 'percent'");
    refused(
        () ->
            rules.create(
                json("{\"name\":\"x\",\"type\":\"certificate-expiring\",\"within\":\"-3d\"}"), "a"),
        ErrorCode.VALIDATION_FAILED,
        "within: '-3d' is not a duration");
    // Several problems in one answer, including a misspelt field that would otherwise be lost.
    refused(
        () ->
            rules.create(
                json(
                    "{\"name\":\"Bad Name\",\"type\":\"app-failed\",\"percnt\":5,"
                        + "\"severity\":\"urgent\",\"receivers\":[\"nobody\"],"
                        + "\"selector\":\"site in (\"}"),
                "a"),
        ErrorCode.VALIDATION_FAILED,
        "unknown field 'percnt'",
        "name 'Bad Name'",
        "severity 'urgent'",
        "unknown receiver nobody",
        "selector:");
    refused(
        () ->
            rules.create(
                json("{\"name\":\"x\",\"type\":\"rollout-paused\",\"selector\":\"site=a\"}"), "a"),
        ErrorCode.VALIDATION_FAILED,
        "use 'app' instead of 'selector'");
    refused(
        () -> rules.create(json("{\"name\":\"x\",\"type\":\"app-failed\",\"for\":5}"), "a"),
        ErrorCode.VALIDATION_FAILED,
        "'for' must be text");
    refused(() -> rules.create(json("[1,2]"), "a"), ErrorCode.VALIDATION_FAILED, "JSON object");
    assertThat(rules.list()).isEmpty();
  }

  @Test
  void aRuleNameIsUniqueAndAnUnknownRuleIsNotFound() throws Exception {
    rules.create(json("{\"name\":\"paused\",\"type\":\"rollout-paused\"}"), "a");
    refused(
        () -> rules.create(json("{\"name\":\"paused\",\"type\":\"rollout-paused\"}"), "a"),
        ErrorCode.CONFLICT,
        "named 'paused' exists");
    refused(() -> rules.delete("nope", "a"), ErrorCode.NOT_FOUND, "'nope' does not exist");
    rules.delete("paused", "a");
    assertThat(rules.list()).isEmpty();
  }

  @Test
  void badReceiversAreRefusedAndTheUrlIsShownOnlyAsAHint() throws Exception {
    refused(
        () -> receivers.create(json("{\"name\":\"r\",\"url\":\"ftp://files.test/x\"}"), "a"),
        ErrorCode.VALIDATION_FAILED,
        "must start with https://");
    refused(
        () -> receivers.create(json("{\"name\":\"r\",\"url\":\"https:///nohost\"}"), "a"),
        ErrorCode.VALIDATION_FAILED,
        "has no host");
    refused(
        () -> receivers.create(json("{\"name\":\"r\",\"url\":\"not a url\"}"), "a"),
        ErrorCode.VALIDATION_FAILED,
        "is not a URL");
    refused(
        () ->
            receivers.create(
                json("{\"name\":\"r\",\"url\":\"https://h.test/\",\"format\":\"teams\"}"), "a"),
        ErrorCode.VALIDATION_FAILED,
        "unknown receiver format 'teams'",
        "generic, slack, alertmanager");
    refused(
        () ->
            receivers.create(
                json("{\"name\":\"r\",\"url\":\"https://h.test/\",\"caPem\":\"hello\"}"), "a"),
        ErrorCode.VALIDATION_FAILED,
        "caPem:");
    refused(
        () -> receivers.create(json("{\"name\":\"r\"}"), "a"),
        ErrorCode.VALIDATION_FAILED,
        "'url' is required");
    assertThat(receivers.list()).isEmpty();

    AlertReceivers.View v =
        receivers.create(
            json(
                "{\"name\":\"slack\",\"format\":\"slack\","
                    + "\"url\":\"https://hooks.slack.test/services/T000/B000/SECRET\"}"),
            "a");
    assertThat(v.url()).isEqualTo("https://hooks.slack.test/…");
    assertThat(Json.write(receivers.list())).doesNotContain("SECRET");
    String stored =
        db.jdbi()
            .withHandle(
                h ->
                    h.createQuery("SELECT url_sealed FROM alert_receivers")
                        .mapTo(String.class)
                        .one());
    assertThat(stored).doesNotContain("SECRET");
    assertThat(db.jdbi().withHandle(receivers::targets).values())
        .singleElement()
        .satisfies(
            t ->
                assertThat(t.url().toString())
                    .isEqualTo("https://hooks.slack.test/services/T000/B000/SECRET"));
  }

  @Test
  void aReceiverInUseCannotBeDeleted() throws Exception {
    receivers.create(json("{\"name\":\"ops\",\"url\":\"https://h.test/\"}"), "a");
    rules.create(
        json(
            "{\"name\":\"down\",\"type\":\"device-offline\",\"for\":\"5m\",\"receivers\":[\"ops\"]}"),
        "a");
    refused(() -> receivers.delete("ops", "a"), ErrorCode.CONFLICT, "used by the alert rule down");
    rules.delete("down", "a");
    receivers.delete("ops", "a");
    assertThat(receivers.list()).isEmpty();
  }
}
