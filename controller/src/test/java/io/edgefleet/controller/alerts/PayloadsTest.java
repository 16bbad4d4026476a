package io.edgefleet.controller.alerts;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The three body formats, firing and resolved. */
class PayloadsTest {
  static final Instant STARTS = Instant.parse("2026-11-23T10:00:00Z");
  static final Instant ENDS = Instant.parse("2026-11-23T10:30:00Z");

  static Payloads.Notice notice(String status, Instant endsAt) {
    return new Payloads.Notice(
        status,
        "0123456789abcdef",
        "site-down",
        "device-offline",
        "critical",
        "device/dev-1",
        Map.of(
            "alertname",
            "site-down",
            "severity",
            "critical",
            "device",
            "dev-1",
            "rule_type",
            "device-offline"),
        Map.of("summary", "device pos-1 <dev-1> is offline", "description", "no contact & more"),
        STARTS,
        endsAt);
  }

  static JsonNode body(ReceiverFormat f, Payloads.Notice n) throws Exception {
    return Json.mapper().readTree(Payloads.body(f, n, "ops", "https://ctl.test:7443"));
  }

  @Test
  void genericCarriesTheAlertAndItsTimes() throws Exception {
    JsonNode firing = body(ReceiverFormat.GENERIC, notice("firing", null));
    assertThat(firing.path("version").asText()).isEqualTo("1");
    assertThat(firing.path("status").asText()).isEqualTo("firing");
    assertThat(firing.path("receiver").asText()).isEqualTo("ops");
    JsonNode a = firing.path("alert");
    assertThat(a.path("fingerprint").asText()).isEqualTo("0123456789abcdef");
    assertThat(a.path("rule").asText()).isEqualTo("site-down");
    assertThat(a.path("labels").path("device").asText()).isEqualTo("dev-1");
    assertThat(a.path("startsAt").asText()).isEqualTo("2026-11-23T10:00:00Z");
    assertThat(a.has("endsAt")).isFalse();
    JsonNode resolved = body(ReceiverFormat.GENERIC, notice("resolved", ENDS));
    assertThat(resolved.path("alert").path("endsAt").asText()).isEqualTo("2026-11-23T10:30:00Z");
  }

  @Test
  void slackHasTextAndBlocksWithMarkupEscaped() throws Exception {
    JsonNode firing = body(ReceiverFormat.SLACK, notice("firing", null));
    assertThat(firing.path("text").asText())
        .isEqualTo(":rotating_light: [FIRING] device pos-1 &lt;dev-1&gt; is offline");
    assertThat(firing.path("blocks").get(0).path("type").asText()).isEqualTo("section");
    assertThat(firing.path("blocks").get(0).path("text").path("text").asText())
        .contains("no contact &amp; more");
    assertThat(firing.path("blocks").get(1).path("elements").get(0).path("text").asText())
        .contains("site-down")
        .contains("critical");
    JsonNode resolved = body(ReceiverFormat.SLACK, notice("resolved", ENDS));
    assertThat(resolved.path("text").asText()).startsWith(":white_check_mark: [RESOLVED]");
  }

  @Test
  void alertmanagerIsTheVersion4WebhookBody() throws Exception {
    JsonNode firing = body(ReceiverFormat.ALERTMANAGER, notice("firing", null));
    assertThat(firing.path("version").asText()).isEqualTo("4");
    assertThat(firing.path("status").asText()).isEqualTo("firing");
    assertThat(firing.path("receiver").asText()).isEqualTo("ops");
    assertThat(firing.path("groupLabels").path("alertname").asText()).isEqualTo("site-down");
    assertThat(firing.path("commonLabels").path("severity").asText()).isEqualTo("critical");
    assertThat(firing.path("externalURL").asText()).isEqualTo("https://ctl.test:7443");
    assertThat(firing.path("truncatedAlerts").asInt()).isZero();
    JsonNode alert = firing.path("alerts").get(0);
    assertThat(firing.path("alerts")).hasSize(1);
    assertThat(alert.path("status").asText()).isEqualTo("firing");
    assertThat(alert.path("labels").path("alertname").asText()).isEqualTo("site-down");
    assertThat(alert.path("annotations").path("summary").asText()).contains("is offline");
    assertThat(alert.path("startsAt").asText()).isEqualTo("2026-11-23T10:00:00Z");
    assertThat(alert.path("endsAt").asText()).isEqualTo("0001-01-01T00:00:00Z");
    assertThat(alert.path("fingerprint").asText()).isEqualTo("0123456789abcdef");
    assertThat(alert.path("generatorURL").asText()).startsWith("https://ctl.test:7443/");
    JsonNode resolved = body(ReceiverFormat.ALERTMANAGER, notice("resolved", ENDS));
    assertThat(resolved.path("status").asText()).isEqualTo("resolved");
    assertThat(resolved.path("alerts").get(0).path("endsAt").asText())
        .isEqualTo("2026-11-23T10:30:00Z");
  }
}
