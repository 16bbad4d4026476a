package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.TypeConversionException;

/** Rendering of the event log and validation of its options; the input is the API's JSON. */
class EventsCommandTest {
  static final String EVENTS =
      "[{\"id\":\"controller:aud-1\",\"at\":\"2026-11-23T01:00:10Z\",\"source\":\"controller\","
          + "\"kind\":\"device.approve\",\"deviceId\":\"dev-1\",\"message\":\"device.approve dev-1"
          + " by admin\"},"
          + "{\"id\":\"rollout:re-1\",\"at\":\"2026-11-23T01:00:24Z\",\"source\":\"rollout\","
          + "\"kind\":\"CREATED\",\"message\":\"rollout ro-1 of pos (2.0): created\"},"
          + "{\"id\":\"device:e1\",\"at\":\"2026-11-23T01:00:30Z\",\"source\":\"device\","
          + "\"kind\":\"desired-state-bad-signature\",\"deviceId\":\"dev-1\","
          + "\"message\":\"bad\\nsignature\"}]";

  @Test
  void tableShowsTimeDeviceSourceKindAndMessageInOrder() {
    assertThat(EventsCommand.table(json(EVENTS), true).lines())
        .containsExactly(
            "TIME                  DEVICE  SOURCE      KIND                         MESSAGE",
            "2026-11-23T01:00:10Z  dev-1   controller  device.approve               device.approve"
                + " dev-1 by admin",
            "2026-11-23T01:00:24Z  -       rollout     CREATED                      rollout ro-1 of"
                + " pos (2.0): created",
            "2026-11-23T01:00:30Z  dev-1   device      desired-state-bad-signature  bad?signature");
    assertThat(EventsCommand.table(json(EVENTS), false).lines())
        .hasSize(3)
        .first()
        .asString()
        .startsWith("2026-11-23T01:00:10Z");
  }

  @Test
  void aDeviceTimeTheControllerDidNotBelieveIsShownWithTheMessage() {
    String skewed =
        "[{\"id\":\"device:e2\",\"at\":\"2026-11-23T01:00:30Z\",\"source\":\"device\","
            + "\"kind\":\"forged\",\"deviceId\":\"dev-1\",\"message\":\"hello\","
            + "\"deviceAt\":\"9999-12-31T23:00:00Z\"}]";
    assertThat(EventsCommand.table(json(skewed), false))
        .contains("hello (device clock said 9999-12-31T23:00:00Z)");
  }

  @Test
  void sinceIsAPositiveDurationOrATime() {
    EventsCommand.Since since = new EventsCommand.Since();
    assertThat(since.convert(" 90m ")).isEqualTo("90m");
    assertThat(since.convert("2026-11-23T01:00:00Z")).isEqualTo("2026-11-23T01:00:00Z");
    assertThatThrownBy(() -> since.convert("yesterday"))
        .isInstanceOf(TypeConversionException.class)
        .hasMessageContaining("'yesterday' is neither a duration");
    assertThatThrownBy(() -> since.convert("0s")).isInstanceOf(TypeConversionException.class);
  }

  @Test
  void badOptionsAreExitTwo() {
    Cli.Result r = Cli.run("events", "--since", "last week");
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("'last week' is neither a duration");
    assertThat(Cli.run("events", "--limit", "5000").exitCode()).isEqualTo(2);
  }

  private static JsonNode json(String text) {
    try {
      return Json.mapper().readTree(text);
    } catch (Exception e) {
      throw new AssertionError(text, e);
    }
  }
}
